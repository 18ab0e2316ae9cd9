#include "backend/cpu/attention.h"

#include "backend/cpu/matmul.h"
#include "loader/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace pagoda::backend {
namespace {

// Naive causal attention over contiguous K/V in double precision.
std::vector<double> Naive(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v, int64_t len,
                          int64_t q_from, int64_t H, int64_t KVH, int64_t D, float scale, int64_t window) {
  std::vector<double> out((len - q_from) * H * D, 0);
  for (int64_t p = q_from; p < len; ++p) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / (H / KVH);
      std::vector<double> s;
      int64_t start = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0;
      double mx = -1e300;
      for (int64_t j = start; j <= p; ++j) {
        double d = 0;
        for (int64_t i = 0; i < D; ++i) d += q[((p - q_from) * H + h) * D + i] * k[(j * KVH + g) * D + i];
        s.push_back(d * scale);
        mx = std::max(mx, s.back());
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t j = start; j <= p; ++j)
        for (int64_t i = 0; i < D; ++i) out[((p - q_from) * H + h) * D + i] += s[j - start] / sum * v[(j * KVH + g) * D + i];
    }
  }
  return out;
}

// Every attention test runs on each kernel tier this CPU has (the tier MatMul
// runs; forced lower ones too): AVX-512, AVX2+FMA, portable.
struct Tier {
  explicit Tier(const std::string& t) : name(t.empty() ? "best" : t), ok(t.empty() || ForceMatMulTierForTesting(t)) {}
  ~Tier() { ForceMatMulTierForTesting(""); }
  std::string name;
  bool ok;
};
const char* const kTiers[] = {"", "avx2", "portable"};

TEST(PagedAttentionTest, MatchesNaiveThroughScatteredBlockTables) {
  for (const char* t : kTiers) {
    Tier tier(t);
    if (!tier.ok) continue;
    SCOPED_TRACE("tier " + tier.name);
    const std::string kernel = AttentionKernelName();
    if (tier.name == "avx2") {
      EXPECT_EQ(kernel, "flash-avx2");
    }
    if (tier.name == "portable") {
      EXPECT_EQ(kernel, "flash-scalar");
    }
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    ThreadPool pool(2);
    const int64_t H = 8, KVH = 2, D = 16;
    for (int64_t bs : {1, 3, 16}) {
      for (int64_t window : {0, 5}) {
        // Two sequences: one prefilling 11 tokens from scratch, one decoding token 20 after 19 cached.
        const int64_t len0 = 11, len1 = 20;
        KvCache cache(1, 64, bs, KVH, D);
        std::vector<float> k0(len0 * KVH * D), v0(len0 * KVH * D), k1(len1 * KVH * D), v1(len1 * KVH * D);
        for (auto* a : {&k0, &v0, &k1, &v1})
          for (float& x : *a) x = nd(rng);
        // Block tables with blocks taken from the end of the pool backwards, interleaved.
        std::vector<int32_t> t0, t1;
        int32_t next = 63;
        for (int64_t i = 0; i < 40; ++i) (i % 2 ? t1 : t0).push_back(next--);
        auto slots = [&](const std::vector<int32_t>& t, int64_t from, int64_t to) {
          std::vector<int64_t> s;
          for (int64_t p = from; p < to; ++p) s.push_back(static_cast<int64_t>(t[p / bs]) * bs + p % bs);
          return s;
        };
        // Seq 1's first 19 tokens were written in an earlier step.
        auto s1_old = slots(t1, 0, len1 - 1);
        WriteKv(k1.data(), v1.data(), s1_old.data(), len1 - 1, cache, 0);
        // This step: seq 0 rows 0..10, seq 1 row 19.
        std::vector<float> kstep, vstep, q((len0 + 1) * H * D);
        kstep.insert(kstep.end(), k0.begin(), k0.end());
        kstep.insert(kstep.end(), k1.end() - KVH * D, k1.end());
        vstep.insert(vstep.end(), v0.begin(), v0.end());
        vstep.insert(vstep.end(), v1.end() - KVH * D, v1.end());
        auto sm = slots(t0, 0, len0);
        auto s1 = slots(t1, len1 - 1, len1);
        sm.insert(sm.end(), s1.begin(), s1.end());
        WriteKv(kstep.data(), vstep.data(), sm.data(), len0 + 1, cache, 0);
        for (float& x : q) x = nd(rng);
        std::vector<AttentionSeq> seqs = {{0, static_cast<int32_t>(len0), static_cast<int32_t>(len0), t0.data()},
                                          {static_cast<int32_t>(len0), 1, static_cast<int32_t>(len1), t1.data()}};
        std::vector<float> out((len0 + 1) * H * D);
        const float scale = 0.25f;
        PagedAttention(pool, q.data(), cache, 0, seqs, H, scale, window, 0.0f, out.data());
        std::vector<float> q0(q.begin(), q.begin() + len0 * H * D), q1(q.begin() + len0 * H * D, q.end());
        auto r0 = Naive(q0, k0, v0, len0, 0, H, KVH, D, scale, window);
        auto r1 = Naive(q1, k1, v1, len1, len1 - 1, H, KVH, D, scale, window);
        for (size_t i = 0; i < r0.size(); ++i) ASSERT_NEAR(out[i], r0[i], 1e-5) << "bs " << bs << " window " << window;
        for (size_t i = 0; i < r1.size(); ++i) ASSERT_NEAR(out[len0 * H * D + i], r1[i], 1e-5) << "bs " << bs << " window " << window;
      }
    }
  }
}

