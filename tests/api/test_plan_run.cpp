// plan / run on the CPU backend (host tensors): a plan is made once and serves many calls
// with changing data and options; a call it does not fit is refused, naming the dimension,
// with nothing written; an empty plan is refused. The device path (split-KV workspace, a
// workspace too small) is tested on the emulated kernels (tests/emulation/test_plan_emulation.cpp)
// and, with a GPU, under CUDA graph capture (tests/cuda/test_cuda_plan.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {
namespace {

using attnkit::AttentionPlan;
using attnkit::Status;
using attnkit::StatusCode;

/// \brief A deep copy (HostTensor's own copy keeps the source's data pointer).
HostTensor copy_of(const HostTensor& t) {
  HostTensor c = t;
  c.view.data = c.bytes.data();
  return c;
}

/// \brief Bitwise equality of two tensors' elements (NaN == NaN).
bool same_values(const HostTensor& a, const HostTensor& b) {
  if (a.numel() != b.numel()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.get(i), y = b.get(i);
    if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
  }
  return true;
}

TEST(PlanRun, PlanOnceRunManyWithChangingDataAndOptions) {
  AttentionCase planned({2, 9, 13, 4, 2, 16, 16, DType::kFloat32}, /*seed=*/1);
  AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(planned.params, &plan).is_ok());
  ASSERT_TRUE(plan.valid());
  EXPECT_EQ(plan.workspace_bytes(), 0u);  // the CPU backend needs none
  EXPECT_NE(plan.description().find("backend=cpu"), std::string::npos) << plan.description();

  for (uint64_t seed = 2; seed < 6; ++seed) {
    AttentionCase call({2, 9, 13, 4, 2, 16, 16, DType::kFloat32}, seed);  // new data every time
    call.params.causal = seed % 2 == 0;                                   // options may change
    call.params.window_left = seed == 5 ? 3 : -1;
    ASSERT_TRUE(attnkit::run(plan, call.params, nullptr, 0).is_ok());
    const HostTensor o_run = copy_of(call.o), lse_run = copy_of(call.lse);
    call.poison();
    ASSERT_TRUE(attnkit::forward(call.params).is_ok());
    EXPECT_TRUE(same_values(o_run, call.o)) << "seed " << seed;
    EXPECT_TRUE(same_values(lse_run, call.lse)) << "seed " << seed;
  }
}

TEST(PlanRun, SmallerCallsFitThePlan) {
  AttentionCase planned({3, 20, 30, 4, 2, 16, 16, DType::kFloat32}, /*seed=*/7);
  AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(planned.params, &plan).is_ok());
  AttentionCase smaller({1, 5, 11, 4, 2, 16, 16, DType::kFloat32}, /*seed=*/8);
  ASSERT_TRUE(attnkit::run(plan, smaller.params, nullptr, 0).is_ok());
  EXPECT_TRUE(std::isfinite(smaller.o.get(0)));
}

TEST(PlanRun, CallsThePlanDoesNotFitAreRefusedAndWriteNothing) {
  AttentionCase planned({2, 9, 13, 4, 2, 16, 16, DType::kFloat32}, /*seed=*/1);
  AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(planned.params, &plan).is_ok());
  struct Misfit {
    CaseShape shape;
    const char* named;
  };
  const Misfit misfits[] = {
      {{3, 9, 13, 4, 2, 16, 16, DType::kFloat32}, "batch = 3 > 2"},
      {{2, 10, 13, 4, 2, 16, 16, DType::kFloat32}, "max Sq = 10 > 9"},
      {{2, 9, 14, 4, 2, 16, 16, DType::kFloat32}, "max Sk = 14 > 13"},
      {{2, 9, 13, 8, 2, 16, 16, DType::kFloat32}, "Hq = 8, planned 4"},
      {{2, 9, 13, 4, 4, 16, 16, DType::kFloat32}, "Hkv = 4, planned 2"},
      {{2, 9, 13, 4, 2, 32, 32, DType::kFloat32}, "D = 32, planned 16"},
      {{2, 9, 13, 4, 2, 16, 8, DType::kFloat32}, "Dv = 8, planned 16"},
      {{2, 9, 13, 4, 2, 16, 16, DType::kFloat16}, "dtype float16, planned float32"},
  };
  for (const Misfit& m : misfits) {
    AttentionCase call(m.shape, /*seed=*/3);
    const Status s = attnkit::run(plan, call.params, nullptr, 0);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << m.named;
    EXPECT_NE(s.message().find(m.named), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("does not fit its plan"), std::string::npos) << s.message();
    for (int64_t i = 0; i < call.o.numel(); ++i) ASSERT_TRUE(std::isnan(call.o.get(i))) << m.named << ": O written";
    for (int64_t i = 0; i < call.lse.numel(); ++i) ASSERT_TRUE(std::isnan(call.lse.get(i))) << m.named << ": LSE written";
  }
}

TEST(PlanRun, EmptyPlanAndInvalidCallsAreRefused) {
  AttentionCase call({1, 4, 4, 2, 2, 8, 8, DType::kFloat32}, /*seed=*/4);
  const AttentionPlan empty;
  EXPECT_FALSE(empty.valid());
  Status s = attnkit::run(empty, call.params, nullptr, 0);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("plan"), std::string::npos) << s.message();
  EXPECT_EQ(attnkit::plan(call.params, nullptr).code(), StatusCode::kInvalidArgument);

  AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(call.params, &plan).is_ok());
  call.params.window_left = -5;  // validation comes first, with its usual message
  s = attnkit::run(plan, call.params, nullptr, 0);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("window_left"), std::string::npos) << s.message();

  AttentionCase bad({1, 4, 4, 2, 2, 8, 8, DType::kFloat32}, /*seed=*/5);
  bad.params.window_right = -3;
  AttentionPlan not_made;
  EXPECT_EQ(attnkit::plan(bad.params, &not_made).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(not_made.valid());
}

TEST(PlanRun, CopiesShareOnePlan) {
  AttentionCase call({1, 4, 6, 2, 1, 8, 8, DType::kFloat32}, /*seed=*/6);
  AttentionPlan a;
  ASSERT_TRUE(attnkit::plan(call.params, &a).is_ok());
  AttentionPlan b = a;
  AttentionPlan c;
  c = b;
  a = AttentionPlan();  // the others keep it alive
  EXPECT_FALSE(a.valid());
  ASSERT_TRUE(c.valid());
  EXPECT_TRUE(attnkit::run(c, call.params, nullptr, 0).is_ok());
  EXPECT_EQ(b.description(), c.description());
}

}  // namespace
}  // namespace attnkit_test
