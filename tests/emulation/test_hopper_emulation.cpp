// The Hopper family (cuda/hopper: TMA producer warpgroup, two wgmma consumer warpgroups,
// mbarrier pipelines), emulated on the CPU against the CPU reference: the prefill feature
// matrix of the sm_80 suite (every feature and their combination, head dims 64 / 128 / 256,
// fp16 / bf16, odd lengths, Sq != Sk, GQA 8:1, varlen with empty sequences, per-head block
// masks of 64 and 128, rows without keys), routed by the library's own select_kernel on the
// emulated H100 with the sm_90a image present. Each case also checks that the Hopper kernel
// ran; the dispatch tests check what falls back to the mma.sync family, and why.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "emu_cases.hpp"
#include "emu_compare.hpp"
#include "emu_runtime.hpp"
#include "emulated_forward.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr DType kBf16 = DType::kBFloat16;
constexpr DType kFp16 = DType::kFloat16;

/// The emulated library holds the sm_90a image for one scope.
struct Sm90aImage {
  Sm90aImage() { attnkit_emu::g_sm90a_image = true; }
  ~Sm90aImage() { attnkit_emu::g_sm90a_image = false; }
};

/// \brief The mma.sync family's curated cases (all but FP8 caches, which run on that family:
/// HopperEmulationDispatch), then larger ones: both warpgroups of a CTA, several CTAs and key
/// tiles, the lengths of the issue (113 x 203, 128 x 217, 1023 x 1024), GQA 8:1, varlen
/// sequences longer than a CTA, per-head masks of 64 / 128 rows and keys.
std::vector<EmuCase> hopper_cases() {
  std::vector<EmuCase> v;
  for (const EmuCase& e : curated_cases()) {
    if (e.c.kv_fp8 == DType::kFloat32) v.push_back(e);
  }
  {
    GpuCase c = small("sm90_dense_odd_113x203_batch2", 113, 203);
    c.batch = 2;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_dense_bhsd_128x217", 128, 217);
    c.hq = c.hkv = 1;
    c.bhsd = true;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("sm90_causal_1023x1024", 1023, 1024);
    c.hq = c.hkv = 1;
    c.causal = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_window_left_sink_tokens_gap_skip", 300, 300);
    c.hq = c.hkv = 1;
    c.causal = true;
    c.window_left = 20;
    c.sink_tokens = 5;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_gqa_8to1_causal_no_lse", 75, 90);
    c.hq = 8;
    c.hkv = 1;
    c.causal = true;
    c.lse = false;
    v.push_back(at(c, 128, kBf16));
  }
  {
    GpuCase c = small("sm90_varlen_gqa_with_empty_sequences", 0, 0);  // (9 queries, 0 keys) and (0, 0)
    c.hq = 4;
    c.varlen_q = {150, 0, 9, 33};
    c.varlen_k = {90, 0, 0, 217};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_learned_sink_rows_without_keys", 200, 70);
    c.causal = true;
    c.sink_logit = {0.5, -kInf};
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("sm90_gate_headwise_varlen", 0, 0);
    c.varlen_q = {33, 140};
    c.varlen_k = {40, 71};
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 256, kBf16));
  }
  {
    // 64-row mask blocks: the two warpgroups of a CTA walk different mask rows.
    GpuCase c = small("sm90_block_mask_64x128_per_head_empty_rows_causal", 130, 260);
    c.hq = 4;
    c.mask_block_q = 64;
    c.mask_block_k = 128;
    c.mask_density = 0.6;
    c.mask_empty_rows = true;
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("sm90_block_mask_128x128_hm_eq_hkv_bm1", 200, 300);
    c.batch = 2;
    c.hq = 4;
    c.mask_heads = 2;
    c.mask_block_q = 128;
    c.mask_block_k = 128;
    c.mask_density = 0.5;
    c.mask_batch_broadcast = true;
    v.push_back(at(c, 128, kBf16));
  }
  {
    // 64-key mask blocks at d64 / d128: the tile table's 64-key rows (with the overlap).
    GpuCase c = small("sm90_block_mask_64x64_per_head_gqa_varlen", 0, 0);
    c.hq = 4;
    c.hkv = 2;
    c.varlen_q = {140, 0, 70};
    c.varlen_k = {200, 30, 0};
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.5;
    c.mask_empty_rows = true;
    c.sink_logit = {0.5, -1.0};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_block_mask_128x64_causal_gate", 200, 230);
    c.mask_block_q = 128;
    c.mask_block_k = 64;
    c.mask_density = 0.6;
    c.causal = true;
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = everything(128, 128, 2, GateKind::kElementwise);
    c.name = "sm90_everything";
    c.sq = 200;
    c.sk = 260;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("sm90_causal_varlen", 0, 0);
    c.hq = c.hkv = 1;
    c.varlen_q = {33, 170};
    c.varlen_k = {50, 170};
    c.causal = true;
    v.push_back(at(c, 256, kFp16));
  }
  return v;
}

