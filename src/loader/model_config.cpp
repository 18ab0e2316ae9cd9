#include "loader/model_config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "loader/gguf_file.h"

namespace pagoda::loader {

using nlohmann::json;

namespace {

// Small typed accessors that name the field on error.
class Fields {
 public:
  Fields(const json& j, const std::string& source) : j_(j), source_(source) {}

  bool Has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  Result<int64_t> Int(const char* key) const {
    if (!Has(key)) return InvalidArgument(source_ + ": missing required field '" + key + "'");
    return IntAt(key);
  }
  Result<int64_t> Int(const char* key, int64_t def) const { return Has(key) ? IntAt(key) : Result<int64_t>(def); }
  Result<double> Num(const char* key, double def) const {
    if (!Has(key)) return def;
    if (!j_[key].is_number()) return InvalidArgument(source_ + ": field '" + key + "' must be a number, got " + j_[key].dump());
    return j_[key].get<double>();
  }
  Result<bool> Bool(const char* key, bool def) const {
    if (!Has(key)) return def;
    if (!j_[key].is_boolean()) return InvalidArgument(source_ + ": field '" + key + "' must be true or false, got " + j_[key].dump());
    return j_[key].get<bool>();
  }
  Result<std::string> Str(const char* key, const std::string& def) const {
    if (!Has(key)) return def;
    if (!j_[key].is_string()) return InvalidArgument(source_ + ": field '" + key + "' must be a string, got " + j_[key].dump());
    return j_[key].get<std::string>();
  }
  const json& operator[](const char* key) const { return j_[key]; }

 private:
  Result<int64_t> IntAt(const char* key) const {
    const json& v = j_[key];
    if (!v.is_number_integer()) return InvalidArgument(source_ + ": field '" + key + "' must be an integer, got " + v.dump());
    return v.get<int64_t>();
  }
  const json& j_;
  const std::string& source_;
};

Result<std::vector<int64_t>> IdList(const json& v, const std::string& source, const char* key) {
  std::vector<int64_t> out;
  if (v.is_null()) return out;
  if (v.is_number_integer()) {
    out.push_back(v.get<int64_t>());
    return out;
  }
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer()) return InvalidArgument(source + ": '" + key + "' must hold integers, got " + e.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  return InvalidArgument(source + ": '" + key + "' must be an integer or a list of integers, got " + v.dump());
}

Result<Activation> ParseActivation(const std::string& name, const std::string& source) {
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast" || name == "gelu_tanh") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "relu") return Activation::kRelu;
  return Unimplemented(source + ": activation '" + name + "' is not supported");
}

// rope_scaling (transformers 4.x) or rope_parameters (5.x).
Status ParseRope(const json& j, const std::string& source, int64_t max_pos, RopeConfig* rope) {
  const json* rs = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) rs = &j["rope_parameters"];
  else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) rs = &j["rope_scaling"];
  if (rs == nullptr) return Status::Ok();
  Fields f(*rs, source);
  PAGODA_ASSIGN_OR_RETURN(std::string type, f.Str("rope_type", ""));
  if (type.empty()) {
    PAGODA_ASSIGN_OR_RETURN(type, f.Str("type", "default"));
  }
  if (f.Has("rope_theta")) {
    PAGODA_ASSIGN_OR_RETURN(rope->theta, f.Num("rope_theta", rope->theta));
  }
  if (f.Has("partial_rotary_factor")) {
    PAGODA_ASSIGN_OR_RETURN(rope->partial_rotary_factor, f.Num("partial_rotary_factor", 1.0));
  }
  PAGODA_ASSIGN_OR_RETURN(rope->factor, f.Num("factor", 1.0));
  PAGODA_ASSIGN_OR_RETURN(rope->original_max_position_embeddings, f.Int("original_max_position_embeddings", max_pos));
  if (type == "default") rope->type = RopeType::kDefault;
  else if (type == "linear") rope->type = RopeType::kLinear;
  else if (type == "dynamic") rope->type = RopeType::kDynamic;
  else if (type == "llama3") {
    rope->type = RopeType::kLlama3;
    PAGODA_ASSIGN_OR_RETURN(rope->low_freq_factor, f.Num("low_freq_factor", 1.0));
    PAGODA_ASSIGN_OR_RETURN(rope->high_freq_factor, f.Num("high_freq_factor", 4.0));
  } else if (type == "yarn") {
    rope->type = RopeType::kYarn;
    PAGODA_ASSIGN_OR_RETURN(rope->beta_fast, f.Num("beta_fast", 32.0));
    PAGODA_ASSIGN_OR_RETURN(rope->beta_slow, f.Num("beta_slow", 1.0));
    if (f.Has("mscale")) { PAGODA_ASSIGN_OR_RETURN(rope->mscale, f.Num("mscale", 1.0)); }
    if (f.Has("mscale_all_dim")) { PAGODA_ASSIGN_OR_RETURN(rope->mscale_all_dim, f.Num("mscale_all_dim", 1.0)); }
    if (f.Has("attention_factor")) { PAGODA_ASSIGN_OR_RETURN(rope->attention_factor, f.Num("attention_factor", 1.0)); }
    PAGODA_ASSIGN_OR_RETURN(rope->truncate, f.Bool("truncate", true));
  } else {
    return Unimplemented(source + ": rope scaling type '" + type + "' is not supported (default, linear, dynamic, llama3, yarn)");
  }
  return Status::Ok();
}

