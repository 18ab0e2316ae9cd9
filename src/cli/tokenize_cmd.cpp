#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "loader/gguf_file.h"
#include "loader/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

namespace {

Result<std::unique_ptr<tokenizer::Tokenizer>> OpenTokenizer(const std::string& path) {
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) {
    PAGODA_ASSIGN_OR_RETURN(auto g, loader::GgufFile::Open(path));
    return tokenizer::Tokenizer::FromGguf(*g);
  }
  return tokenizer::Tokenizer::FromDirectory(path);
}

}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  struct Opts {
    std::string model, text;
    bool no_special = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids and pieces of a text");
  cmd->add_option("--model", o->model, "Model directory (tokenizer.json) or .gguf file")->required();
  cmd->add_option("text", o->text, "Text to encode")->required();
  cmd->add_flag("--no-special-tokens", o->no_special, "Do not add BOS/EOS (add_special_tokens=False)");
  cmd->callback([o] {
    auto tok = OpenTokenizer(o->model);
    if (!tok.ok()) {
      std::fprintf(stderr, "error: %s\n", tok.status().message().c_str());
      throw CLI::RuntimeError(1);
    }
    std::vector<int32_t> ids = (*tok)->Encode(o->text, !o->no_special);
    std::printf("ids:");
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : " ", ids[i]);
    std::printf("\n%zu tokens\n", ids.size());
    for (int32_t id : ids) std::printf("%8d  %s\n", id, (*tok)->IdToToken(id).c_str());
  });
}

}  // namespace pagoda::cli
