#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/repack.h"
#include "model/arch_spec.h"

namespace pagoda::model {

using backend::Matrix;
using loader::Architecture;
using loader::DType;
using loader::ModelConfig;
using loader::TensorView;

namespace {

std::string Expand(const std::string& tmpl, int64_t layer) {
  std::string s = tmpl;
  auto p = s.find("{i}");
  if (p != std::string::npos) s.replace(p, 3, std::to_string(layer));
  return s;
}

// Pulls tensors out of the files, checking names and shapes, and turns them into
// kernel-ready matrices and vectors.
class WeightReader {
 public:
  WeightReader(const loader::ModelFiles& files, const LoadOptions& options) : files_(files), options_(options) {}

  int64_t params() const { return params_; }
  size_t bytes() const { return bytes_; }
  bool Has(const std::string& name) const { return files_.Find(name) != nullptr; }

  Result<const TensorView*> Get(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* t = files_.Find(name);
    if (t == nullptr) return NotFound("model " + files_.path() + ": missing tensor '" + name + "' (expected shape " + loader::ShapeToString(shape) + ")");
    if (t->shape != shape)
      return InvalidArgument("tensor '" + name + "' in " + t->file + ": expected shape " + loader::ShapeToString(shape) + " from config.json, found " +
                             t->ShapeString());
    params_ += t->numel();
    return t;
  }

  // A [rows, cols] matrix: a view of the file when it can be, else a copy with
  // the rows un-permuted. GGUF block formats stay quantized (the kernels decode
  // them in registers); rows are whole runs of blocks, so permuting copies them.
  // A [rows, cols] matrix prepared as the load options ask.
  Result<Matrix> Mat(const std::string& name, int64_t rows, int64_t cols) {
    PAGODA_ASSIGN_OR_RETURN(Matrix m, RawMat(name, rows, cols));
    const bool plain = m.dtype == DType::kF32 || m.dtype == DType::kBF16 || m.dtype == DType::kF16;
    if (options_.online_quant && plain && (cols % 32 == 0 || *options_.online_quant == DType::kI8Row)) {
      PAGODA_ASSIGN_OR_RETURN(Matrix q, backend::QuantizeMatrix(m, *options_.online_quant));
      m = std::move(q);
    }
    // --fast-matmul where this CPU has no fast kernel for the format (no VNNI, no
    // AVX512-BF16): the exact path's vector kernels, not the fast layout's scalar model.
    const bool fast = options_.precision == backend::MatmulPrecision::kFast && backend::HasFastKernel(m.dtype);
    backend::PrepareForPrecision(m, fast ? backend::MatmulPrecision::kFast : backend::MatmulPrecision::kExact);
    bytes_ += m.owned.size() > 0 ? m.owned.size() : m.bytes();
    return m;
  }

  Result<Matrix> RawMat(const std::string& name, int64_t rows, int64_t cols) {
    PAGODA_ASSIGN_OR_RETURN(const TensorView* t, Get(name, {rows, cols}));
    Matrix m;
    m.rows = rows;
    m.cols = cols;
    m.dtype = t->dtype;
    const bool plain = t->dtype == DType::kF32 || t->dtype == DType::kBF16 || t->dtype == DType::kF16;
    const size_t align = plain ? m.ElemBytes() : 1;
    if (cols % loader::BlockElems(t->dtype) != 0)
      return InvalidArgument("tensor '" + name + "' in " + t->file + ": " + std::to_string(cols) + " columns is not a multiple of the " +
                             loader::DTypeName(t->dtype) + " block size");
    if (t->unpermute_heads == 0 && reinterpret_cast<uintptr_t>(t->data) % align == 0) {
      m.data = t->data;
      return m;
    }
    m.owned.Resize(m.bytes());
    const size_t row_bytes = m.RowBytes();
    for (int64_t r = 0; r < rows; ++r) {
      int64_t src = r;
      if (t->unpermute_heads > 0) {
        const int64_t per_head = rows / t->unpermute_heads, half = per_head / 2;
        const int64_t h = r / per_head, w = r % per_head, a = w / half, b = w % half;
        src = h * per_head + 2 * b + a;
      }
      std::memcpy(reinterpret_cast<uint8_t*>(m.owned.data()) + r * row_bytes, t->data + src * row_bytes, row_bytes);
    }
    m.data = m.owned.data();
    return m;
  }

