// The real forward kernel, emulated on the CPU, against the CPU reference: a curated,
// small-shape subset of the GPU feature cases (tests/cuda/test_cuda_forward.cpp), built by
// the same build_call and held to the same tolerances. Runs without a GPU, in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <string>
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

// Shapes stay around 70-260 with odd tails so every case covers partial kv tiles and
// partial query blocks while an emulated CTA stays cheap; most cases are one or two
// heads and one batch. Head dim 64 carries the features, 128 and 256 the tile shapes.
std::vector<EmuCase> curated_cases() {
  constexpr DType kBf16 = DType::kBFloat16;
  constexpr DType kFp16 = DType::kFloat16;
  std::vector<EmuCase> v;
  {
    GpuCase c = small("dense_bshd_batch2", 97, 131);
    c.batch = 2;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("dense_bhsd", 75, 140);
    c.bhsd = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("causal_sq_lt_sk", 70, 203);
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("causal_sq_gt_sk_empty_rows", 140, 45);  // rows 0-94 see no key: O = 0, LSE = -inf
    c.causal = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("window_left_sink_tokens_gap_skip", 230, 230);  // the last CTA skips the tile between sinks and window
    c.hq = c.hkv = 1;
    c.causal = true;
    c.window_left = 20;
    c.sink_tokens = 5;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("window_left_right", 100, 137);
    c.window_left = 30;
    c.window_right = 10;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("gqa_4to1_causal_no_lse", 75, 90);
    c.hq = 4;
    c.hkv = 1;
    c.causal = true;
    c.lse = false;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("varlen_gqa_with_empty_sequences", 0, 0);  // (9 queries, 0 keys) and (0, 0)
    c.hq = 4;
    c.varlen_q = {70, 0, 9, 33};
    c.varlen_k = {90, 0, 0, 17};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("head_scale_key_bias_neg_inf", 80, 130);
    c.causal = true;
    c.head_scale = {0.5, 2.0};
    c.log_gamma = {1.0, -kInf};
    c.bias_begin = 10;
    c.bias_end = 90;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("learned_sink_rows_without_keys", 100, 40);
    c.causal = true;
    c.sink_logit = {0.5, -kInf};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("learned_sink_huge_all_keys_biased_out", 70, 100);  // head 1: every key -inf, only the sink
    c.sink_logit = {1e4, 2.0};
    c.log_gamma = {0.3, -kInf};
    c.bias_begin = 0;
    c.bias_end = 100;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("gate_headwise_f32_sigmoid_varlen", 0, 0);
    c.varlen_q = {33, 80};
    c.varlen_k = {40, 71};
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("gate_elementwise_qdtype_identity", 70, 70);
    c.gate = GateKind::kElementwise;
    c.gate_float32 = false;
    c.gate_sigmoid = false;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("gate_elementwise_packed_in_place_causal", 77, 77);
    c.gate = GateKind::kElementwise;
    c.gate_packed = true;
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = small("rectify_block_q64_causal", 130, 100);
    c.causal = true;
    c.rectify_block_q = 64;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("block_mask_64x64_empty_rows_bm1", 140, 140);
    c.batch = 2;
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.5;
    c.mask_empty_rows = true;
    c.mask_batch_broadcast = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("block_mask_64x128_hm_eq_hkv_causal", 130, 260);
    c.hq = 4;
    c.mask_heads = 2;
    c.mask_block_q = 64;
    c.mask_block_k = 128;
    c.mask_density = 0.6;
    c.mask_empty_rows = true;
    c.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    GpuCase c = everything(128, 64, 2, GateKind::kElementwise);
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = everything(64, 128, 1, GateKind::kHeadwise);
    c.gate_float32 = false;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("causal_bhsd_batch2", 90, 130);
    c.hq = c.hkv = 1;
    c.batch = 2;
    c.bhsd = true;
    c.causal = true;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("gqa_window_sink_gate", 100, 120);
    c.hkv = 1;
    c.causal = true;
    c.window_left = 40;
    c.sink_logit = {0.7, -1.0};
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 128, kBf16));
  }
  {
    GpuCase c = small("dense", 70, 100);
    c.hq = c.hkv = 1;
    v.push_back(at(c, 256, kBf16));
  }
  {
    GpuCase c = small("causal_varlen", 0, 0);
    c.hq = c.hkv = 1;
    c.varlen_q = {33, 70};
    c.varlen_k = {50, 70};
    c.causal = true;
    v.push_back(at(c, 256, kFp16));
  }
  {
    // FP8 caches on the prefill kernel (kKvFp8 instances): raw tiles staged, converted exactly.
    GpuCase c = small("fp8_e4m3_causal_gqa_sinks", 113, 203);
    c.hq = 4;
    c.kv_fp8 = DType::kFloat8E4M3;
    c.causal = true;
    c.sink_logit = {0.5, -1.0, 2.0, -kInf};
    v.push_back(at(c, 64, kBf16));
  }
  {
    GpuCase c = small("fp8_e5m2_per_head_varlen_mask_gate", 0, 0);
    c.hq = 4;
    c.kv_fp8 = DType::kFloat8E5M2;
    c.kv_scale_per_head = true;
    c.varlen_q = {70, 0, 33};
    c.varlen_k = {140, 10, 0};
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.7;
    c.gate = GateKind::kHeadwise;
    v.push_back(at(c, 128, kFp16));
  }
  {
    GpuCase c = small("fp8_e4m3_per_head_window", 90, 150);
    c.hq = c.hkv = 1;
    c.kv_fp8 = DType::kFloat8E4M3;
    c.kv_scale_per_head = true;
    c.causal = true;
    c.window_left = 40;
    c.sink_tokens = 2;
    v.push_back(at(c, 256, kBf16));
  }
  {
    // d256 walks 32-key tiles (kernel_traits.cuh): a 64-key mask block is two of them,
    // and the window / sink-token gap is skipped at 32-key granularity.
    GpuCase c = small("block_mask_64x64_window_sinks", 150, 230);
    c.hq = c.hkv = 1;
    c.mask_block_q = 64;
    c.mask_block_k = 64;
    c.mask_density = 0.6;
    c.causal = true;
    c.window_left = 70;
    c.sink_tokens = 3;
    v.push_back(at(c, 256, kBf16));
  }
  return v;
}

