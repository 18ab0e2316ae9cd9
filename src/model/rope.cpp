#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace pagoda::model {

using loader::RopeType;

namespace {

std::vector<float> BaseInvFreq(float base, int64_t dim) {
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / std::pow(base, e);
  }
  return inv;
}

double YarnMscale(double scale, double mscale) {
  if (scale <= 1) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

double CorrectionDim(double rotations, int64_t dim, double base, double max_pos) {
  return (dim * std::log(max_pos / (rotations * 2 * M_PI))) / (2 * std::log(base));
}

}  // namespace

RopeFreqs ComputeRopeFreqs(const loader::RopeConfig& rope, int64_t dim, int64_t max_pos, int64_t seq_len) {
  RopeFreqs f;
  const float base = static_cast<float>(rope.theta);
  switch (rope.type) {
    case RopeType::kNone:
    case RopeType::kDefault: f.inv_freq = BaseInvFreq(base, dim); break;
    case RopeType::kLinear: {
      f.inv_freq = BaseInvFreq(base, dim);
      for (float& v : f.inv_freq) v /= static_cast<float>(rope.factor);
      break;
    }
    case RopeType::kDynamic: {
      const int64_t orig = max_pos;
      const double s = static_cast<double>(std::max(seq_len, orig));
      const float fac = static_cast<float>(rope.factor);
      const float b = base * std::pow(fac * static_cast<float>(s) / static_cast<float>(orig) - (fac - 1.0f),
                                      static_cast<float>(dim) / static_cast<float>(dim - 2));
      f.inv_freq = BaseInvFreq(b, dim);
      break;
    }
    case RopeType::kLlama3: {
      f.inv_freq = BaseInvFreq(base, dim);
      const float factor = static_cast<float>(rope.factor);
      const float low = static_cast<float>(rope.low_freq_factor), high = static_cast<float>(rope.high_freq_factor);
      const float old_ctx = static_cast<float>(rope.original_max_position_embeddings);
      const float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
      for (float& inv : f.inv_freq) {
        const float wavelen = static_cast<float>(2 * M_PI) / inv;
        float scaled = wavelen > low_wavelen ? inv / factor : inv;
        const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        if (medium) {
          const float smooth = (old_ctx / wavelen - low) / (high - low);
          scaled = (1 - smooth) * scaled / factor + smooth * scaled;
        }
        inv = scaled;
      }
      break;
    }
    case RopeType::kYarn: {
      const double factor = rope.factor;
      const double orig = static_cast<double>(rope.original_max_position_embeddings > 0 ? rope.original_max_position_embeddings : max_pos);
      double attn = 0;
      if (rope.attention_factor) attn = *rope.attention_factor;
      else if (rope.mscale && rope.mscale_all_dim) attn = YarnMscale(factor, *rope.mscale) / YarnMscale(factor, *rope.mscale_all_dim);
      else attn = YarnMscale(factor, 1.0);
      f.attention_factor = static_cast<float>(attn);
      double lo = CorrectionDim(rope.beta_fast, dim, rope.theta, orig);
      double hi = CorrectionDim(rope.beta_slow, dim, rope.theta, orig);
      if (rope.truncate) {
        lo = std::floor(lo);
        hi = std::ceil(hi);
      }
      lo = std::max(lo, 0.0);
      hi = std::min(hi, static_cast<double>(dim - 1));
      if (lo == hi) hi += 0.001;
      f.inv_freq.resize(dim / 2);
      for (int64_t i = 0; i < dim / 2; ++i) {
        const float pos_freq = std::pow(base, static_cast<float>(2 * i) / static_cast<float>(dim));
        const float extrap = 1.0f / pos_freq;
        const float interp = 1.0f / (static_cast<float>(factor) * pos_freq);
        float ramp = (static_cast<float>(i) - static_cast<float>(lo)) / static_cast<float>(hi - lo);
        ramp = std::clamp(ramp, 0.0f, 1.0f);
        const float extrap_factor = 1.0f - ramp;
        f.inv_freq[i] = interp * (1 - extrap_factor) + extrap * extrap_factor;
      }
      break;
    }
  }
  return f;
}

void RopeCosSin(const RopeFreqs& f, const int32_t* positions, int64_t n, float* cos, float* sin) {
  const int64_t half = static_cast<int64_t>(f.inv_freq.size());
  for (int64_t t = 0; t < n; ++t) {
    const float p = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float a = p * f.inv_freq[i];
      cos[t * half + i] = std::cos(a) * f.attention_factor;
      sin[t * half + i] = std::sin(a) * f.attention_factor;
    }
  }
}

}  // namespace pagoda::model
