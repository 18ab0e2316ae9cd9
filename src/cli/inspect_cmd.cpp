#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::cli {

namespace {

int RunInspect(const std::string& path, bool tensors) {
  auto files = loader::ModelFiles::Open(path);
  if (!files.ok()) {
    std::fprintf(stderr, "error: %s\n", files.status().message().c_str());
    return 1;
  }
  const loader::ModelConfig& c = (*files)->config();
  std::printf("path          %s\nformat        %s\narchitecture  %s\n", path.c_str(), (*files)->format().c_str(), loader::ArchitectureName(c.arch));
  std::printf("hidden        %lld\nlayers        %lld\nheads         %lld (kv %lld, head_dim %lld)\nintermediate  %lld\nvocab         %lld\n",
              (long long)c.hidden_size, (long long)c.num_layers, (long long)c.num_heads, (long long)c.num_kv_heads, (long long)c.head_dim,
              (long long)c.intermediate_size, (long long)c.vocab_size);
  std::printf("max_pos       %lld\nrope_theta    %g (rotary dim %lld)\ntied          %s\nsliding       %lld\n",
              (long long)c.max_position_embeddings, c.rope.theta, (long long)c.rotary_dim(), c.tie_word_embeddings ? "yes" : "no",
              (long long)c.sliding_window);
  std::map<std::string, int64_t> by_dtype;
  uint64_t file_bytes = 0;
  for (const auto& [name, t] : (*files)->tensors()) {
    by_dtype[loader::DTypeName(t->dtype)] += t->numel();
    file_bytes += t->nbytes;
  }
  std::printf("dtypes       ");
  for (const auto& [d, n] : by_dtype) std::printf(" %s:%lld", d.c_str(), (long long)n);
  std::printf("\ntensor bytes  %.1f MiB in file\n", file_bytes / 1048576.0);
  auto model = model::Model::Load(**files);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().message().c_str());
    return 1;
  }
  std::printf("parameters    %lld\nweight memory %.1f MiB resident after load\n", (long long)(*model)->num_parameters(),
              (*model)->weight_bytes() / 1048576.0);
  if (tensors) {
    for (const auto& [name, t] : (*files)->tensors())
      std::printf("  %-60s %-5s %s\n", name.c_str(), loader::DTypeName(t->dtype), t->ShapeString().c_str());
  }
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto tensors = std::make_shared<bool>(true);
  CLI::App* cmd = app.add_subcommand("inspect", "Architecture, parameters, dtypes, memory and tensor list of a model");
  cmd->add_option("--model", *path, "Model directory or .gguf file")->required();
  cmd->add_flag("--tensors,!--no-tensors", *tensors, "List every tensor");
  cmd->callback([path, tensors] {
    int rc = RunInspect(*path, *tensors);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
