#include "loader/weights.h"

#include <dirent.h>
#include <sys/stat.h>

#include <regex>

namespace pagoda::loader {

namespace {

bool IsDirectory(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> ListGguf(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (EndsWith(n, ".gguf")) out.push_back(dir + "/" + n);
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

std::string GgufToHfName(Architecture arch, const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  static const std::regex kBlock(R"(blk\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(g, m, kBlock)) return "";
  const std::string layer = "model.layers." + m[1].str() + ".";
  const std::string rest = m[2].str();
  const bool gemma = arch == Architecture::kGemma3;
  static const std::map<std::string, std::string> kCommon = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_output.bias", "self_attn.o_proj.bias"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (gemma) {
    if (rest == "post_attention_norm.weight") return layer + "post_attention_layernorm.weight";
    if (rest == "ffn_norm.weight") return layer + "pre_feedforward_layernorm.weight";
    if (rest == "post_ffw_norm.weight") return layer + "post_feedforward_layernorm.weight";
  } else if (rest == "ffn_norm.weight") {
    return layer + "post_attention_layernorm.weight";
  }
  auto it = kCommon.find(rest);
  return it == kCommon.end() ? "" : layer + it->second;
}

Result<std::unique_ptr<ModelFiles>> ModelFiles::Open(const std::string& path) {
  auto mf = std::unique_ptr<ModelFiles>(new ModelFiles());
  mf->path_ = path;
  std::string gguf_path;
  if (IsDirectory(path)) {
    if (!FileExists(path + "/config.json")) {
      auto ggufs = ListGguf(path);
      if (ggufs.size() == 1) gguf_path = ggufs[0];
      else if (ggufs.empty()) return NotFound(path + ": no config.json and no .gguf file in this directory");
      else return InvalidArgument(path + ": several .gguf files here; pass the one to load");
    }
  } else if (FileExists(path)) {
    if (!EndsWith(path, ".gguf")) return InvalidArgument(path + ": not a directory and not a .gguf file");
    gguf_path = path;
  } else {
    return NotFound(path + ": no such file or directory");
  }

  if (!gguf_path.empty()) {
    PAGODA_ASSIGN_OR_RETURN(mf->gguf_, GgufFile::Open(gguf_path));
    PAGODA_ASSIGN_OR_RETURN(mf->config_, ModelConfigFromGguf(*mf->gguf_));
    PAGODA_RETURN_IF_ERROR(mf->IndexGguf());
    GenerationConfig gen;
    gen.eos_token_ids = mf->config_.eos_token_ids;
    gen.bos_token_id = mf->config_.bos_token_id;
    mf->generation_config_ = gen;
    return mf;
  }

  PAGODA_ASSIGN_OR_RETURN(std::string cfg_text, ReadTextFile(path + "/config.json"));
  PAGODA_ASSIGN_OR_RETURN(mf->config_, ParseModelConfig(cfg_text, path + "/config.json"));
  const std::string gen_path = path + "/generation_config.json";
  if (FileExists(gen_path)) {
    PAGODA_ASSIGN_OR_RETURN(std::string gen_text, ReadTextFile(gen_path));
    PAGODA_ASSIGN_OR_RETURN(mf->generation_config_, ParseGenerationConfig(gen_text, gen_path));
  }
  PAGODA_ASSIGN_OR_RETURN(mf->safetensors_, SafetensorsModel::OpenDirectory(path));
  mf->tensors_ = mf->safetensors_->tensors();
  return mf;
}

Status ModelFiles::IndexGguf() {
  gguf_views_.reserve(gguf_->tensors().size());
  const bool llama_permuted = gguf_->GetString("general.architecture").value_or("") == "llama";
  for (const TensorView& t : gguf_->tensors()) {
    std::string hf = GgufToHfName(config_.arch, t.name);
    if (hf.empty()) continue;  // e.g. rope_freqs: recomputed from the config
    TensorView v = t;
    v.name = hf;
    if (llama_permuted) {
      if (t.name.find(".attn_q.") != std::string::npos) v.unpermute_heads = static_cast<int>(config_.num_heads);
      if (t.name.find(".attn_k.") != std::string::npos) v.unpermute_heads = static_cast<int>(config_.num_kv_heads);
    }
    if (config_.norm_weight_offset && t.name.find("norm.weight") != std::string::npos) v.value_offset = -1.0f;
    gguf_views_.push_back(std::move(v));
  }
  for (const TensorView& v : gguf_views_) tensors_[v.name] = &v;
  return Status::Ok();
}

const TensorView* ModelFiles::Find(const std::string& hf_name) const {
  auto it = tensors_.find(hf_name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::string ModelFiles::format() const { return gguf_ ? "gguf" : "safetensors"; }

}  // namespace pagoda::loader
