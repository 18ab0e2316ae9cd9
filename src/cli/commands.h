#pragma once
// Subcommands of the pagoda binary. Only cli/ reads argv and the environment.

#include <CLI/CLI.hpp>

namespace pagoda::cli {

void AddGenerateCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);

}  // namespace pagoda::cli