// Contexts longer than one key chunk (online softmax across chunks), head dims on
// both the vector (64) and scalar (24) paths, prefill and decode rows: close to the
// naive reference, and bit-identical whatever the block size.
TEST(PagedAttentionTest, LongContextsAreBlockSizeInvariant) {
  for (const char* t : kTiers) {
    Tier tier(t);
    if (!tier.ok) continue;
    SCOPED_TRACE("tier " + tier.name);
    std::mt19937 rng(9);
    std::normal_distribution<float> nd;
    ThreadPool pool(2);
    for (int64_t D : {64, 24, 32, 128, 256}) {
      const int64_t H = 6, KVH = 2, len = 150, qlen = 70;
      for (int64_t window : {0, 100}) {
        std::vector<float> k(len * KVH * D), v(len * KVH * D), q(qlen * H * D);
        for (auto* a : {&k, &v, &q})
          for (float& x : *a) x = nd(rng);
        std::vector<float> first;
        for (int64_t bs : {16, 1, 7}) {
          const int64_t nblocks = (len + bs - 1) / bs;
          KvCache cache(1, nblocks + 3, bs, KVH, D);
          std::vector<int32_t> table;
          for (int64_t b = 0; b < nblocks; ++b) table.push_back(static_cast<int32_t>(nblocks + 2 - b));
          std::vector<int64_t> slots;
          for (int64_t p = 0; p < len; ++p) slots.push_back(static_cast<int64_t>(table[p / bs]) * bs + p % bs);
          WriteKv(k.data(), v.data(), slots.data(), len, cache, 0);
          std::vector<AttentionSeq> seqs = {{0, static_cast<int32_t>(qlen), static_cast<int32_t>(len), table.data()}};
          std::vector<float> out(qlen * H * D);
          PagedAttention(pool, q.data(), cache, 0, seqs, H, 0.2f, window, 0.0f, out.data());
          if (first.empty()) {
            first = out;
            auto ref = Naive(q, k, v, len, len - qlen, H, KVH, D, 0.2f, window);
            for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(out[i], ref[i], 2e-5) << "D " << D << " window " << window << " i " << i;
          } else {
            ASSERT_EQ(out, first) << "D " << D << " window " << window << " block size " << bs;
          }
        }
      }
    }
  }
}

