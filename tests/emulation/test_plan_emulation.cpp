// plan / run over the emulated kernels (the steps of attnkit::run, host/plan_rule.hpp): a
// decode plan with split-KV needs a workspace, which the caller brings; one plan serves calls
// with new data and smaller shapes; a workspace too small, missing or misaligned is refused
// and nothing is written.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/decode_gpu_case.hpp"
#include "emu_compare.hpp"
#include "emulated_forward.hpp"

namespace attnkit_test {
namespace {

DecodeCase decode_case(int64_t batch, int64_t sk) {
  DecodeCase c = named("plan_decode", 1, sk);
  c.call.batch = batch;
  c.call.hq = 4;
  c.call.hkv = 2;
  c.call.causal = true;
  c.call.sink_logit = {0.5, -1.0};
  return c;
}

struct Workspace {
  std::vector<float> floats;
  explicit Workspace(size_t bytes) : floats(bytes / sizeof(float) + 4, std::numeric_limits<float>::quiet_NaN()) {}
  void* data() { return floats.data(); }
};

TEST(PlanEmulation, DecodePlanWithSplitsServesManyCallsWithTheCallersWorkspace) {
  BuiltCall largest;
  build_host_decode_call(decode_case(2, 900), 64, DType::kBFloat16, /*seed=*/1, &largest);
  attnkit_emu::EmulatedPlan plan;
  ASSERT_TRUE(attnkit_emu::emulated_plan(largest.params, &plan).is_ok());
  ASSERT_GT(plan.choice.num_splits, 1) << "the case must split keys (emulated H100)";
  ASSERT_GT(plan.workspace_bytes, 0u);
  Workspace ws(plan.workspace_bytes);

  // New data every call, and a smaller call (batch 1, fewer keys): the same plan and workspace.
  for (const auto& [batch, sk, seed] : {std::tuple{2, 900, 2}, std::tuple{2, 900, 3}, std::tuple{1, 500, 4}}) {
    BuiltCall host;
    build_host_decode_call(decode_case(batch, sk), 64, DType::kBFloat16, seed, &host);
    const Outcome r = run_against_reference(host, [&](const attnkit::AttentionParams& p) {
      return attnkit_emu::emulated_run(plan, p, ws.data(), plan.workspace_bytes);
    });
    expect_within(r, tolerance_for(DType::kBFloat16), " (batch " + std::to_string(batch) + ")");
  }
}

TEST(PlanEmulation, WorkspaceTooSmallMissingOrMisalignedIsRefusedAndNothingIsWritten) {
  BuiltCall host;
  build_host_decode_call(decode_case(2, 900), 64, DType::kFloat16, /*seed=*/5, &host);
  attnkit_emu::EmulatedPlan plan;
  ASSERT_TRUE(attnkit_emu::emulated_plan(host.params, &plan).is_ok());
  ASSERT_GT(plan.workspace_bytes, 0u);
  Workspace ws(plan.workspace_bytes);
  fill_nan(*host.o);
  struct Bad {
    void* ptr;
    size_t bytes;
    const char* says;
  };
  const Bad bad[] = {{ws.data(), plan.workspace_bytes - 4, "needs at least"},
                     {nullptr, plan.workspace_bytes, "needs at least"},
                     {static_cast<char*>(ws.data()) + 4, plan.workspace_bytes, "16-byte aligned"}};
  for (const Bad& b : bad) {
    const attnkit::Status s = attnkit_emu::emulated_run(plan, host.params, b.ptr, b.bytes);
    EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find(b.says), std::string::npos) << s.message();
  }
  for (int64_t i = 0; i < host.o->numel(); ++i) ASSERT_TRUE(std::isnan(host.o->get(i))) << "O written at " << i;
}

TEST(PlanEmulation, PrefillPlanRunsWithoutWorkspaceAndRefusesALargerCall) {
  GpuCase c;
  c.name = "plan_prefill";
  c.batch = 1;
  c.hq = c.hkv = 2;
  c.sq = 90;
  c.sk = 120;
  c.causal = true;
  BuiltCall host;
  build_call(c, 64, DType::kFloat16, /*seed=*/9, &host);
  attnkit_emu::EmulatedPlan plan;
  ASSERT_TRUE(attnkit_emu::emulated_plan(host.params, &plan).is_ok());
  EXPECT_EQ(plan.workspace_bytes, 0u);
  EXPECT_EQ(plan.choice.kernel.rfind("fwd_sm80", 0), 0u) << plan.choice.kernel;
  const Outcome r = run_against_reference(
      host, [&](const attnkit::AttentionParams& p) { return attnkit_emu::emulated_run(plan, p, nullptr, 0); });
  expect_within(r, tolerance_for(DType::kFloat16));

  c.sq = 91;  // one row more than planned
  BuiltCall larger;
  build_call(c, 64, DType::kFloat16, /*seed=*/10, &larger);
  const attnkit::Status s = attnkit_emu::emulated_run(plan, larger.params, nullptr, 0);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max Sq = 91 > 90"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace attnkit_test