  // A 1-D float32 vector (norm weights, biases), with GGUF's value offset undone.
  Result<std::vector<float>> Vec(const std::string& name, int64_t n) {
    PAGODA_ASSIGN_OR_RETURN(const TensorView* t, Get(name, {n}));
    return ToFloat(*t);
  }

  static std::vector<float> ToFloat(const TensorView& t) {
    std::vector<float> v(t.numel());
    loader::DequantizeRow(t.dtype, t.data, v.data(), t.numel());
    if (t.value_offset != 0) for (float& x : v) x += t.value_offset;
    return v;
  }

  // Rows [r0, r0 + n) of a plain [rows, cols] tensor, or for Conv1D storage
  // ([cols_in, out] transposed) columns; always returned as [n, k].
  Result<Matrix> Gather(const TensorView& t, const std::vector<int64_t>& src_rows, int64_t k, bool transposed) {
    if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
      return Unimplemented("tensor '" + t.name + "': fused projections must be F32, BF16 or F16, found " + loader::DTypeName(t.dtype));
    const size_t elem = t.dtype == DType::kF32 ? 4 : 2;
    Matrix m;
    m.dtype = t.dtype;
    m.rows = static_cast<int64_t>(src_rows.size());
    m.cols = k;
    m.owned.Resize(static_cast<size_t>(m.rows * k) * elem);
    uint8_t* d = reinterpret_cast<uint8_t*>(m.owned.data());
    const int64_t total_out = transposed ? t.shape[1] : t.shape[0];
    for (int64_t r = 0; r < m.rows; ++r) {
      const int64_t sr = src_rows[r];
      if (!transposed) {
        std::memcpy(d + r * k * elem, t.data + sr * k * elem, k * elem);
      } else {
        for (int64_t i = 0; i < k; ++i) std::memcpy(d + (r * k + i) * elem, t.data + (i * total_out + sr) * elem, elem);
      }
    }
    m.data = m.owned.data();
    bytes_ += m.owned.size();
    return m;
  }

  // A Conv1D [in, out] weight as a [out, in] matrix.
  Result<Matrix> Conv1D(const std::string& name, int64_t in, int64_t out) {
    PAGODA_ASSIGN_OR_RETURN(const TensorView* t, Get(name, {in, out}));
    std::vector<int64_t> rows(out);
    for (int64_t i = 0; i < out; ++i) rows[i] = i;
    return Gather(*t, rows, in, true);
  }

