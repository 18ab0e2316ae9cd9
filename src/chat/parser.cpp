#include "chat/parser.h"

#include <initializer_list>

#include "chat/builtins.h"
#include "chat/lexer.h"
#include "chat/template_error.h"

namespace pagoda::chat {
namespace {

ExprPtr MakeExpr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body ParseAll() {
    std::string end;
    Body body = ParseBody({}, &end);
    return body;
  }

 private:
  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Peek(size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  void Next() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool IsOp(const char* op) const { return Cur().type == TokenType::kOperator && Cur().value == op; }
  bool IsName(const char* name) const { return Cur().type == TokenType::kName && Cur().value == name; }
  bool SkipOp(const char* op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool SkipName(const char* name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }

  [[noreturn]] void Fail(const std::string& msg) const { throw TemplateError(ErrorKind::kSyntax, msg, Cur().line); }

  std::string Describe(const Token& t) const {
    switch (t.type) {
      case TokenType::kEof: return "end of template";
      case TokenType::kBlockEnd: return "end of statement block";
      case TokenType::kVariableEnd: return "end of print statement";
      case TokenType::kData: return "template data";
      default: return "'" + t.value + "'";
    }
  }

  void ExpectOp(const char* op) {
    if (!SkipOp(op)) Fail(std::string("expected '") + op + "', got " + Describe(Cur()));
  }
  std::string ExpectName() {
    if (Cur().type != TokenType::kName) Fail("expected a name, got " + Describe(Cur()));
    std::string n = Cur().value;
    Next();
    return n;
  }
  void ExpectBlockEnd() {
    if (Cur().type != TokenType::kBlockEnd) Fail("expected end of statement block, got " + Describe(Cur()));
    Next();
  }

  // Parses statements until a block tag whose name is in `ends`; consumes that name
  // (not the rest of the tag) and stores it in *end.
  Body ParseBody(std::initializer_list<const char*> ends, std::string* end) {
    Body body;
    while (true) {
      const Token& t = Cur();
      if (t.type == TokenType::kEof) {
        if (ends.size() != 0) {
          std::string expected;
          for (const char* e : ends) expected += std::string(expected.empty() ? "" : " or ") + "'" + e + "'";
          Fail("unexpected end of template, expected " + expected);
        }
        return body;
      }
      if (t.type == TokenType::kData) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        Next();
      } else if (t.type == TokenType::kVariableBegin) {
        Next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = t.line;
        s->expr = ParseTuple(true);
        if (Cur().type != TokenType::kVariableEnd) Fail("expected end of print statement, got " + Describe(Cur()));
        Next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        Next();
        if (Cur().type != TokenType::kName) Fail("tag name expected");
        for (const char* e : ends) {
          if (Cur().value == e) {
            *end = e;
            Next();
            return body;
          }
        }
        body.push_back(ParseStatement());
      } else {
        Fail("unexpected " + Describe(t));
      }
    }
  }

  StmtPtr NewStmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  StmtPtr ParseStatement() {
    int line = Cur().line;
    std::string tag = Cur().value;
    Next();
    std::string end;
    if (tag == "if") {
      auto s = NewStmt(StmtKind::kIf, line);
      ExprPtr cond = ParseTuple(true);
      while (true) {
        ExpectBlockEnd();
        Body b = ParseBody({"elif", "else", "endif"}, &end);
        s->branches.emplace_back(std::move(cond), std::move(b));
        if (end == "elif") {
          cond = ParseTuple(true);
          continue;
        }
        if (end == "else") {
          ExpectBlockEnd();
          s->else_body = ParseBody({"endif"}, &end);
        }
        break;
      }
      ExpectBlockEnd();
      return s;
    }
    if (tag == "for") {
      auto s = NewStmt(StmtKind::kFor, line);
      bool paren = SkipOp("(");
      s->targets.push_back(ExpectName());
      while (SkipOp(",")) {
        s->unpack = true;
        if (IsName("in") || IsOp(")")) break;
        s->targets.push_back(ExpectName());
      }
      if (paren) {
        s->unpack = true;
        ExpectOp(")");
      }
      if (!SkipName("in")) Fail("expected 'in', got " + Describe(Cur()));
      s->expr = ParseTuple(false);
      if (SkipName("if")) s->cond = ParseExpression(true);
      if (IsName("recursive")) throw TemplateError(ErrorKind::kUnsupported, "recursive for loops are not supported", line);
      ExpectBlockEnd();
      s->body = ParseBody({"endfor", "else"}, &end);
      if (end == "else") {
        ExpectBlockEnd();
        s->else_body = ParseBody({"endfor"}, &end);
      }
      ExpectBlockEnd();
      return s;
    }
    if (tag == "set") {
      ExprPtr target = ParseAssignTarget();
      if (SkipOp("=")) {
        auto s = NewStmt(StmtKind::kSet, line);
        s->target = std::move(target);
        s->expr = ParseTuple(true);
        ExpectBlockEnd();
        return s;
      }
      auto s = NewStmt(StmtKind::kSetBlock, line);
      s->target = std::move(target);
      while (IsOp("|")) s->filters.push_back(ParseOneFilter(nullptr));
      ExpectBlockEnd();
      s->body = ParseBody({"endset"}, &end);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "macro") {
      auto s = NewStmt(StmtKind::kMacro, line);
      s->name = ExpectName();
      ParseSignature(s->params);
      ExpectBlockEnd();
      s->body = ParseBody({"endmacro"}, &end);
      if (Cur().type == TokenType::kName) Next();  // {% endmacro name %}
      ExpectBlockEnd();
      return s;
    }
    if (tag == "call") {
      auto s = NewStmt(StmtKind::kCallBlock, line);
      if (IsOp("(")) ParseSignature(s->params);
      s->expr = ParseExpression(true);
      if (s->expr->kind != ExprKind::kCall) Fail("expected call");
      ExpectBlockEnd();
      s->body = ParseBody({"endcall"}, &end);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "filter") {
      auto s = NewStmt(StmtKind::kFilterBlock, line);
      s->filters.push_back(ParseOneFilter(nullptr, /*start_inline=*/true));
      while (IsOp("|")) s->filters.push_back(ParseOneFilter(nullptr));
      ExpectBlockEnd();
      s->body = ParseBody({"endfilter"}, &end);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "with") {
      auto s = NewStmt(StmtKind::kWith, line);
      while (Cur().type != TokenType::kBlockEnd) {
        if (!s->params.empty()) ExpectOp(",");
        std::string n = ExpectName();
        ExpectOp("=");
        s->params.emplace_back(n, ParseExpression(true));
      }
      ExpectBlockEnd();
      s->body = ParseBody({"endwith"}, &end);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "generation") {
      // transformers' AssistantTracker extension: renders its body unchanged.
      auto s = NewStmt(StmtKind::kScope, line);
      ExpectBlockEnd();
      s->body = ParseBody({"endgeneration"}, &end);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "print") {
      auto s = NewStmt(StmtKind::kOutput, line);
      s->expr = ParseTuple(true);
      ExpectBlockEnd();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      auto s = NewStmt(tag == "break" ? StmtKind::kBreak : StmtKind::kContinue, line);
      ExpectBlockEnd();
      return s;
    }
    static const char* kUnsupportedTags[] = {"extends", "block", "include", "import", "from", "autoescape", "trans",
                                             "do"};
    for (const char* u : kUnsupportedTags) {
      if (tag == u) throw TemplateError(ErrorKind::kUnsupported, "the '" + tag + "' tag is not supported", line);
    }
    throw TemplateError(ErrorKind::kSyntax, "Encountered unknown tag '" + tag + "'.", line);
  }

  void ParseSignature(std::vector<std::pair<std::string, ExprPtr>>& params) {
    ExpectOp("(");
    while (!IsOp(")")) {
      if (!params.empty()) ExpectOp(",");
      if (IsOp(")")) break;
      std::string n = ExpectName();
      ExprPtr def;
      if (SkipOp("=")) def = ParseExpression(true);
      params.emplace_back(n, std::move(def));
    }
    ExpectOp(")");
  }

  ExprPtr ParseAssignTarget() {
    int line = Cur().line;
    std::string n = ExpectName();
    if (SkipOp(".")) {
      auto e = MakeExpr(ExprKind::kGetAttr, line);
      auto base = MakeExpr(ExprKind::kName, line);
      base->name = n;
      e->args.push_back(std::move(base));
      e->name = ExpectName();
      return e;
    }
    auto first = MakeExpr(ExprKind::kName, line);
    first->name = n;
    if (!IsOp(",")) return first;
    auto tuple = MakeExpr(ExprKind::kTuple, line);
    tuple->args.push_back(std::move(first));
    while (SkipOp(",")) {
      if (IsOp("=")) break;
      auto item = MakeExpr(ExprKind::kName, Cur().line);
      item->name = ExpectName();
      tuple->args.push_back(std::move(item));
    }
    return tuple;
  }

  bool AtTupleEnd() const {
    const Token& t = Cur();
    if (t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd || t.type == TokenType::kEof) return true;
    if (t.type == TokenType::kOperator && (t.value == ")" || t.value == "]" || t.value == "=")) return true;
    return t.type == TokenType::kName && (t.value == "in" || t.value == "if" || t.value == "recursive");
  }

  // A comma-separated list of expressions: one expression, or a tuple.
  ExprPtr ParseTuple(bool with_condexpr, bool explicit_parens = false) {
    int line = Cur().line;
    std::vector<ExprPtr> items;
    bool trailing_comma = false;
    while (true) {
      if (!items.empty()) {
        if (!SkipOp(",")) break;
        trailing_comma = true;
        if (AtTupleEnd()) break;
      }
      if (explicit_parens && items.empty() && IsOp(")")) break;
      items.push_back(ParseExpression(with_condexpr));
      trailing_comma = false;
      if (!IsOp(",")) break;
    }
    if (items.size() == 1 && !trailing_comma) return std::move(items[0]);
    if (items.empty() && !explicit_parens) Fail("expected an expression, got " + Describe(Cur()));
    auto t = MakeExpr(ExprKind::kTuple, line);
    t->args = std::move(items);
    return t;
  }

  ExprPtr ParseExpression(bool with_condexpr) { return with_condexpr ? ParseCondExpr() : ParseOr(); }

  ExprPtr ParseCondExpr() {
    ExprPtr expr1 = ParseOr();
    while (IsName("if")) {
      int line = Cur().line;
      Next();
      ExprPtr cond = ParseOr();
      ExprPtr else_expr;
      if (SkipName("else")) else_expr = ParseCondExpr();
      auto e = MakeExpr(ExprKind::kCondExpr, line);
      e->args.push_back(std::move(cond));
      e->args.push_back(std::move(expr1));
      e->args.push_back(std::move(else_expr));
      expr1 = std::move(e);
    }
    return expr1;
  }

  ExprPtr Binary(ExprKind kind, ExprPtr a, ExprPtr b, int line, std::string op = "") {
    auto e = MakeExpr(kind, line);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (IsName("or")) {
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kOr, std::move(left), ParseAnd(), line);
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (IsName("and")) {
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kAnd, std::move(left), ParseNot(), line);
    }
    return left;
  }

