#include "model/arch_spec.h"

namespace pagoda::model {

using loader::Architecture;

ArchSpec GetArchSpec(Architecture arch) {
  ArchSpec s;
  switch (arch) {
    case Architecture::kGpt2:
      s.embed = "transformer.wte";
      s.pos_embed = "transformer.wpe";
      s.final_norm = "transformer.ln_f";
      s.lm_head = "lm_head";
      s.layer = "transformer.h.{i}.";
      s.attn_norm = "ln_1";
      s.qkv = "attn.c_attn";
      s.o = "attn.c_proj";
      s.mlp_norm = "ln_2";
      s.up = "mlp.c_fc";
      s.down = "mlp.c_proj";
      s.qkv_storage = QkvStorage::kFusedConv1D;
      s.conv1d = true;
      return s;
    case Architecture::kGptNeoX:
      s.embed = "gpt_neox.embed_in";
      s.final_norm = "gpt_neox.final_layer_norm";
      s.lm_head = "embed_out";
      s.layer = "gpt_neox.layers.{i}.";
      s.attn_norm = "input_layernorm";
      s.qkv = "attention.query_key_value";
      s.o = "attention.dense";
      s.mlp_norm = "post_attention_layernorm";
      s.up = "mlp.dense_h_to_4h";
      s.down = "mlp.dense_4h_to_h";
      s.qkv_storage = QkvStorage::kFusedNeoX;
      return s;
    default: break;
  }
  // Llama family: Llama, Mistral, Qwen2, Qwen3, Gemma3.
  s.embed = "model.embed_tokens";
  s.final_norm = "model.norm";
  s.lm_head = "lm_head";
  s.layer = "model.layers.{i}.";
  s.attn_norm = "input_layernorm";
  s.q = "self_attn.q_proj";
  s.k = "self_attn.k_proj";
  s.v = "self_attn.v_proj";
  s.o = "self_attn.o_proj";
  s.q_norm = "self_attn.q_norm";
  s.k_norm = "self_attn.k_norm";
  s.gate = "mlp.gate_proj";
  s.up = "mlp.up_proj";
  s.down = "mlp.down_proj";
  if (arch == Architecture::kGemma3) {
    s.post_attn_norm = "post_attention_layernorm";
    s.mlp_norm = "pre_feedforward_layernorm";
    s.post_mlp_norm = "post_feedforward_layernorm";
  } else {
    s.mlp_norm = "post_attention_layernorm";
  }
  return s;
}

}  // namespace pagoda::model