/// \brief Runs `e` on the CPU reference, then on the emulated kernel, over the same host buffers.
Outcome run_emulated(const EmuCase& e) {
  BuiltCall host;
  build_call(e.c, e.d, e.dtype, /*seed=*/1000 + e.d, &host);
  return run_against_reference(host, attnkit_emu::emulated_forward);
}

class KernelEmulation : public ::testing::TestWithParam<EmuCase> {};

TEST_P(KernelEmulation, MatchesCpuReference) {
  const EmuCase& e = GetParam();
  expect_within(run_emulated(e), tolerance_for(e.dtype));
}

INSTANTIATE_TEST_SUITE_P(Curated, KernelEmulation, ::testing::ValuesIn(curated_cases()),
                         [](const ::testing::TestParamInfo<EmuCase>& info) { return info.param.c.name; });

// ---- float32 output (internal, act_forward's forward) ---------------------------------
// The same kernel storing float2 instead of packed 16-bit pairs. Rounded once to Q's dtype,
// its O must equal the normal run's bit for bit (same arithmetic, same coordinates), and
// every element must be written (the buffer starts as NaN).

/// \brief The float32 O of `e`, rounded once, equals the normal run's O bit for bit.
void expect_float32_output_rounds_to_normal(const EmuCase& e) {
  ASSERT_FALSE(e.c.bhsd) << "the float32 O is [rows, Hq, Dv]: compare with a row-major O only";
  BuiltCall host;
  build_call(e.c, e.d, e.dtype, /*seed=*/1000 + e.d, &host);
  const Outcome normal = run_against_reference(host, attnkit_emu::emulated_forward);
  expect_within(normal, tolerance_for(e.dtype));
  const HostTensor o_normal = clone(*host.o);

  std::vector<float> o32(static_cast<size_t>(o_normal.numel()), std::numeric_limits<float>::quiet_NaN());
  const attnkit::Status s = attnkit_emu::emulated_forward_float32(host.params, o32.data());
  ASSERT_TRUE(s.is_ok()) << s.message();
  HostTensor rounded(e.dtype, {1});
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < o_normal.numel(); ++i) {
    rounded.set(0, o32[static_cast<size_t>(i)]);
    const double a = rounded.get(0), b = o_normal.get(i);
    if (!(a == b || (std::isnan(a) && std::isnan(b)))) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0) << "first at element " << first << ": float32 " << o32[static_cast<size_t>(first)]
                           << " vs " << o_normal.get(first);
}

class KernelEmulationFloat32Output : public ::testing::TestWithParam<EmuCase> {};

TEST_P(KernelEmulationFloat32Output, RoundsToTheNormalOutput) { expect_float32_output_rounds_to_normal(GetParam()); }

// The same on the Hopper family (the emulated library holding its sm_90a image): ACT's
// float32 forward goes through the same select_kernel.
class HopperEmulationFloat32Output : public ::testing::TestWithParam<EmuCase> {
 protected:
  void SetUp() override { attnkit_emu::g_sm90a_image = true; }
  void TearDown() override { attnkit_emu::g_sm90a_image = false; }
};

TEST_P(HopperEmulationFloat32Output, RoundsToTheNormalOutput) { expect_float32_output_rounds_to_normal(GetParam()); }