 private:
  const loader::ModelFiles& files_;
  LoadOptions options_;
  int64_t params_ = 0;
  size_t bytes_ = 0;
};

backend::ActKind ToAct(loader::Activation a) {
  switch (a) {
    case loader::Activation::kSilu: return backend::ActKind::kSilu;
    case loader::Activation::kGeluTanh: return backend::ActKind::kGeluTanh;
    case loader::Activation::kGeluErf: return backend::ActKind::kGeluErf;
    case loader::Activation::kRelu: return backend::ActKind::kRelu;
  }
  return backend::ActKind::kSilu;
}

Status LoadLayer(WeightReader& r, const ModelConfig& c, const ArchSpec& s, int64_t i, LayerWeights* L) {
  const std::string p = Expand(s.layer, i);
  const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
  const bool ln = c.norm == loader::NormType::kLayerNorm;
  PAGODA_ASSIGN_OR_RETURN(L->attn_norm_w, r.Vec(p + s.attn_norm + ".weight", H));
  if (ln) { PAGODA_ASSIGN_OR_RETURN(L->attn_norm_b, r.Vec(p + s.attn_norm + ".bias", H)); }
  PAGODA_ASSIGN_OR_RETURN(L->mlp_norm_w, r.Vec(p + s.mlp_norm + ".weight", H));
  if (ln) { PAGODA_ASSIGN_OR_RETURN(L->mlp_norm_b, r.Vec(p + s.mlp_norm + ".bias", H)); }

  switch (s.qkv_storage) {
    case QkvStorage::kSeparate: {
      PAGODA_ASSIGN_OR_RETURN(L->q, r.Mat(p + s.q + ".weight", c.q_size(), H));
      PAGODA_ASSIGN_OR_RETURN(L->k, r.Mat(p + s.k + ".weight", c.kv_size(), H));
      PAGODA_ASSIGN_OR_RETURN(L->v, r.Mat(p + s.v + ".weight", c.kv_size(), H));
      if (c.qkv_bias) {
        PAGODA_ASSIGN_OR_RETURN(L->q_b, r.Vec(p + s.q + ".bias", c.q_size()));
        PAGODA_ASSIGN_OR_RETURN(L->k_b, r.Vec(p + s.k + ".bias", c.kv_size()));
        PAGODA_ASSIGN_OR_RETURN(L->v_b, r.Vec(p + s.v + ".bias", c.kv_size()));
      }
      break;
    }
    case QkvStorage::kFusedNeoX:
    case QkvStorage::kFusedConv1D: {
      const bool conv = s.qkv_storage == QkvStorage::kFusedConv1D;
      const int64_t nh = c.num_heads;
      std::vector<int64_t> shape = conv ? std::vector<int64_t>{H, 3 * nh * D} : std::vector<int64_t>{3 * nh * D, H};
      PAGODA_ASSIGN_OR_RETURN(const TensorView* t, r.Get(p + s.qkv + ".weight", shape));
      std::vector<int64_t> rows[3];
      for (int part = 0; part < 3; ++part) {
        for (int64_t h = 0; h < nh; ++h)
          for (int64_t d = 0; d < D; ++d) rows[part].push_back(conv ? part * nh * D + h * D + d : h * 3 * D + part * D + d);
      }
      PAGODA_ASSIGN_OR_RETURN(L->q, r.Gather(*t, rows[0], H, conv));
      PAGODA_ASSIGN_OR_RETURN(L->k, r.Gather(*t, rows[1], H, conv));
      PAGODA_ASSIGN_OR_RETURN(L->v, r.Gather(*t, rows[2], H, conv));
      if (c.qkv_bias) {
        PAGODA_ASSIGN_OR_RETURN(const TensorView* b, r.Get(p + s.qkv + ".bias", {3 * nh * D}));
        std::vector<float> all = WeightReader::ToFloat(*b);
        std::vector<float>* dst[3] = {&L->q_b, &L->k_b, &L->v_b};
        for (int part = 0; part < 3; ++part)
          for (int64_t idx : rows[part]) dst[part]->push_back(all[idx]);
      }
      break;
    }
  }
  if (s.conv1d) {
    PAGODA_ASSIGN_OR_RETURN(L->o, r.Conv1D(p + s.o + ".weight", c.q_size(), H));
  } else {
    PAGODA_ASSIGN_OR_RETURN(L->o, r.Mat(p + s.o + ".weight", H, c.q_size()));
  }
  if (c.o_bias) { PAGODA_ASSIGN_OR_RETURN(L->o_b, r.Vec(p + s.o + ".bias", H)); }
  if (c.qk_norm) {
    PAGODA_ASSIGN_OR_RETURN(L->q_norm, r.Vec(p + s.q_norm + ".weight", D));
    PAGODA_ASSIGN_OR_RETURN(L->k_norm, r.Vec(p + s.k_norm + ".weight", D));
  }
  if (c.sandwich_norms) {
    PAGODA_ASSIGN_OR_RETURN(L->post_attn_norm, r.Vec(p + s.post_attn_norm + ".weight", H));
    PAGODA_ASSIGN_OR_RETURN(L->post_mlp_norm, r.Vec(p + s.post_mlp_norm + ".weight", H));
  }
  if (c.gated_mlp) {
    PAGODA_ASSIGN_OR_RETURN(L->gate, r.Mat(p + s.gate + ".weight", I, H));
  }
  if (s.conv1d) {
    PAGODA_ASSIGN_OR_RETURN(L->up, r.Conv1D(p + s.up + ".weight", H, I));
    PAGODA_ASSIGN_OR_RETURN(L->down, r.Conv1D(p + s.down + ".weight", I, H));
  } else {
    PAGODA_ASSIGN_OR_RETURN(L->up, r.Mat(p + s.up + ".weight", I, H));
    PAGODA_ASSIGN_OR_RETURN(L->down, r.Mat(p + s.down + ".weight", H, I));
  }
  if (c.mlp_bias) {
    if (c.gated_mlp) { PAGODA_ASSIGN_OR_RETURN(L->gate_b, r.Vec(p + s.gate + ".bias", I)); }
    PAGODA_ASSIGN_OR_RETURN(L->up_b, r.Vec(p + s.up + ".bias", I));
    PAGODA_ASSIGN_OR_RETURN(L->down_b, r.Vec(p + s.down + ".bias", H));
  }
  return Status::Ok();
}

}  // namespace

Result<LoadOptions> LoadOptions::FromFlags(bool fast_matmul, const std::string& quantization) {
  LoadOptions lo;
  lo.precision = fast_matmul ? backend::MatmulPrecision::kFast : backend::MatmulPrecision::kExact;
  if (quantization == "q8_0") lo.online_quant = loader::DType::kQ8_0;
  else if (quantization == "q4_0") lo.online_quant = loader::DType::kQ4_0;
  else if (quantization == "q4_1") lo.online_quant = loader::DType::kQ4_1;
  else if (quantization == "int8") lo.online_quant = loader::DType::kI8Row;
  else if (!quantization.empty() && quantization != "none")
    return InvalidArgument("quantization '" + quantization + "' is not one of none, int8, q8_0, q4_0, q4_1");
  return lo;
}

Result<std::unique_ptr<Model>> Model::Load(const loader::ModelFiles& files, const LoadOptions& options) {
  auto m = std::unique_ptr<Model>(new Model());
  m->config_ = files.config();
  const ModelConfig& c = m->config_;
  const ArchSpec s = GetArchSpec(c.arch);
  WeightReader r(files, options);
  ModelWeights& w = m->weights_;

  // Tied embeddings may be stored under either name (see shared/models/README.md).
  const std::string embed_name = s.embed + ".weight", head_name = s.lm_head + ".weight";
  const bool has_embed = r.Has(embed_name), has_head = r.Has(head_name);
  if (has_embed || !c.tie_word_embeddings) {
    PAGODA_ASSIGN_OR_RETURN(w.embed, r.Mat(embed_name, c.vocab_size, c.hidden_size));
  } else if (has_head) {
    PAGODA_ASSIGN_OR_RETURN(w.embed, r.Mat(head_name, c.vocab_size, c.hidden_size));
  } else {
    return NotFound("model " + files.path() + ": neither '" + embed_name + "' nor '" + head_name + "' is present");
  }
  if (c.tie_word_embeddings) {
    w.lm_head = &w.embed;
  } else {
    PAGODA_ASSIGN_OR_RETURN(w.lm_head_own, r.Mat(head_name, c.vocab_size, c.hidden_size));
    w.lm_head = &w.lm_head_own;
  }
  if (c.learned_positions) {
    PAGODA_ASSIGN_OR_RETURN(w.pos_embed, r.Mat(s.pos_embed + ".weight", c.max_position_embeddings, c.hidden_size));
  }
  PAGODA_ASSIGN_OR_RETURN(w.final_norm_w, r.Vec(s.final_norm + ".weight", c.hidden_size));
  if (c.norm == loader::NormType::kLayerNorm) {
    PAGODA_ASSIGN_OR_RETURN(w.final_norm_b, r.Vec(s.final_norm + ".bias", c.hidden_size));
  }
  w.layers.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) PAGODA_RETURN_IF_ERROR(LoadLayer(r, c, s, i, &w.layers[i]));
  m->num_parameters_ = r.params();
  m->weight_bytes_ = r.bytes();
  if (c.rope.type != loader::RopeType::kNone) {
    m->rope_global_ = ComputeRopeFreqs(c.rope, c.rotary_dim(), c.max_position_embeddings, 0);
    if (c.rope_local) m->rope_local_ = ComputeRopeFreqs(*c.rope_local, c.rotary_dim(), c.max_position_embeddings, 0);
  }
  return m;
}