// layer_types ("sliding_attention" / "full_attention") or a sliding_window_pattern.
Status ParseLayerTypes(const json& j, const std::string& source, ModelConfig* c) {
  c->layer_sliding.assign(c->num_layers, false);
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    const json& lt = j["layer_types"];
    if (static_cast<int64_t>(lt.size()) != c->num_layers)
      return InvalidArgument(source + ": layer_types has " + std::to_string(lt.size()) + " entries for " +
                             std::to_string(c->num_layers) + " layers");
    for (size_t i = 0; i < lt.size(); ++i) {
      if (!lt[i].is_string()) return InvalidArgument(source + ": layer_types[" + std::to_string(i) + "] is not a string");
      std::string t = lt[i].get<std::string>();
      if (t == "sliding_attention") c->layer_sliding[i] = c->sliding_window > 0;
      else if (t != "full_attention")
        return Unimplemented(source + ": layer_types[" + std::to_string(i) + "] = '" + t + "' is not supported");
    }
    return Status::Ok();
  }
  if (c->arch == Architecture::kGemma3) {
    int64_t pattern = j.value("sliding_window_pattern", 6);
    for (int64_t i = 0; i < c->num_layers; ++i) c->layer_sliding[i] = c->sliding_window > 0 && ((i + 1) % pattern != 0);
    return Status::Ok();
  }
  for (int64_t i = 0; i < c->num_layers; ++i) c->layer_sliding[i] = c->sliding_window > 0;
  return Status::Ok();
}

Result<json> ParseObject(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return InvalidArgument(source + ": not a JSON object");
  return j;
}

}  // namespace

const char* ArchitectureName(Architecture a) {
  switch (a) {
    case Architecture::kLlama: return "LlamaForCausalLM";
    case Architecture::kMistral: return "MistralForCausalLM";
    case Architecture::kQwen2: return "Qwen2ForCausalLM";
    case Architecture::kQwen3: return "Qwen3ForCausalLM";
    case Architecture::kGpt2: return "GPT2LMHeadModel";
    case Architecture::kGptNeoX: return "GPTNeoXForCausalLM";
    case Architecture::kGemma3: return "Gemma3ForCausalLM";
  }
  return "?";
}

