#pragma once
// The `pagoda bench` subcommands (one file each) and what they share.

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "loader/dtype.h"

namespace pagoda::backend {
struct Matrix;
}
namespace pagoda::model {
class Model;
}
namespace pagoda::tokenizer {
class Tokenizer;
}

namespace pagoda::cli {

void AddBenchRooflineCommand(CLI::App* bench);
void AddBenchLatencyCommand(CLI::App* bench);
void AddBenchPerplexityCommand(CLI::App* bench);
void AddBenchThroughputCommand(CLI::App* bench);
void AddBenchServeCommand(CLI::App* bench);
void AddBenchTokenizerCommand(CLI::App* bench);

int BenchFail(const Status& s);
// /proc/loadavg's first three fields: other work on the machine skews every figure.
std::string LoadAverage();
Status WriteJsonFile(const std::string& path, const nlohmann::json& j);

// The format the model's layer matrices are stored in after load, as a
// roofline row name ("fp32", "bf16", "fp16", or the loader's name).
loader::DType ModelWeightDType(const model::Model& m);
const char* FormatName(loader::DType t);
// The model's largest per-layer matrix (the MLP up projection), to time its own kernel path.
const backend::Matrix& ModelProbeMatrix(const model::Model& m);

// A tokenizer from a tokenizer.json file, a directory holding one, a .gguf file's
// vocabulary, or a directory holding exactly one .gguf.
Result<std::unique_ptr<tokenizer::Tokenizer>> LoadBenchTokenizer(const std::string& path);

}  // namespace pagoda::cli
