#pragma once
// Names of the filters and tests this interpreter implements, so that the parser can
// refuse a template that uses another one (as jinja2 does at compile time).

#include <string_view>

namespace pagoda::chat {

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

}  // namespace pagoda::chat
