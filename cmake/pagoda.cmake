# Shared build settings and the two helpers every layer uses:
#   pagoda_library(NAME SOURCES ... DEPS ...)   -> target pagoda_<NAME>
#   pagoda_test(NAME SOURCES ... DEPS ...)      -> binary <NAME>_test, registered with ctest
# Test labels come from the GoogleTest suite name: suites starting with Golden are
# labelled `golden`, with Slow `slow`, everything else `unit`.

add_library(pagoda_warnings INTERFACE)
target_compile_options(pagoda_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(PAGODA_WERROR)
  target_compile_options(pagoda_warnings INTERFACE -Werror)
endif()
if(PAGODA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(PAGODA_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

function(pagoda_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(pagoda_${ARG_NAME} STATIC ${ARG_SOURCES})
  target_include_directories(pagoda_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(pagoda_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE pagoda_warnings)
endfunction()

function(pagoda_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  if(NOT PAGODA_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME}_test ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME}_test PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main pagoda_warnings)
  target_compile_definitions(${ARG_NAME}_test PRIVATE
    PAGODA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PAGODA_SHARED_DIR="${PAGODA_SHARED_DIR}")
  add_test(NAME ${ARG_NAME}.unit COMMAND ${ARG_NAME}_test --gtest_filter=-Golden*:Slow*
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${ARG_NAME}.unit PROPERTIES LABELS unit)
  add_test(NAME ${ARG_NAME}.golden COMMAND ${ARG_NAME}_test --gtest_filter=Golden*
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${ARG_NAME}.golden PROPERTIES LABELS golden)
  add_test(NAME ${ARG_NAME}.slow COMMAND ${ARG_NAME}_test --gtest_filter=Slow*
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${ARG_NAME}.slow PROPERTIES LABELS slow)
endfunction()