std::vector<EmuCase> float32_output_cases() {
  std::vector<EmuCase> v;
  for (const EmuCase& e : curated_cases()) {
    // Every variant with rectify + gate (d64 bf16, d128 fp16), and a varlen layout.
    if (e.c.name.rfind("everything", 0) == 0 || e.c.name == "gate_headwise_f32_sigmoid_varlen_d64_bf16") {
      v.push_back(e);
    }
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Curated, KernelEmulationFloat32Output, ::testing::ValuesIn(float32_output_cases()),
                         [](const ::testing::TestParamInfo<EmuCase>& info) { return info.param.c.name; });
INSTANTIATE_TEST_SUITE_P(Sm90, HopperEmulationFloat32Output, ::testing::ValuesIn(float32_output_cases()),
                         [](const ::testing::TestParamInfo<EmuCase>& info) { return info.param.c.name; });

// ---- the dispatcher's path ------------------------------------------------------------
// emulated_forward validates and dispatches as attnkit::forward does on a device call, so
// what the library refuses is refused here (it once ran such calls and returned garbage).

TEST(KernelEmulationDispatch, RefusesDvOtherThanD) {
  Rng rng(3);
  HostTensor q = make_normal(DType::kBFloat16, {1, 20, 2, 64}, rng), k = make_normal(DType::kBFloat16, {1, 30, 2, 64}, rng);
  HostTensor v = make_normal(DType::kBFloat16, {1, 30, 2, 128}, rng);
  HostTensor o(DType::kBFloat16, {1, 20, 2, 128});
  attnkit::AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.o = o.view;
  ASSERT_TRUE(attnkit::forward(p).is_ok()) << "the CPU backend takes Dv != D";
  const attnkit::Status s = attnkit_emu::emulated_forward(p);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kNotSupported) << s.message();
  EXPECT_NE(s.message().find("Dv"), std::string::npos) << s.message();
}

TEST(KernelEmulationDispatch, RefusesMaskBlocksTheTilesCannotWalk) {
  GpuCase c = small("mask_32x32", 100, 100);
  c.mask_block_q = c.mask_block_k = 32;
  BuiltCall host;
  build_call(c, 64, DType::kBFloat16, /*seed=*/5, &host);
  const attnkit::Status s = attnkit_emu::emulated_forward(host.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kNotSupported) << s.message();
  EXPECT_NE(s.message().find("block_mask"), std::string::npos) << s.message();
}

TEST(KernelEmulationDispatch, FewQueryRowsGoToTheDecodeKernel) {
  for (const int64_t sq : {4, 16, 17}) {
    BuiltCall host;
    build_call(small("routing", sq, 150), 64, DType::kFloat16, /*seed=*/6, &host);
    std::string kernel;
    const Outcome r = run_against_reference(
        host, [&kernel](const attnkit::AttentionParams& p) { return attnkit_emu::emulated_forward_via(p, &kernel); });
    expect_within(r, tolerance_for(DType::kFloat16));
    EXPECT_EQ(kernel.rfind(sq <= 16 ? "decode_sm80" : "fwd_sm80", 0), 0u) << "Sq " << sq << ": " << kernel;
  }
}

// ---- self-check: a wrong emulation must fail ----------------------------------------
// Each test breaks the emulator on purpose (attnkit_emu::Fault) and expects the kernel's
// output to leave tolerance, so a vacuous emulator (or comparison) cannot pass.

/// Two query blocks; `sk` keys.
EmuCase self_check_case(int64_t sk) {
  GpuCase c = small("self_check", 70, sk);
  c.hq = c.hkv = 1;
  return at(c, 64, DType::kBFloat16);
}

TEST(KernelEmulationSelfCheck, FaultFreeRunPasses) {
  const EmuCase e = self_check_case(/*sk=*/100);
  const Outcome r = run_emulated(e);
  EXPECT_TRUE(r.within(tolerance_for(e.dtype))) << r.status.message() << " O: " << r.o.str();
}

TEST(KernelEmulationSelfCheck, SwappedMmaAFragmentIsDetected) {
  const ScopedFault fault(attnkit_emu::Fault::kMmaSwapAHalves);
  const EmuCase e = self_check_case(/*sk=*/100);
  const Outcome r = run_emulated(e);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_FALSE(r.within(tolerance_for(e.dtype))) << "a wrong mma fragment layout went unnoticed: O: " << r.o.str();
}

TEST(KernelEmulationSelfCheck, MissingCpAsyncZeroFillIsDetected) {
  // One kv tile of 40 keys: its 24 rows past Sk keep the NaN poison, which P weights by
  // exactly 0 -- and 0 * NaN is NaN. (Past the first tile they would hold the previous
  // tile's finite values, and zero-fill would not matter.)
  const ScopedFault fault(attnkit_emu::Fault::kCpAsyncNoZeroFill);
  const EmuCase e = self_check_case(/*sk=*/40);
  const Outcome r = run_emulated(e);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_FALSE(r.within(tolerance_for(e.dtype))) << "NaN-poisoned shared memory went unnoticed: O: " << r.o.str();
}

TEST(KernelEmulationSelfCheck, MissingSyncthreadsIsDetected) {
  // The race detector names the first conflicting access (test_barrier_mutation.cpp deletes
  // the barriers one at a time).
  const ScopedFault fault(attnkit_emu::Fault::kNoSyncthreads);
  const EmuCase e = self_check_case(/*sk=*/100);
  const Outcome r = run_emulated(e);
  EXPECT_NE(r.status.message().find("shared-memory race"), std::string::npos)
      << "a kernel without barriers went unnoticed: " << r.status.message() << " O: " << r.o.str();
}

}  // namespace
}  // namespace attnkit_test