// 16-bit KV caches: what is stored is each value rounded to nearest even (the
// loader's F32ToF16 / F32ToBf16 bit for bit, on the vector path and the scalar
// tail alike, specials included), and attention over them matches the naive
// reference computed on the rounded K and V, on the AVX-512 head dims and the
// generic path, bit-identical whatever the block size.
TEST(KvCacheTest, SixteenBitCachesRoundToNearestEven) {
  for (const char* t : kTiers) {
    Tier tier(t);
    if (!tier.ok) continue;
    SCOPED_TRACE("tier " + tier.name);
    std::vector<float> vals = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e6f, -1e-8f, 6.0e-8f, 3e-5f, 1.0009765625f, 1.00048828125f,
                               std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(), 1e-40f, 3.3895314e38f, 1.00390625f, 1.01171875f};
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    while (vals.size() < 16 * 9 + 5) vals.push_back(nd(rng));
    const int64_t stride = static_cast<int64_t>(vals.size());  // one KV head of this many dims: 9 vectors and a scalar tail
    for (KvDType t : {KvDType::kF16, KvDType::kBF16}) {
      KvCache c(1, 2, 1, 1, stride, t);
      const int64_t slot = 1;
      WriteKv(vals.data(), vals.data(), &slot, 1, c, 0);
      const uint16_t* k = static_cast<const uint16_t*>(c.key_data(0)) + slot * stride;
      std::vector<float> back(stride);
      ReadKvRow(c, c.value_data(0), slot, back.data());
      for (int64_t i = 0; i < stride; ++i) {
        const uint16_t want = t == KvDType::kF16 ? loader::F32ToF16(vals[i]) : loader::F32ToBf16(vals[i]);
        ASSERT_EQ(k[i], want) << KvDTypeName(t) << " value " << vals[i] << " at " << i;
        const float wide = t == KvDType::kF16 ? loader::F16ToF32(want) : loader::Bf16ToF32(want);
        if (std::isnan(wide)) ASSERT_TRUE(std::isnan(back[i]));
        else ASSERT_EQ(back[i], wide);
      }
    }
    EXPECT_EQ(KvCache::BytesPerBlock(2, 16, 3, 64, KvDType::kF16) * 2, KvCache::BytesPerBlock(2, 16, 3, 64));
    EXPECT_FALSE(ParseKvDType("fp8").ok());
    EXPECT_EQ(*ParseKvDType("auto"), KvDType::kF32);
    EXPECT_EQ(*ParseKvDType("bf16"), KvDType::kBF16);
  }
}