  ExprPtr ParseNot() {
    if (IsName("not")) {
      int line = Cur().line;
      Next();
      auto e = MakeExpr(ExprKind::kNot, line);
      e->args.push_back(ParseNot());
      return e;
    }
    return ParseCompare();
  }

  ExprPtr ParseCompare() {
    int line = Cur().line;
    ExprPtr first = ParseMath1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      const Token& t = Cur();
      if (t.type == TokenType::kOperator &&
          (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" || t.value == ">" || t.value == ">=")) {
        op = t.value;
        Next();
      } else if (IsName("in")) {
        op = "in";
        Next();
      } else if (IsName("not") && Peek().type == TokenType::kName && Peek().value == "in") {
        op = "notin";
        Next();
        Next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = MakeExpr(ExprKind::kCompare, line);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(ParseMath1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr ParseMath1() {
    ExprPtr left = ParseConcat();
    while (IsOp("+") || IsOp("-")) {
      std::string op = Cur().value;
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kBinary, std::move(left), ParseConcat(), line, op);
    }
    return left;
  }

  ExprPtr ParseConcat() {
    ExprPtr left = ParseMath2();
    while (IsOp("~")) {
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kBinary, std::move(left), ParseMath2(), line, "~");
    }
    return left;
  }

  ExprPtr ParseMath2() {
    ExprPtr left = ParsePow();
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Cur().value;
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kBinary, std::move(left), ParsePow(), line, op);
    }
    return left;
  }

