#include <cstdlib>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"pagoda: an LLM serving engine"};
  app.require_subcommand(1);
  pagoda::cli::AddGenerateCommand(app);
  pagoda::cli::AddInspectCommand(app);
  pagoda::cli::AddTokenizeCommand(app);
  pagoda::cli::AddServeCommand(app);
  pagoda::cli::AddBenchCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