namespace {

void GatherRow(const Matrix& m, int64_t row, float* dst) { backend::DequantizeMatrixRow(m, row, dst); }

// Makes v hold at least n elements (vector growth is geometric); never shrinks.
template <typename T>
T* Reserve(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

template <typename T>
size_t Bytes(const std::vector<T>& v) { return v.capacity() * sizeof(T); }

}  // namespace

size_t Model::workspace_bytes() const {
  const Workspace& w = ws_;
  size_t n = 0;
  for (const std::vector<float>* v : {&w.x, &w.h, &w.q, &w.k, &w.v, &w.attn, &w.o, &w.g, &w.u, &w.mlp, &w.cos_g, &w.sin_g,
                                      &w.cos_l, &w.sin_l, &w.sel})
    n += Bytes(*v);
  return n + Bytes(w.aseqs);
}

Status Model::Forward(ThreadPool& pool, const ForwardBatch& b, backend::KvCache& kv, float* logits) {
  const ModelConfig& c = config_;
  const ModelWeights& w = weights_;
  const int64_t T = b.num_tokens();
  const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
  const int64_t QS = c.q_size(), KS = c.kv_size();
  if (T == 0) return Status::Ok();
  if (kv.num_layers() != c.num_layers || kv.head_dim() != D || kv.num_kv_heads() != c.num_kv_heads)
    return Internal("KV cache shape does not match the model");
  for (int32_t id : b.token_ids)
    if (id < 0 || id >= c.vocab_size)
      return OutOfRange("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  if (c.learned_positions)
    for (int32_t p : b.positions)
      if (p >= c.max_position_embeddings)
        return OutOfRange("position " + std::to_string(p) + " exceeds max_position_embeddings " + std::to_string(c.max_position_embeddings));

  Workspace& ws = ws_;
  float* const x = Reserve(ws.x, T * H);
  float* const h = Reserve(ws.h, T * H);
  float* const q = Reserve(ws.q, T * QS);
  float* const k = Reserve(ws.k, T * KS);
  float* const v = Reserve(ws.v, T * KS);
  float* const attn = Reserve(ws.attn, T * QS);
  float* const o = Reserve(ws.o, T * H);
  float* const g = c.gated_mlp ? Reserve(ws.g, T * I) : nullptr;
  float* const u = Reserve(ws.u, T * I);
  float* const mlp = Reserve(ws.mlp, T * H);

  // Embedding (+ learned positions), scaled for Gemma.
  const float escale = static_cast<float>(c.embedding_scale);
  for (int64_t t = 0; t < T; ++t) {
    float* xr = x + t * H;
    GatherRow(w.embed, b.token_ids[t], xr);
    if (escale != 1.0f) for (int64_t i = 0; i < H; ++i) xr[i] *= escale;
    if (c.learned_positions) {
      GatherRow(w.pos_embed, b.positions[t], h);
      for (int64_t i = 0; i < H; ++i) xr[i] += h[i];
    }
  }

  // Rotary tables for this batch's positions (per sequence for dynamic NTK).
  const int64_t rot = c.rope.type == loader::RopeType::kNone ? 0 : c.rotary_dim();
  float *cos_g = nullptr, *sin_g = nullptr, *cos_l = nullptr, *sin_l = nullptr;
  if (rot > 0) {
    cos_g = Reserve(ws.cos_g, T * rot / 2);
    sin_g = Reserve(ws.sin_g, T * rot / 2);
    for (const ForwardBatch::Seq& s : b.seqs) {
      const int32_t* pos = b.positions.data() + s.query_start;
      float* cg = cos_g + s.query_start * rot / 2;
      float* sg = sin_g + s.query_start * rot / 2;
      if (c.rope.type == loader::RopeType::kDynamic && s.context_len > c.max_position_embeddings) {
        // Allocates (the frequencies depend on the length): dynamic NTK past max_position_embeddings only.
        RopeCosSin(ComputeRopeFreqs(c.rope, rot, c.max_position_embeddings, s.context_len), pos, s.query_len, cg, sg);
      } else {
        RopeCosSin(rope_global_, pos, s.query_len, cg, sg);
      }
    }
    if (c.rope_local) {
      cos_l = Reserve(ws.cos_l, T * rot / 2);
      sin_l = Reserve(ws.sin_l, T * rot / 2);
      RopeCosSin(rope_local_, b.positions.data(), T, cos_l, sin_l);
    }
  }

  backend::AttentionSeq* const aseqs = Reserve(ws.aseqs, static_cast<int64_t>(b.seqs.size()));
  const std::span<const backend::AttentionSeq> aseq_span(aseqs, b.seqs.size());
  for (size_t i = 0; i < b.seqs.size(); ++i) {
    const ForwardBatch::Seq& s = b.seqs[i];
    const int64_t need = (s.context_len + kv.block_size() - 1) / kv.block_size();
    if (s.num_blocks < need)
      return Internal("sequence " + std::to_string(i) + " has " + std::to_string(s.num_blocks) + " blocks for " +
                      std::to_string(s.context_len) + " tokens");
    aseqs[i] = {s.query_start, s.query_len, s.context_len, b.block_tables.data() + s.block_table_start};
  }

  const bool ln = c.norm == loader::NormType::kLayerNorm;
  const float eps = static_cast<float>(c.norm_eps);
  auto norm = [&](const float* in, const std::vector<float>& wt, const std::vector<float>& bs, float* out, int64_t rows) {
    if (ln) backend::LayerNorm(pool, in, wt.data(), bs.empty() ? nullptr : bs.data(), eps, rows, H, out);
    else backend::RmsNorm(pool, in, wt.data(), eps, c.norm_weight_offset, rows, H, out);
  };
  // x += r, then out = norm(x): one pass for RMSNorm models (same operations).
  auto add_norm = [&](float* xs, const float* r, const std::vector<float>& wt, const std::vector<float>& bs, float* out) {
    if (ln) {
      backend::AddInPlace(xs, r, T * H);
      norm(xs, wt, bs, out, T);
    } else {
      backend::AddRmsNorm(pool, xs, r, wt.data(), eps, c.norm_weight_offset, T, H, out);
    }
  };
  auto opt = [](const std::vector<float>& vec) { return vec.empty() ? nullptr : vec.data(); };
  const float scale = c.attention_scale > 0 ? static_cast<float>(c.attention_scale) : 1.0f / std::sqrt(static_cast<float>(D));
  const backend::ActKind act = ToAct(c.act);

  auto run_mlp = [&](const LayerWeights& L, const float* in, float* out) {
    if (c.gated_mlp) {
      const backend::MatMulOutput gate_up[] = {{&L.gate, opt(L.gate_b), g}, {&L.up, opt(L.up_b), u}};
      backend::MatMulShared(pool, in, T, gate_up);
      backend::GatedActivate(pool, act, g, u, T * I);
      backend::MatMul(pool, g, T, L.down, opt(L.down_b), out);
    } else {
      backend::MatMul(pool, in, T, L.up, opt(L.up_b), u);
      backend::Activate(pool, act, u, T * I);
      backend::MatMul(pool, u, T, L.down, opt(L.down_b), out);
    }
  };

  bool h_ready = false;  // h already holds this layer's attention-norm input (fused with the last residual add)
  for (int64_t li = 0; li < c.num_layers; ++li) {
    const LayerWeights& L = w.layers[li];
    const bool sliding = c.layer_sliding[li];
    if (!h_ready) norm(x, L.attn_norm_w, L.attn_norm_b, h, T);
    h_ready = false;
    const backend::MatMulOutput qkv[] = {{&L.q, opt(L.q_b), q}, {&L.k, opt(L.k_b), k}, {&L.v, opt(L.v_b), v}};
    backend::MatMulShared(pool, h, T, qkv);
    if (c.qk_norm) {
      backend::RmsNorm(pool, q, L.q_norm.data(), eps, c.norm_weight_offset, T * c.num_heads, D, q);
      backend::RmsNorm(pool, k, L.k_norm.data(), eps, c.norm_weight_offset, T * c.num_kv_heads, D, k);
    }
    if (rot > 0) {
      const bool local = sliding && c.rope_local.has_value();
      const float* cs = local ? cos_l : cos_g;
      const float* sn = local ? sin_l : sin_g;
      backend::ApplyRope(pool, q, T, c.num_heads, D, rot, cs, sn);
      backend::ApplyRope(pool, k, T, c.num_kv_heads, D, rot, cs, sn);
    }
    backend::WriteKv(k, v, b.slot_mapping.data(), T, kv, li);
    backend::PagedAttention(pool, q, kv, li, aseq_span, c.num_heads, scale, sliding ? c.sliding_window : 0,
                            static_cast<float>(c.attn_logit_softcapping), attn);
    backend::MatMul(pool, attn, T, L.o, opt(L.o_b), o);
    if (c.parallel_residual) {
      norm(x, L.mlp_norm_w, L.mlp_norm_b, h, T);
      run_mlp(L, h, mlp);
      for (int64_t i = 0; i < T * H; ++i) x[i] = (mlp[i] + o[i]) + x[i];
      continue;
    }
    if (c.sandwich_norms) norm(o, L.post_attn_norm, {}, o, T);
    add_norm(x, o, L.mlp_norm_w, L.mlp_norm_b, h);
    run_mlp(L, h, mlp);
    if (c.sandwich_norms) norm(mlp, L.post_mlp_norm, {}, mlp, T);
    if (li + 1 < c.num_layers) {
      const LayerWeights& next = w.layers[li + 1];
      add_norm(x, mlp, next.attn_norm_w, next.attn_norm_b, h);
      h_ready = true;
    } else {
      backend::AddInPlace(x, mlp, T * H);
    }
  }

  // Final norm and LM head only on the rows whose logits are wanted.
  const int64_t n_out = static_cast<int64_t>(b.logits_indices.size());
  float* const sel = Reserve(ws.sel, n_out * H);
  for (int64_t i = 0; i < n_out; ++i) {
    const int32_t row = b.logits_indices[i];
    if (row < 0 || row >= T) return Internal("logits index out of range");
    std::memcpy(sel + i * H, x + row * H, H * sizeof(float));
  }
  norm(sel, w.final_norm_w, w.final_norm_b, sel, n_out);
  backend::MatMul(pool, sel, n_out, *w.lm_head, nullptr, logits);
  if (c.final_logit_softcapping > 0) backend::SoftCap(logits, n_out * c.vocab_size, static_cast<float>(c.final_logit_softcapping));
  return Status::Ok();
}

}  // namespace pagoda::model