  ExprPtr ParsePow() {
    ExprPtr left = ParseUnary(true);
    while (IsOp("**")) {
      int line = Cur().line;
      Next();
      left = Binary(ExprKind::kBinary, std::move(left), ParseUnary(true), line, "**");
    }
    return left;
  }

  ExprPtr ParseUnary(bool with_filter) {
    int line = Cur().line;
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      bool neg = IsOp("-");
      Next();
      node = MakeExpr(neg ? ExprKind::kNeg : ExprKind::kPos, line);
      node->args.push_back(ParseUnary(false));
    } else {
      node = ParsePrimary();
    }
    node = ParsePostfix(std::move(node));
    if (with_filter) node = ParseFilterExpr(std::move(node));
    return node;
  }

  ExprPtr ParsePrimary() {
    const Token& t = Cur();
    int line = t.line;
    if (t.type == TokenType::kName) {
      auto e = MakeExpr(ExprKind::kLiteral, line);
      if (t.value == "true" || t.value == "True") {
        e->literal = Value::Bool(true);
      } else if (t.value == "false" || t.value == "False") {
        e->literal = Value::Bool(false);
      } else if (t.value == "none" || t.value == "None") {
        e->literal = Value::None();
      } else {
        e->kind = ExprKind::kName;
        e->name = t.value;
      }
      Next();
      return e;
    }
    if (t.type == TokenType::kString) {
      std::string s = t.value;
      Next();
      while (Cur().type == TokenType::kString) {
        s += Cur().value;
        Next();
      }
      auto e = MakeExpr(ExprKind::kLiteral, line);
      e->literal = Value::String(std::move(s));
      return e;
    }
    if (t.type == TokenType::kInteger || t.type == TokenType::kFloat) {
      auto e = MakeExpr(ExprKind::kLiteral, line);
      e->literal = t.type == TokenType::kInteger ? Value::Int(t.int_value) : Value::Float(t.float_value);
      Next();
      return e;
    }
    if (SkipOp("(")) {
      ExprPtr e = ParseTuple(true, true);
      ExpectOp(")");
      return e;
    }
    if (SkipOp("[")) {
      auto e = MakeExpr(ExprKind::kList, line);
      while (!IsOp("]")) {
        if (!e->args.empty()) ExpectOp(",");
        if (IsOp("]")) break;
        e->args.push_back(ParseExpression(true));
      }
      ExpectOp("]");
      return e;
    }
    if (SkipOp("{")) {
      auto e = MakeExpr(ExprKind::kDict, line);
      while (!IsOp("}")) {
        if (!e->args.empty()) ExpectOp(",");
        if (IsOp("}")) break;
        e->args.push_back(ParseExpression(true));
        ExpectOp(":");
        e->args.push_back(ParseExpression(true));
      }
      ExpectOp("}");
      return e;
    }
    Fail("unexpected " + Describe(t));
  }

