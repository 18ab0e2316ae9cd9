#include "common/status.h"

#include <gtest/gtest.h>

namespace pagoda {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("value must be positive, got " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  PAGODA_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

TEST(StatusTest, OkAndError) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("tensor x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: tensor x");
  EXPECT_EQ(s.WithContext("file.gguf").message(), "file.gguf: tensor x");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Doubled(4), 8);
  auto r = Doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "value must be positive, got -1");
}

}  // namespace
}  // namespace pagoda
