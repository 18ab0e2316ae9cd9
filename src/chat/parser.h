#pragma once
// Parser: tokens -> statement tree, following jinja2/parser.py's grammar and precedence.

#include <string_view>

#include "chat/ast.h"

namespace pagoda::chat {

// Throws TemplateError (kSyntax, or kUnsupported for tags this interpreter lacks).
Body ParseTemplate(std::string_view source);

}  // namespace pagoda::chat