  ExprPtr ParsePostfix(ExprPtr node) {
    while (true) {
      int line = Cur().line;
      if (SkipOp(".")) {
        if (Cur().type == TokenType::kName) {
          auto e = MakeExpr(ExprKind::kGetAttr, line);
          e->args.push_back(std::move(node));
          e->name = Cur().value;
          Next();
          node = std::move(e);
        } else if (Cur().type == TokenType::kInteger) {
          auto e = MakeExpr(ExprKind::kGetItem, line);
          e->args.push_back(std::move(node));
          auto k = MakeExpr(ExprKind::kLiteral, line);
          k->literal = Value::Int(Cur().int_value);
          e->args.push_back(std::move(k));
          Next();
          node = std::move(e);
        } else {
          Fail("expected name or number");
        }
      } else if (SkipOp("[")) {
        node = ParseSubscript(std::move(node), line);
        ExpectOp("]");
      } else if (IsOp("(")) {
        node = ParseCall(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr ParseSubscript(ExprPtr obj, int line) {
    ExprPtr start;
    if (!IsOp(":")) {
      start = ParseExpression(true);
      if (!IsOp(":")) {
        auto e = MakeExpr(ExprKind::kGetItem, line);
        e->args.push_back(std::move(obj));
        e->args.push_back(std::move(start));
        return e;
      }
    }
    Next();  // ':'
    auto e = MakeExpr(ExprKind::kSlice, line);
    e->args.push_back(std::move(obj));
    e->args.push_back(std::move(start));
    ExprPtr stop, step;
    if (!IsOp(":") && !IsOp("]") && !IsOp(",")) stop = ParseExpression(true);
    if (SkipOp(":")) {
      if (!IsOp("]") && !IsOp(",")) step = ParseExpression(true);
    }
    e->args.push_back(std::move(stop));
    e->args.push_back(std::move(step));
    return e;
  }

  // Parses "( args )" into e (whose args[0] is already the callee / subject).
  void ParseCallArgs(Expr& e) {
    ExpectOp("(");
    bool first = true;
    while (!IsOp(")")) {
      if (!first) {
        ExpectOp(",");
        if (IsOp(")")) break;
      }
      first = false;
      if (SkipOp("*")) {
        e.dyn_args = ParseExpression(true);
      } else if (SkipOp("**")) {
        e.dyn_kwargs = ParseExpression(true);
      } else if (Cur().type == TokenType::kName && Peek().type == TokenType::kOperator && Peek().value == "=") {
        std::string key = Cur().value;
        Next();
        Next();
        e.kwargs.emplace_back(key, ParseExpression(true));
      } else {
        e.args.push_back(ParseExpression(true));
      }
    }
    ExpectOp(")");
  }

  ExprPtr ParseCall(ExprPtr callee) {
    auto e = MakeExpr(ExprKind::kCall, Cur().line);
    e->args.push_back(std::move(callee));
    ParseCallArgs(*e);
    return e;
  }

  ExprPtr ParseOneFilter(ExprPtr subject, bool start_inline = false) {
    if (!start_inline) ExpectOp("|");
    auto e = MakeExpr(ExprKind::kFilter, Cur().line);
    e->name = ExpectName();
    while (SkipOp(".")) e->name += "." + ExpectName();
    if (!IsKnownFilter(e->name))
      throw TemplateError(ErrorKind::kUnsupported, "unsupported filter '" + e->name + "'", e->line);
    e->args.push_back(std::move(subject));
    if (IsOp("(")) ParseCallArgs(*e);
    return e;
  }

  ExprPtr ParseFilterExpr(ExprPtr node) {
    while (true) {
      if (IsOp("|")) {
        node = ParseOneFilter(std::move(node));
      } else if (IsName("is")) {
        node = ParseTest(std::move(node));
      } else if (IsOp("(")) {
        node = ParseCall(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr ParseTest(ExprPtr node) {
    int line = Cur().line;
    Next();  // 'is'
    bool negated = SkipName("not");
    auto e = MakeExpr(ExprKind::kTest, line);
    e->name = ExpectName();
    while (SkipOp(".")) e->name += "." + ExpectName();
    if (!IsKnownTest(e->name)) throw TemplateError(ErrorKind::kUnsupported, "unsupported test '" + e->name + "'", line);
    e->negated = negated;
    e->args.push_back(std::move(node));
    const Token& t = Cur();
    if (IsOp("(")) {
      ParseCallArgs(*e);
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString || t.type == TokenType::kInteger ||
                t.type == TokenType::kFloat || IsOp("[") || IsOp("{")) &&
               !(t.type == TokenType::kName && (t.value == "else" || t.value == "or" || t.value == "and"))) {
      if (IsName("is")) Fail("You cannot chain multiple tests with is");
      e->args.push_back(ParsePostfix(ParsePrimary()));
    }
    return e;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

Body ParseTemplate(std::string_view source) { return Parser(Tokenize(source)).ParseAll(); }

}  // namespace pagoda::chat