Status ModelConfig::Validate() const {
  auto positive = [](int64_t v, const char* name) -> Status {
    if (v <= 0) return InvalidArgument(std::string("config: ") + name + " must be positive, got " + std::to_string(v));
    return Status::Ok();
  };
  PAGODA_RETURN_IF_ERROR(positive(hidden_size, "hidden_size"));
  PAGODA_RETURN_IF_ERROR(positive(intermediate_size, "intermediate_size"));
  PAGODA_RETURN_IF_ERROR(positive(num_layers, "num_hidden_layers"));
  PAGODA_RETURN_IF_ERROR(positive(num_heads, "num_attention_heads"));
  PAGODA_RETURN_IF_ERROR(positive(num_kv_heads, "num_key_value_heads"));
  PAGODA_RETURN_IF_ERROR(positive(head_dim, "head_dim"));
  PAGODA_RETURN_IF_ERROR(positive(vocab_size, "vocab_size"));
  if (num_heads % num_kv_heads != 0)
    return InvalidArgument("config: num_attention_heads " + std::to_string(num_heads) + " is not a multiple of num_key_value_heads " +
                           std::to_string(num_kv_heads));
  if (rope.type != RopeType::kNone) {
    int64_t rd = rotary_dim();
    if (rd <= 0 || rd % 2 != 0 || rd > head_dim)
      return InvalidArgument("config: rotary dimension " + std::to_string(rd) + " (head_dim x partial_rotary_factor) must be even and <= head_dim");
  }
  if (static_cast<int64_t>(layer_sliding.size()) != num_layers) return Internal("config: layer_sliding not set per layer");
  if (norm_eps <= 0) return InvalidArgument("config: norm epsilon must be positive");
  return Status::Ok();
}

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source) {
  PAGODA_ASSIGN_OR_RETURN(json j, ParseObject(json_text, source));
  // Multimodal wrappers keep the language model under text_config.
  if (j.contains("text_config") && j["text_config"].is_object() && !j.contains("hidden_size")) {
    json t = j["text_config"];
    if (j.contains("architectures")) t["architectures"] = j["architectures"];
    j = t;
  }
  Fields f(j, source);
  ModelConfig c;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() && j["architectures"][0].is_string())
    arch = j["architectures"][0].get<std::string>();
  else
    return InvalidArgument(source + ": missing 'architectures'");
  PAGODA_ASSIGN_OR_RETURN(c.model_type, f.Str("model_type", ""));
  PAGODA_ASSIGN_OR_RETURN(c.torch_dtype, f.Str("torch_dtype", ""));
  if (c.torch_dtype.empty()) { PAGODA_ASSIGN_OR_RETURN(c.torch_dtype, f.Str("dtype", "")); }

  if (arch == "LlamaForCausalLM") c.arch = Architecture::kLlama;
  else if (arch == "MistralForCausalLM") c.arch = Architecture::kMistral;
  else if (arch == "Qwen2ForCausalLM") c.arch = Architecture::kQwen2;
  else if (arch == "Qwen3ForCausalLM") c.arch = Architecture::kQwen3;
  else if (arch == "GPT2LMHeadModel") c.arch = Architecture::kGpt2;
  else if (arch == "GPTNeoXForCausalLM") c.arch = Architecture::kGptNeoX;
  else if (arch == "Gemma3ForCausalLM" || arch == "Gemma3ForConditionalGeneration") c.arch = Architecture::kGemma3;
  else
    return Unimplemented(source + ": architecture '" + arch + "' is not supported. Supported: LlamaForCausalLM, MistralForCausalLM, "
                         "Qwen2ForCausalLM, Qwen3ForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM, Gemma3ForCausalLM");

  if (c.arch == Architecture::kGpt2) {
    PAGODA_ASSIGN_OR_RETURN(c.hidden_size, f.Int("n_embd"));
    PAGODA_ASSIGN_OR_RETURN(c.num_layers, f.Int("n_layer"));
    PAGODA_ASSIGN_OR_RETURN(c.num_heads, f.Int("n_head"));
    c.num_kv_heads = c.num_heads;
    PAGODA_ASSIGN_OR_RETURN(c.intermediate_size, f.Int("n_inner", 4 * c.hidden_size));
    PAGODA_ASSIGN_OR_RETURN(c.max_position_embeddings, f.Int("n_positions", 1024));
    PAGODA_ASSIGN_OR_RETURN(c.vocab_size, f.Int("vocab_size"));
    PAGODA_ASSIGN_OR_RETURN(c.norm_eps, f.Num("layer_norm_epsilon", 1e-5));
    PAGODA_ASSIGN_OR_RETURN(std::string act, f.Str("activation_function", "gelu_new"));
    PAGODA_ASSIGN_OR_RETURN(c.act, ParseActivation(act, source));
    PAGODA_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool("tie_word_embeddings", true));
    PAGODA_ASSIGN_OR_RETURN(bool scale_attn, f.Bool("scale_attn_weights", true));
    PAGODA_ASSIGN_OR_RETURN(bool by_layer, f.Bool("scale_attn_by_inverse_layer_idx", false));
    if (by_layer) return Unimplemented(source + ": scale_attn_by_inverse_layer_idx=true is not supported");
    c.head_dim = c.hidden_size / c.num_heads;
    c.attention_scale = scale_attn ? 1.0 / std::sqrt(static_cast<double>(c.head_dim)) : 1.0;
    c.norm = NormType::kLayerNorm;
    c.gated_mlp = false;
    c.qkv_bias = c.o_bias = c.mlp_bias = true;
    c.learned_positions = true;
    c.rope.type = RopeType::kNone;
  } else {
    PAGODA_ASSIGN_OR_RETURN(c.hidden_size, f.Int("hidden_size"));
    PAGODA_ASSIGN_OR_RETURN(c.intermediate_size, f.Int("intermediate_size"));
    PAGODA_ASSIGN_OR_RETURN(c.num_layers, f.Int("num_hidden_layers"));
    PAGODA_ASSIGN_OR_RETURN(c.num_heads, f.Int("num_attention_heads"));
    PAGODA_ASSIGN_OR_RETURN(c.num_kv_heads, f.Int("num_key_value_heads", c.num_heads));
    PAGODA_ASSIGN_OR_RETURN(c.vocab_size, f.Int("vocab_size"));
    PAGODA_ASSIGN_OR_RETURN(c.max_position_embeddings, f.Int("max_position_embeddings", 2048));
    if (c.num_heads <= 0) return InvalidArgument(source + ": num_attention_heads must be positive");
    PAGODA_ASSIGN_OR_RETURN(c.head_dim, f.Int("head_dim", c.hidden_size / c.num_heads));
    PAGODA_ASSIGN_OR_RETURN(c.rope.theta, f.Num("rope_theta", 10000.0));
    PAGODA_ASSIGN_OR_RETURN(c.sliding_window, f.Int("sliding_window", 0));
  }

  switch (c.arch) {
    case Architecture::kLlama:
    case Architecture::kMistral:
    case Architecture::kQwen2:
    case Architecture::kQwen3: {
      PAGODA_ASSIGN_OR_RETURN(c.norm_eps, f.Num("rms_norm_eps", 1e-6));
      PAGODA_ASSIGN_OR_RETURN(std::string act, f.Str("hidden_act", "silu"));
      PAGODA_ASSIGN_OR_RETURN(c.act, ParseActivation(act, source));
      PAGODA_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool("tie_word_embeddings", false));
      PAGODA_ASSIGN_OR_RETURN(bool attn_bias, f.Bool("attention_bias", false));
      c.qkv_bias = attn_bias || c.arch == Architecture::kQwen2;
      c.o_bias = attn_bias && c.arch != Architecture::kQwen2;
      PAGODA_ASSIGN_OR_RETURN(c.mlp_bias, f.Bool("mlp_bias", false));
      c.qk_norm = c.arch == Architecture::kQwen3;
      if (c.arch == Architecture::kQwen2 || c.arch == Architecture::kQwen3) {
        // Qwen only slides when use_sliding_window is set, and then only from max_window_layers on.
        PAGODA_ASSIGN_OR_RETURN(bool use_sw, f.Bool("use_sliding_window", false));
        if (!use_sw) c.sliding_window = 0;
        else if (!j.contains("layer_types")) return Unimplemented(source + ": Qwen use_sliding_window without layer_types is not supported");
      }
      if (c.arch == Architecture::kLlama) c.sliding_window = 0;
      break;
    }
    case Architecture::kGptNeoX: {
      PAGODA_ASSIGN_OR_RETURN(c.norm_eps, f.Num("layer_norm_eps", 1e-5));
      PAGODA_ASSIGN_OR_RETURN(std::string act, f.Str("hidden_act", "gelu"));
      PAGODA_ASSIGN_OR_RETURN(c.act, ParseActivation(act, source));
      PAGODA_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool("tie_word_embeddings", false));
      PAGODA_ASSIGN_OR_RETURN(c.parallel_residual, f.Bool("use_parallel_residual", true));
      PAGODA_ASSIGN_OR_RETURN(bool attn_bias, f.Bool("attention_bias", true));
      c.qkv_bias = c.o_bias = attn_bias;
      c.mlp_bias = true;
      PAGODA_ASSIGN_OR_RETURN(c.rope.partial_rotary_factor, f.Num("rotary_pct", 1.0));
      if (f.Has("partial_rotary_factor")) { PAGODA_ASSIGN_OR_RETURN(c.rope.partial_rotary_factor, f.Num("partial_rotary_factor", 1.0)); }
      PAGODA_ASSIGN_OR_RETURN(c.rope.theta, f.Num("rotary_emb_base", c.rope.theta));
      if (f.Has("rope_theta")) { PAGODA_ASSIGN_OR_RETURN(c.rope.theta, f.Num("rope_theta", c.rope.theta)); }
      c.norm = NormType::kLayerNorm;
      c.gated_mlp = false;
      c.sliding_window = 0;
      break;
    }
    case Architecture::kGemma3: {
      PAGODA_ASSIGN_OR_RETURN(c.norm_eps, f.Num("rms_norm_eps", 1e-6));
      PAGODA_ASSIGN_OR_RETURN(std::string act, f.Str("hidden_activation", "gelu_pytorch_tanh"));
      PAGODA_ASSIGN_OR_RETURN(c.act, ParseActivation(act, source));
      PAGODA_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool("tie_word_embeddings", true));
      PAGODA_ASSIGN_OR_RETURN(bool attn_bias, f.Bool("attention_bias", false));
      c.qkv_bias = c.o_bias = attn_bias;
      c.qk_norm = true;
      c.norm_weight_offset = true;
      c.sandwich_norms = true;
      c.embedding_scale = std::sqrt(static_cast<double>(c.hidden_size));
      PAGODA_ASSIGN_OR_RETURN(double qpas, f.Num("query_pre_attn_scalar", static_cast<double>(c.head_dim)));
      c.attention_scale = 1.0 / std::sqrt(qpas);
      PAGODA_ASSIGN_OR_RETURN(c.attn_logit_softcapping, f.Num("attn_logit_softcapping", 0.0));
      PAGODA_ASSIGN_OR_RETURN(c.final_logit_softcapping, f.Num("final_logit_softcapping", 0.0));
      PAGODA_ASSIGN_OR_RETURN(double local_base, f.Num("rope_local_base_freq", 10000.0));
      RopeConfig local;
      local.theta = local_base;
      c.rope_local = local;
      break;
    }
    case Architecture::kGpt2: break;
  }
  if (c.rope.type != RopeType::kNone) {
    PAGODA_RETURN_IF_ERROR(ParseRope(j, source, c.max_position_embeddings, &c.rope));
  }
  if (c.arch == Architecture::kGemma3 && j.contains("rope_parameters") && j["rope_parameters"].is_object() &&
      j["rope_parameters"].contains("full_attention")) {
    // transformers 5.x: per-layer-type rope parameters.
    const json& rp = j["rope_parameters"];
    json full = j;
    full["rope_parameters"] = rp["full_attention"];
    PAGODA_RETURN_IF_ERROR(ParseRope(full, source, c.max_position_embeddings, &c.rope));
    if (rp.contains("sliding_attention")) {
      json loc = j;
      loc["rope_parameters"] = rp["sliding_attention"];
      PAGODA_RETURN_IF_ERROR(ParseRope(loc, source, c.max_position_embeddings, &*c.rope_local));
    }
  }
  if (c.sliding_window < 0) return InvalidArgument(source + ": sliding_window must be >= 0");
  PAGODA_RETURN_IF_ERROR(ParseLayerTypes(j, source, &c));
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"].get<int64_t>();
  if (j.contains("eos_token_id")) {
    PAGODA_ASSIGN_OR_RETURN(c.eos_token_ids, IdList(j["eos_token_id"], source, "eos_token_id"));
  }
  PAGODA_RETURN_IF_ERROR(c.Validate().WithContext(source));
  return c;
}

