#include "server/auth.h"

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

TEST(Auth, BearerKeys) {
  ApiKeyAuth auth({"k1", "secret-2"});
  const std::string good1 = "Bearer k1", good2 = "bearer secret-2", bad = "Bearer k2", prefix = "Bearer secret",
                    longer = "Bearer k11", basic = "Basic k1", empty = "Bearer ";
  EXPECT_TRUE(auth.Check(&good1));
  EXPECT_TRUE(auth.Check(&good2));
  EXPECT_FALSE(auth.Check(&bad));
  EXPECT_FALSE(auth.Check(&prefix));
  EXPECT_FALSE(auth.Check(&longer));
  EXPECT_FALSE(auth.Check(&basic));
  EXPECT_FALSE(auth.Check(&empty));
  EXPECT_FALSE(auth.Check(nullptr));
  ApiKeyAuth open({});
  EXPECT_TRUE(open.Check(nullptr));
}

TEST(Auth, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace pagoda::server