class HopperEmulation : public ::testing::TestWithParam<EmuCase> {};

TEST_P(HopperEmulation, MatchesCpuReference) {
  const EmuCase& e = GetParam();
  const Sm90aImage image;
  BuiltCall host;
  build_call(e.c, e.d, e.dtype, /*seed=*/2000 + e.d, &host);
  std::string kernel;
  const Outcome r = run_against_reference(host, [&kernel](const attnkit::AttentionParams& p) {
    return attnkit_emu::emulated_forward_via(p, &kernel);
  });
  expect_within(r, tolerance_for(e.dtype));
  EXPECT_EQ(kernel.rfind("fwd_sm90<", 0), 0u) << "ran " << kernel;
}

INSTANTIATE_TEST_SUITE_P(Sm90, HopperEmulation, ::testing::ValuesIn(hopper_cases()),
                         [](const ::testing::TestParamInfo<EmuCase>& info) { return info.param.c.name; });

/// \brief The kernel the emulated dispatcher picks for `c` (and runs it against the reference).
std::string kernel_for(const GpuCase& c, int64_t d, DType dtype, bool image) {
  attnkit_emu::g_sm90a_image = image;
  BuiltCall host;
  build_call(c, d, dtype, /*seed=*/7, &host);
  std::string kernel;
  const Outcome r = run_against_reference(host, [&kernel](const attnkit::AttentionParams& p) {
    return attnkit_emu::emulated_forward_via(p, &kernel);
  });
  attnkit_emu::g_sm90a_image = false;
  expect_within(r, tolerance_for(dtype));
  return kernel;
}

TEST(HopperEmulationDispatch, WithoutTheSm90aImageTheMmaSyncFamilyRuns) {
  EXPECT_EQ(kernel_for(small("dense", 70, 90), 64, kBf16, /*image=*/false).rfind("fwd_sm80<", 0), 0u);
  EXPECT_EQ(kernel_for(small("dense", 70, 90), 64, kBf16, /*image=*/true).rfind("fwd_sm90<", 0), 0u);
}

TEST(HopperEmulationDispatch, Fp8CachesFallBackToTheMmaSyncFamily) {
  GpuCase c = small("fp8", 70, 90);
  c.kv_fp8 = DType::kFloat8E4M3;
  EXPECT_EQ(kernel_for(c, 64, kBf16, /*image=*/true), "fwd_sm80<bf16,d64,kv=float8_e4m3>");
}

TEST(HopperEmulationDispatch, MaskBlocksOf64KeysTakeThe64KeyRow) {
  GpuCase c = small("mask_64x64", 130, 140);
  c.mask_block_q = 64;
  c.mask_block_k = 64;
  c.mask_density = 0.5;
  EXPECT_EQ(kernel_for(c, 128, kFp16, /*image=*/true), "fwd_sm90<fp16,d128,n64>");  // preferred row: 128 keys
  EXPECT_EQ(kernel_for(c, 64, kBf16, /*image=*/true), "fwd_sm90<bf16,d64,n64>");
  EXPECT_EQ(kernel_for(c, 256, kFp16, /*image=*/true), "fwd_sm90<fp16,d256>");  // d256's row is 64 keys
  c.mask_block_k = 128;
  EXPECT_EQ(kernel_for(c, 128, kFp16, /*image=*/true), "fwd_sm90<fp16,d128>");
}

/// \brief The plan the emulated dispatcher makes for `host` with the sm_90a image present.
attnkit_emu::EmulatedPlan plan_for(const BuiltCall& host) {
  const Sm90aImage image;
  attnkit_emu::EmulatedPlan plan;
  const attnkit::Status s = attnkit_emu::emulated_plan(host.params, &plan);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return plan;
}