Result<ModelConfig> ModelConfigFromGguf(const GgufFile& g) {
  const std::string& src = g.path();
  auto arch_name = g.GetString("general.architecture");
  if (!arch_name) return DataLoss(src + ": missing general.architecture");
  const std::string a = *arch_name;
  ModelConfig c;
  c.model_type = a;
  if (a == "llama") c.arch = Architecture::kLlama;
  else if (a == "qwen2") c.arch = Architecture::kQwen2;
  else if (a == "qwen3") c.arch = Architecture::kQwen3;
  else if (a == "gemma3") c.arch = Architecture::kGemma3;
  else return Unimplemented(src + ": GGUF architecture '" + a + "' is not supported (llama, qwen2, qwen3, gemma3)");

  auto need_int = [&](const std::string& key) -> Result<int64_t> {
    auto v = g.GetInt(a + "." + key);
    if (!v) return DataLoss(src + ": missing integer metadata " + a + "." + key);
    return *v;
  };
  PAGODA_ASSIGN_OR_RETURN(c.hidden_size, need_int("embedding_length"));
  PAGODA_ASSIGN_OR_RETURN(c.num_layers, need_int("block_count"));
  PAGODA_ASSIGN_OR_RETURN(c.intermediate_size, need_int("feed_forward_length"));
  PAGODA_ASSIGN_OR_RETURN(c.num_heads, need_int("attention.head_count"));
  c.num_kv_heads = g.GetInt(a + ".attention.head_count_kv").value_or(c.num_heads);
  c.max_position_embeddings = g.GetInt(a + ".context_length").value_or(2048);
  if (c.num_heads <= 0) return DataLoss(src + ": attention.head_count must be positive");
  c.head_dim = g.GetInt(a + ".attention.key_length").value_or(c.hidden_size / c.num_heads);
  if (auto vl = g.GetInt(a + ".attention.value_length"); vl && *vl != c.head_dim)
    return Unimplemented(src + ": value_length != key_length is not supported");
  if (auto v = g.GetInt(a + ".vocab_size")) c.vocab_size = *v;
  else if (auto toks = g.GetStringArray("tokenizer.ggml.tokens")) c.vocab_size = static_cast<int64_t>(toks->size());
  else return DataLoss(src + ": neither " + a + ".vocab_size nor tokenizer.ggml.tokens is present");
  c.norm_eps = g.GetFloat(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5);
  c.rope.theta = g.GetFloat(a + ".rope.freq_base").value_or(10000.0);
  if (auto rd = g.GetInt(a + ".rope.dimension_count")) c.rope.partial_rotary_factor = static_cast<double>(*rd) / c.head_dim;
  if (auto st = g.GetString(a + ".rope.scaling.type"); st && *st != "none") {
    if (*st == "linear") c.rope.type = RopeType::kLinear;
    else if (*st == "yarn") c.rope.type = RopeType::kYarn;
    else return Unimplemented(src + ": GGUF rope scaling '" + *st + "' is not supported");
    c.rope.factor = g.GetFloat(a + ".rope.scaling.factor").value_or(1.0);
    c.rope.original_max_position_embeddings = g.GetInt(a + ".rope.scaling.original_context_length").value_or(c.max_position_embeddings);
  }
  c.tie_word_embeddings = g.FindTensor("output.weight") == nullptr;
  c.qkv_bias = g.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.o_bias = g.FindTensor("blk.0.attn_output.bias") != nullptr;
  c.qk_norm = g.FindTensor("blk.0.attn_q_norm.weight") != nullptr;
  c.sliding_window = g.GetInt(a + ".attention.sliding_window").value_or(0);
  c.layer_sliding.assign(c.num_layers, false);
  if (c.arch == Architecture::kGemma3) {
    c.act = Activation::kGeluTanh;
    c.norm_weight_offset = true;
    c.sandwich_norms = true;
    c.embedding_scale = std::sqrt(static_cast<double>(c.hidden_size));
    c.attention_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
    RopeConfig local;
    local.theta = 10000.0;  // llama.cpp and HF both fix Gemma3's local base at 10k
    c.rope_local = local;
    for (int64_t i = 0; i < c.num_layers; ++i) c.layer_sliding[i] = c.sliding_window > 0 && ((i + 1) % 6 != 0);
  } else {
    c.sliding_window = 0;
  }
  if (auto bos = g.GetInt("tokenizer.ggml.bos_token_id")) c.bos_token_id = *bos;
  if (auto eos = g.GetInt("tokenizer.ggml.eos_token_id")) c.eos_token_ids.push_back(*eos);
  if (auto eot = g.GetInt("tokenizer.ggml.eot_token_id"); eot && (c.eos_token_ids.empty() || c.eos_token_ids[0] != *eot))
    c.eos_token_ids.push_back(*eot);
  PAGODA_RETURN_IF_ERROR(c.Validate().WithContext(src));
  return c;
}

