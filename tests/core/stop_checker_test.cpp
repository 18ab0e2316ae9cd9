#include "core/stop_checker.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Iota;

Request WithOutputs(RequestParams params, std::vector<TokenId> outputs, int prompt_len = 4) {
  Request r(RequestId(1), Iota(prompt_len, 10), std::move(params));
  for (TokenId t : outputs) r.AppendOutputToken(t);
  return r;
}

TEST(StopCheckerTest, NothingToStop) {
  EXPECT_FALSE(CheckStop(WithOutputs({.eos_token_ids = {2}}, {5, 6}), 100));
}

TEST(StopCheckerTest, EosStopsUnlessIgnored) {
  auto d = CheckStop(WithOutputs({.eos_token_ids = {2, 3}}, {5, 3}), 100);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, RequestStatus::kFinishedStopped);
  EXPECT_EQ(d->stop_token, 3);
  EXPECT_FALSE(CheckStop(WithOutputs({.ignore_eos = true, .eos_token_ids = {2, 3}}, {5, 3}), 100));
}

TEST(StopCheckerTest, StopTokenIdsStopEvenWithIgnoreEos) {
  auto d = CheckStop(WithOutputs({.ignore_eos = true, .stop_token_ids = {9}}, {9}), 100);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, RequestStatus::kFinishedStopped);
  EXPECT_EQ(d->stop_token, 9);
}

TEST(StopCheckerTest, MaxTokensAndMaxModelLen) {
  auto d = CheckStop(WithOutputs({.max_tokens = 3}, {5, 6, 7}), 100);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, RequestStatus::kFinishedLengthCapped);
  EXPECT_FALSE(d->stop_token);
  EXPECT_FALSE(CheckStop(WithOutputs({.max_tokens = 4}, {5, 6, 7}), 100));
  // 4 prompt + 3 outputs reach max_model_len 7.
  auto m = CheckStop(WithOutputs({}, {5, 6, 7}), 7);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, RequestStatus::kFinishedLengthCapped);
  EXPECT_FALSE(CheckStop(WithOutputs({}, {5, 6}), 7));
}

TEST(StopCheckerTest, EosOnTheLastAllowedTokenIsAStop) {
  auto d = CheckStop(WithOutputs({.max_tokens = 2, .eos_token_ids = {2}}, {5, 2}), 100);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, RequestStatus::kFinishedStopped);
}

TEST(StopCheckerTest, MinTokensDefersEosButNotLength) {
  EXPECT_FALSE(CheckStop(WithOutputs({.min_tokens = 3, .eos_token_ids = {2}}, {5, 2}), 100));
  auto d = CheckStop(WithOutputs({.min_tokens = 3, .eos_token_ids = {2}}, {5, 6, 2}), 100);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, RequestStatus::kFinishedStopped);
  auto len = CheckStop(WithOutputs({.min_tokens = 3, .eos_token_ids = {2}}, {2, 2}), 6);
  ASSERT_TRUE(len);
  EXPECT_EQ(len->status, RequestStatus::kFinishedLengthCapped);
}

TEST(RequestParamsTest, Validate) {
  EXPECT_TRUE(RequestParams{}.Validate().ok());
  EXPECT_FALSE(RequestParams{.max_tokens = 0}.Validate().ok());
  EXPECT_FALSE((RequestParams{.max_tokens = 2, .min_tokens = 3}.Validate().ok()));
  EXPECT_FALSE(RequestParams{.n = 0}.Validate().ok());
}

}  // namespace
}  // namespace pagoda::core