TEST(HopperEmulationDispatch, ExplainSaysWhyTheHopperFamilyDidNotRun) {
  BuiltCall host;
  GpuCase c = small("fp8", 70, 90);
  c.kv_fp8 = DType::kFloat8E4M3;
  build_call(c, 64, kBf16, 7, &host);
  const attnkit_emu::EmulatedPlan plan = plan_for(host);
  EXPECT_EQ(plan.choice.kernel.rfind("fwd_sm80<", 0), 0u);
  EXPECT_NE(plan.choice.why.find("not the Hopper family: FP8 K / V caches"), std::string::npos) << plan.choice.why;

  BuiltCall dense;
  build_call(small("dense", 70, 90), 128, kBf16, 7, &dense);
  const attnkit_emu::EmulatedPlan hopper = plan_for(dense);
  EXPECT_EQ(hopper.choice.kernel, "fwd_sm90<bf16,d128>");
  EXPECT_EQ(hopper.choice.tile_q, 128);
  EXPECT_NE(hopper.choice.why.find("Hopper warp-specialized kernel"), std::string::npos) << hopper.choice.why;
}

// A layout TMA cannot describe (here K's batch stride of 2^40 elements, beyond the driver's
// 2^40-byte limit) goes to the mma.sync family, which has no such limit; only planned, never run.
TEST(HopperEmulationDispatch, LayoutsTmaCannotDescribeFallBackAndSaySo) {
  BuiltCall host;
  GpuCase c = small("dense", 70, 90);
  c.batch = 2;
  build_call(c, 64, kBf16, 7, &host);
  host.params.k.stride[0] = int64_t{1} << 40;
  const attnkit_emu::EmulatedPlan plan = plan_for(host);
  EXPECT_EQ(plan.choice.kernel.rfind("fwd_sm80<", 0), 0u) << plan.choice.kernel;
  EXPECT_NE(plan.choice.why.find("TMA cannot describe k: a stride is 2^40 bytes or more"), std::string::npos)
      << plan.choice.why;
}

// One head and one batch entry: their strides are never used, so whatever they are (here not
// even multiples of the row), the Hopper family still runs, and right.
TEST(HopperEmulationDispatch, StridesOfExtentOneDimensionsDoNotMatter) {
  GpuCase c = small("one_head_one_batch", 77, 130);
  c.hq = c.hkv = 1;
  EXPECT_EQ(kernel_for(c, 64, kFp16, /*image=*/true).rfind("fwd_sm90<", 0), 0u);
  BuiltCall host;
  build_call(c, 64, kFp16, 7, &host);
  host.params.k.stride[0] = int64_t{1} << 44;  // batch stride of the single batch entry
  host.params.k.stride[2] = int64_t{1} << 44;  // head stride of the single head
  EXPECT_EQ(plan_for(host).choice.kernel.rfind("fwd_sm90<", 0), 0u);
}

// plan once on the largest call, run smaller calls with new data: the Hopper choice is kept and
// its TMA maps are encoded per run, over each call's own pointers and lengths.
TEST(HopperEmulationPlan, OnePlanServesSmallerCallsWithNewData) {
  GpuCase largest = small("plan", 200, 260);
  largest.batch = 2;
  largest.causal = true;
  largest.sink_logit = {0.5, -1.0};
  BuiltCall big;
  build_call(largest, 128, kBf16, 11, &big);
  const attnkit_emu::EmulatedPlan plan = plan_for(big);
  ASSERT_EQ(plan.choice.kernel, "fwd_sm90<bf16,d128>");
  const Sm90aImage image;
  for (const auto& [batch, sq, sk, seed] : {std::tuple{2, 200, 260, 12}, std::tuple{1, 77, 131, 13}}) {
    GpuCase c = largest;
    c.batch = batch;
    c.sq = sq;
    c.sk = sk;
    BuiltCall host;
    build_call(c, 128, kBf16, seed, &host);
    const Outcome r = run_against_reference(host, [&plan](const attnkit::AttentionParams& p) {
      return attnkit_emu::emulated_run(plan, p, nullptr, 0);
    });
    expect_within(r, tolerance_for(kBf16), " (batch " + std::to_string(batch) + ")");
  }
}

}  // namespace
}  // namespace attnkit_test