Result<GenerationConfig> ParseGenerationConfig(const std::string& json_text, const std::string& source) {
  PAGODA_ASSIGN_OR_RETURN(json j, ParseObject(json_text, source));
  GenerationConfig g;
  Fields f(j, source);
  if (f.Has("bos_token_id")) { PAGODA_ASSIGN_OR_RETURN(g.bos_token_id, f.Int("bos_token_id")); }
  if (f.Has("pad_token_id")) { PAGODA_ASSIGN_OR_RETURN(g.pad_token_id, f.Int("pad_token_id")); }
  if (j.contains("eos_token_id")) { PAGODA_ASSIGN_OR_RETURN(g.eos_token_ids, IdList(j["eos_token_id"], source, "eos_token_id")); }
  if (f.Has("do_sample")) { PAGODA_ASSIGN_OR_RETURN(g.do_sample, f.Bool("do_sample", false)); }
  if (f.Has("temperature")) { PAGODA_ASSIGN_OR_RETURN(g.temperature, f.Num("temperature", 1.0)); }
  if (f.Has("top_p")) { PAGODA_ASSIGN_OR_RETURN(g.top_p, f.Num("top_p", 1.0)); }
  if (f.Has("top_k")) { PAGODA_ASSIGN_OR_RETURN(g.top_k, f.Int("top_k")); }
  if (f.Has("min_p")) { PAGODA_ASSIGN_OR_RETURN(g.min_p, f.Num("min_p", 0.0)); }
  if (f.Has("repetition_penalty")) { PAGODA_ASSIGN_OR_RETURN(g.repetition_penalty, f.Num("repetition_penalty", 1.0)); }
  if (f.Has("max_new_tokens")) { PAGODA_ASSIGN_OR_RETURN(g.max_new_tokens, f.Int("max_new_tokens")); }
  if (f.Has("max_length")) { PAGODA_ASSIGN_OR_RETURN(g.max_length, f.Int("max_length")); }
  return g;
}

}  // namespace pagoda::loader
