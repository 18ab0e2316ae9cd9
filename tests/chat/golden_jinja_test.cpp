// Golden tests, one Jinja feature per case: tests/golden/chat/jinja_cases.json holds small
// templates, the context they were rendered with, and what transformers' jinja2
// environment produced (or the error it raised).

#include <gtest/gtest.h>

#include "chat/interpreter.h"
#include "chat/parser.h"
#include "chat/py_string.h"
#include "golden_util.h"

namespace pagoda::chat {
namespace {

using testing::GoldenDir;
using testing::ReadJson;

// Renders a bare template with a context, as jinja2's Template.render(**ctx) does.
Result<std::string> RenderBare(const std::string& source, const nlohmann::ordered_json& ctx) {
  auto t = ChatTemplate::Parse(source);
  if (!t.ok()) return t.status();
  try {
    Body body = ParseTemplate(source);
    Interpreter in(body, Value::FromJson(ctx), testing::FixedNow);
    return in.Render();
  } catch (const TemplateError& e) {
    return InvalidArgument(e.message());
  }
}

TEST(GoldenJinja, FeatureCases) {
  nlohmann::ordered_json all = ReadJson(GoldenDir() / "jinja_cases.json");
  ASSERT_TRUE(all.is_object());
  int passed = 0, total = 0;
  for (const auto& c : all["cases"]) {
    ++total;
    std::string name = c["name"].get<std::string>();
    auto out = RenderBare(c["template"].get<std::string>(), all["context"]);
    if (c.contains("output")) {
      std::string want = c["output"].get<std::string>();
      if (!out.ok()) {
        ADD_FAILURE() << name << ": expected " << py::Repr(want) << ", got error " << out.status().ToString();
      } else if (*out != want) {
        ADD_FAILURE() << name << ":\n  want " << py::Repr(want) << "\n  got  " << py::Repr(*out);
      } else {
        ++passed;
      }
    } else if (out.ok()) {
      ADD_FAILURE() << name << ": expected " << c["error"] << " (" << c["message"] << "), got " << py::Repr(*out);
    } else if (c["error"] == "raise_exception" &&
               out.status().message().find(c["message"].get<std::string>()) == std::string::npos) {
      ADD_FAILURE() << name << ": expected message " << c["message"] << ", got " << out.status().ToString();
    } else {
      ++passed;
    }
  }
  std::printf("[golden jinja] %d cases: %d passed, %d failed\n", total, passed, total - passed);
  EXPECT_EQ(passed, total);
}

}  // namespace
}  // namespace pagoda::chat
