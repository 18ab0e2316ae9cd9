#pragma once
// The syntax tree of a parsed template: expressions and statements. Plain data, built by
// Parser and walked by Interpreter; immutable once parsed (so one parsed template can be
// rendered from many threads at once).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace pagoda::chat {

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // args = items
  kTuple,      // args = items
  kDict,       // args = key0, value0, key1, value1 ...
  kGetAttr,    // args[0] . name
  kGetItem,    // args[0] [ args[1] ]
  kSlice,      // args[0] [ args[1] : args[2] : args[3] ], parts may be null
  kCall,       // args[0] ( args[1..], kwargs )
  kFilter,     // args[0] | name ( args[1..], kwargs ); args[0] null inside {% filter %}
  kTest,       // args[0] is [not] name ( args[1..], kwargs )
  kNeg,        // - args[0]
  kPos,        // + args[0]
  kNot,        // not args[0]
  kBinary,     // args[0] name args[1], name in + - * / // % ** ~
  kCompare,    // args[0] ops[0] args[1] ops[1] args[2] ...
  kAnd,        // args[0] and args[1]
  kOr,         // args[0] or args[1]
  kCondExpr,   // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
  ExprPtr dyn_args;    // f(*x)
  ExprPtr dyn_kwargs;  // f(**x)
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (condition, body) ..., else_body
  kFor,          // for targets in expr [if cond]: body, else_body
  kSet,          // set target = expr
  kSetBlock,     // set target [| filters] %} body {% endset
  kMacro,        // macro name(params) body
  kCallBlock,    // call(params) expr: body is the caller
  kFilterBlock,  // filter filters: body
  kWith,         // with params: body (a new scope)
  kScope,        // body rendered as is ({% generation %})
  kBreak,
  kContinue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr target;  // kSet / kSetBlock: kName, kGetAttr (namespace) or kTuple of kName
  ExprPtr cond;    // kFor filter
  std::vector<std::string> targets;  // kFor loop variables
  bool unpack = false;               // kFor: targets were a tuple
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::string name;                                   // kMacro
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro / kCallBlock / kWith; defaults may be null
  std::vector<ExprPtr> filters;                       // kSetBlock / kFilterBlock: kFilter with args[0] null
};

}  // namespace pagoda::chat
