// The C ABI of plan / run (include/attnkit/attnkit.h): create, workspace size, run, destroy,
// and the usual error convention (a status, attnkit_last_error naming the argument).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "api/c_api_fixture.hpp"
#include "attnkit/attnkit.h"
#include "common/attention_case.hpp"

namespace attnkit_test::c_api {
namespace {

TEST(CApiPlan, CreateRunDestroyMatchesForward) {
  AttentionCase call({2, 7, 11, 4, 2, 16, 16, DType::kFloat32}, /*seed=*/21);
  call.params.causal = true;
  const attnkit_attention_params c = c_params(call.params);
  attnkit_plan* plan = nullptr;
  ASSERT_EQ(attnkit_plan_create(&c, &plan), ATTNKIT_STATUS_OK) << attnkit_last_error();
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(attnkit_plan_workspace_bytes(plan), 0u);  // host tensors: the CPU backend
  ASSERT_EQ(attnkit_run(plan, &c, nullptr, 0), ATTNKIT_STATUS_OK) << attnkit_last_error();
  std::vector<double> first(static_cast<size_t>(call.o.numel()));
  for (int64_t i = 0; i < call.o.numel(); ++i) first[static_cast<size_t>(i)] = call.o.get(i);
  call.poison();
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK);
  for (int64_t i = 0; i < call.o.numel(); ++i) ASSERT_EQ(first[static_cast<size_t>(i)], call.o.get(i)) << i;
  attnkit_plan_destroy(plan);
  attnkit_plan_destroy(nullptr);
}

TEST(CApiPlan, ErrorsNameTheArgument) {
  AttentionCase call({1, 4, 5, 2, 2, 8, 8, DType::kFloat32}, /*seed=*/22);
  const attnkit_attention_params c = c_params(call.params);
  EXPECT_EQ(attnkit_plan_create(&c, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("plan"), std::string::npos);
  EXPECT_EQ(attnkit_run(nullptr, &c, nullptr, 0), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("plan"), std::string::npos);
  EXPECT_EQ(attnkit_plan_workspace_bytes(nullptr), 0u);

  attnkit_plan* plan = reinterpret_cast<attnkit_plan*>(0x1);
  attnkit_attention_params bad = c;
  bad.window_left = -4;
  EXPECT_EQ(attnkit_plan_create(&bad, &plan), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(plan, nullptr);
  EXPECT_NE(std::string(attnkit_last_error()).find("window_left"), std::string::npos);

  ASSERT_EQ(attnkit_plan_create(&c, &plan), ATTNKIT_STATUS_OK);
  AttentionCase larger({2, 4, 5, 2, 2, 8, 8, DType::kFloat32}, /*seed=*/23);
  const attnkit_attention_params cl = c_params(larger.params);
  EXPECT_EQ(attnkit_run(plan, &cl, nullptr, 0), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("batch = 2 > 1"), std::string::npos) << attnkit_last_error();
  for (int64_t i = 0; i < larger.o.numel(); ++i) ASSERT_TRUE(std::isnan(larger.o.get(i)));
  attnkit_plan_destroy(plan);
}

}  // namespace
}  // namespace attnkit_test::c_api