TEST(PagedAttentionTest, SixteenBitCachesMatchTheReferenceOnRoundedKv) {
  for (const char* t : kTiers) {
    Tier tier(t);
    if (!tier.ok) continue;
    SCOPED_TRACE("tier " + tier.name);
    std::mt19937 rng(21);
    std::normal_distribution<float> nd;
    ThreadPool pool(2);
    for (KvDType t : {KvDType::kF16, KvDType::kBF16}) {
      for (int64_t D : {64, 24, 32, 128}) {
        const int64_t H = 6, KVH = 2, len = 150, qlen = 3;
        std::vector<float> k(len * KVH * D), v(len * KVH * D), q(qlen * H * D);
        for (auto* a : {&k, &v, &q})
          for (float& x : *a) x = nd(rng);
        std::vector<float> kr(k.size()), vr(v.size());
        for (size_t i = 0; i < k.size(); ++i) {
          kr[i] = t == KvDType::kF16 ? loader::F16ToF32(loader::F32ToF16(k[i])) : loader::Bf16ToF32(loader::F32ToBf16(k[i]));
          vr[i] = t == KvDType::kF16 ? loader::F16ToF32(loader::F32ToF16(v[i])) : loader::Bf16ToF32(loader::F32ToBf16(v[i]));
        }
        std::vector<float> first;
        for (int64_t bs : {16, 1, 7}) {
          const int64_t nblocks = (len + bs - 1) / bs;
          KvCache cache(1, nblocks + 1, bs, KVH, D, t);
          std::vector<int32_t> table;
          for (int64_t b = 0; b < nblocks; ++b) table.push_back(static_cast<int32_t>(nblocks - b));
          std::vector<int64_t> slots;
          for (int64_t p = 0; p < len; ++p) slots.push_back(static_cast<int64_t>(table[p / bs]) * bs + p % bs);
          WriteKv(k.data(), v.data(), slots.data(), len, cache, 0);
          std::vector<AttentionSeq> seqs = {{0, static_cast<int32_t>(qlen), static_cast<int32_t>(len), table.data()}};
          std::vector<float> out(qlen * H * D);
          PagedAttention(pool, q.data(), cache, 0, seqs, H, 0.2f, 0, 0.0f, out.data());
          if (first.empty()) {
            first = out;
            auto ref = Naive(q, kr, vr, len, len - qlen, H, KVH, D, 0.2f, 0);
            auto unrounded = Naive(q, k, v, len, len - qlen, H, KVH, D, 0.2f, 0);
            double worst = 0;
            for (size_t i = 0; i < ref.size(); ++i) {
              ASSERT_NEAR(out[i], ref[i], 2e-5) << KvDTypeName(t) << " D " << D << " i " << i;
              worst = std::max(worst, std::fabs(unrounded[i] - ref[i]));
            }
            EXPECT_GT(worst, 2e-5) << "the rounding should be visible against the float32 K/V";
          } else {
            ASSERT_EQ(out, first) << KvDTypeName(t) << " D " << D << " block size " << bs;
          }
        }
      }
    }
  }
}

TEST(KvCacheTest, CopyBlockCopiesEveryLayer) {
  KvCache c(3, 4, 2, 1, 4);
  for (int64_t l = 0; l < 3; ++l) {
    c.key(l)[1 * 2 * 4 + 3] = static_cast<float>(l + 1);
    c.value(l)[1 * 2 * 4 + 5] = static_cast<float>(l + 10);
  }
  c.CopyBlock(1, 3);
  for (int64_t l = 0; l < 3; ++l) {
    EXPECT_EQ(c.key(l)[3 * 2 * 4 + 3], l + 1.0f);
    EXPECT_EQ(c.value(l)[3 * 2 * 4 + 5], l + 10.0f);
  }
  KvCache h(3, 4, 2, 1, 4, KvDType::kF16);
  for (int64_t l = 0; l < 3; ++l) static_cast<uint16_t*>(h.value_data(l))[1 * 2 * 4 + 5] = static_cast<uint16_t>(l + 100);
  h.CopyBlock(1, 3);
  for (int64_t l = 0; l < 3; ++l) EXPECT_EQ(static_cast<const uint16_t*>(h.value_data(l))[3 * 2 * 4 + 5], l + 100);
}

TEST(RopeTest, RotatesPairsAcrossHalves) {
  ThreadPool pool(1);
  std::vector<float> x = {1, 2, 3, 4, 9};  // one head, head_dim 5, rot_dim 4
  std::vector<float> cos = {0.5f, 1.0f}, sin = {0.25f, 0.0f};
  ApplyRope(pool, x.data(), 1, 1, 5, 4, cos.data(), sin.data());
  EXPECT_FLOAT_EQ(x[0], 1 * 0.5f - 3 * 0.25f);
  EXPECT_FLOAT_EQ(x[2], 3 * 0.5f + 1 * 0.25f);
  EXPECT_FLOAT_EQ(x[1], 2);
  EXPECT_FLOAT_EQ(x[3], 4);
  EXPECT_FLOAT_EQ(x[4], 9);  // beyond rot_dim: untouched
}

}  // namespace
}  // namespace pagoda::backend
