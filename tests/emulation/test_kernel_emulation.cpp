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
