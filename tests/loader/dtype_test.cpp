#include "loader/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace pagoda::loader {
namespace {

TEST(DTypeTest, HalfConversionsRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t x = static_cast<uint16_t>(h);
    const float f = F16ToF32(x);
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToF16(f), x) << std::hex << h;
  }
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);               // rounds to inf
}

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(Bf16ToF32(0x3f80), 1.0f);
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  float f;
  uint32_t bits = 0x3f808000;  // exactly halfway between 0x3f80 and 0x3f81
  std::memcpy(&f, &bits, 4);
  EXPECT_EQ(F32ToBf16(f), 0x3f80);
  bits = 0x3f818000;
  std::memcpy(&f, &bits, 4);
  EXPECT_EQ(F32ToBf16(f), 0x3f82);
}

TEST(DTypeTest, Q4_0AndQ4_1Blocks) {
  uint8_t b[20] = {};
  const uint16_t two = 0x4000;  // f16 2.0
  std::memcpy(b, &two, 2);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>((j & 0xF) | ((15 - j) << 4));
  float y[32];
  DequantizeRow(DType::kQ4_0, b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 2.0f);
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 2.0f);
  }
  uint8_t c[20] = {};
  const uint16_t half = 0x3800, minus1 = 0xbc00;  // d = 0.5, m = -1
  std::memcpy(c, &half, 2);
  std::memcpy(c + 2, &minus1, 2);
  for (int j = 0; j < 16; ++j) c[4 + j] = static_cast<uint8_t>(j | (j << 4));
  DequantizeRow(DType::kQ4_1, c, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.5f - 1.0f);
    EXPECT_EQ(y[j + 16], j * 0.5f - 1.0f);
  }
}

TEST(DTypeTest, Q8_0AndQ5_0Blocks) {
  uint8_t b[34] = {};
  const uint16_t quarter = 0x3400;  // 0.25
  std::memcpy(b, &quarter, 2);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  float y[32];
  DequantizeRow(DType::kQ8_0, b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j - 16) * 0.25f);

  uint8_t c[22] = {};
  const uint16_t one = 0x3c00;
  std::memcpy(c, &one, 2);
  const uint32_t qh = 0x00010001;  // high bit set for elements 0 and 16
  std::memcpy(c + 2, &qh, 4);
  c[6] = 0x21;  // element 0 low nibble 1, element 16 low nibble 2
  DequantizeRow(DType::kQ5_0, c, y, 32);
  EXPECT_EQ(y[0], (1 + 16) - 16.0f);
  EXPECT_EQ(y[16], (2 + 16) - 16.0f);
  EXPECT_EQ(y[1], -16.0f);
}

TEST(DTypeTest, BlockGeometry) {
  EXPECT_EQ(RowBytes(DType::kQ4_K, 512), 288);
  EXPECT_EQ(RowBytes(DType::kQ6_K, 256), 210);
  EXPECT_EQ(RowBytes(DType::kBF16, 10), 20);
  EXPECT_FALSE(DTypeFromGgml(11).ok());
  EXPECT_EQ(*DTypeFromGgml(30), DType::kBF16);
}

}  // namespace
}  // namespace pagoda::loader
