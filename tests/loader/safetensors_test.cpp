#include "loader/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_files.h"

namespace pagoda::loader {
namespace {

using testing::Floats;
using testing::Safetensors;
using testing::WriteBytes;

// Tensor data in a safetensors file need not be aligned: read it bytewise.
float FloatAt(const uint8_t* p, size_t i) {
  float f;
  std::memcpy(&f, p + 4 * i, 4);
  return f;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  std::string dir_ = testing::TempDir();
  std::string Write(const std::string& bytes) {
    std::string p = dir_ + "/model.safetensors";
    WriteBytes(p, bytes);
    return p;
  }
  std::string Error(const std::string& bytes) {
    auto r = SafetensorsFile::Open(Write(bytes));
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }
  const std::string good_header_ =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})";
  const std::string good_data_ = Floats({1, 2, 3, 4}) + std::string("\x80\x3f\x00\x40\x40\x40", 6);
};

TEST_F(SafetensorsTest, ReadsTensorsAndMetadata) {
  auto f = SafetensorsFile::Open(Write(Safetensors(good_header_, good_data_)));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const TensorView& a = (*f)->tensors().at("a");
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(FloatAt(a.data, 3), 4.0f);
  const TensorView& b = (*f)->tensors().at("b");
  EXPECT_EQ(b.dtype, DType::kBF16);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
}

TEST_F(SafetensorsTest, TruncatedFile) {
  std::string full = Safetensors(good_header_, good_data_);
  EXPECT_NE(Error(full.substr(0, full.size() - 3)).find("outside the data section"), std::string::npos);
  EXPECT_NE(Error(full.substr(0, 5)).find("too short"), std::string::npos);
}

TEST_F(SafetensorsTest, BadHeaderLength) {
  std::string full = Safetensors(good_header_, good_data_);
  uint64_t huge = 1ull << 40;
  std::memcpy(full.data(), &huge, 8);
  EXPECT_NE(Error(full).find("header length"), std::string::npos);
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  EXPECT_NE(Error(Safetensors("{not json", "")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(Error(Safetensors("[1,2]", "")).find("not a JSON object"), std::string::npos);
}

TEST_F(SafetensorsTest, ByteRangeOutOfFile) {
  std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})";
  std::string msg = Error(Safetensors(h, Floats({1, 2, 3, 4})));
  EXPECT_NE(msg.find("tensor 'b'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside the data section"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, SizeDisagreesWithDtypeAndShape) {
  std::string h = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})";
  std::string msg = Error(Safetensors(h, Floats({1, 2, 3, 4})));
  EXPECT_NE(msg.find("needs 12"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, UnknownDtype) {
  std::string h = R"({"a":{"dtype":"F17","shape":[4],"data_offsets":[0,16]}})";
  EXPECT_NE(Error(Safetensors(h, Floats({1, 2, 3, 4}))).find("unknown dtype 'F17'"), std::string::npos);
}

TEST_F(SafetensorsTest, OverlappingRanges) {
  std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  EXPECT_NE(Error(Safetensors(h, Floats({1, 2, 3, 4}))).find("overlap"), std::string::npos);
}

TEST_F(SafetensorsTest, MalformedEntries) {
  EXPECT_NE(Error(Safetensors(R"({"a":{"dtype":"F32","shape":[4]}})", "")).find("data_offsets"), std::string::npos);
  EXPECT_NE(Error(Safetensors(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,0]}})", "")).find("negative"), std::string::npos);
  EXPECT_NE(Error(Safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", std::string(8, '\0'))).find("begin"),
            std::string::npos);
}

TEST_F(SafetensorsTest, ShardedIndex) {
  WriteBytes(dir_ + "/model-00001-of-00002.safetensors", Safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", Floats({7})));
  WriteBytes(dir_ + "/model-00002-of-00002.safetensors", Safetensors(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", Floats({8})));
  WriteBytes(dir_ + "/model.safetensors.index.json",
             R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  auto m = SafetensorsModel::OpenDirectory(dir_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_NE((*m)->Find("b"), nullptr);
  EXPECT_EQ(FloatAt((*m)->Find("b")->data, 0), 8.0f);

  WriteBytes(dir_ + "/model.safetensors.index.json", R"({"weight_map":{"a":"model-00002-of-00002.safetensors"}})");
  auto bad = SafetensorsModel::OpenDirectory(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tensor 'a' is not in shard"), std::string::npos) << bad.status().message();
}

TEST_F(SafetensorsTest, PickleRefusedWithAdvice) {
  WriteBytes(dir_ + "/pytorch_model.bin", "not really a pickle");
  auto m = SafetensorsModel::OpenDirectory(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(m.status().message().find("pickle"), std::string::npos);
  EXPECT_NE(m.status().message().find("save_pretrained"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::loader
