// The real split-KV decode kernel, merge and launcher, emulated on the CPU, against the
// CPU reference: a curated, small-shape subset of the GPU decode cases
// (tests/cuda/test_cuda_decode.cpp), built by the same DecodeCase / page_kv helpers and
// held to the same tolerances. Runs without a GPU, in CI.
#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/decode_gpu_case.hpp"
#include "emu_compare.hpp"
#include "emu_runtime.hpp"
#include "emulated_decode.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// One curated decode case at one head dim and dtype; `min_splits` is the fewest key
/// splits the launcher must pick (so that the split and merge paths are known to run).
struct EmuDecodeCase {
  DecodeCase c;
  int64_t d = 64;
  DType dtype = DType::kBFloat16;
  int min_splits = 1;
};

void PrintTo(const EmuDecodeCase& e, std::ostream* os) { *os << e.c.call.name; }

/// \brief A DecodeCase with small shapes: one batch, two heads (1:1).
DecodeCase small(const std::string& name, int64_t sq, int64_t sk) {
  DecodeCase c = named(name, sq, sk);
  c.call.batch = 1;
  c.call.hq = c.call.hkv = 2;
  return c;
}

DecodeCase paged(DecodeCase c, int64_t page_size, std::vector<int32_t> lens = {}) {
  c.page_size = page_size;
  c.paged_lens = std::move(lens);
  c.call.name = "paged" + std::to_string(page_size) + "_" + c.call.name;
  return c;
}

EmuDecodeCase at(DecodeCase c, int64_t d, DType dtype, int min_splits = 1) {
  c.call.name += "_d" + std::to_string(d) + (dtype == DType::kBFloat16 ? "_bf16" : "_fp16");
  return EmuDecodeCase{c, d, dtype, min_splits};
}

// The emulated H100 (132 SMs) makes the launcher split whenever Sk >= 512 and the grid is
// small: splits = min(132 * ctas_per_sm / base CTAs, Sk / 256). Key lengths stay at a few
// hundred to 2000 (a 64-key tile of one kv head costs about 2 ms emulated), heads few.
std::vector<EmuDecodeCase> curated_cases() {
  constexpr DType kBf16 = DType::kBFloat16;
  constexpr DType kFp16 = DType::kFloat16;
  std::vector<EmuDecodeCase> v;
  {
    DecodeCase c = small("sq1_gqa1_batch2_splits", 1, 777);  // 3 splits, the last one partial
    c.call.batch = 2;
    v.push_back(at(c, 64, kBf16, /*min_splits=*/3));
  }
  {
    DecodeCase c = small("sq4_gqa8_causal_two_m_tiles", 4, 300);  // 32 packed rows, one split
    c.call.hq = 16;
    c.call.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  {
    DecodeCase c = small("sq16_gqa8_row_chunks", 16, 200);  // 128 packed rows: two 64-row CTAs
    c.call.hq = 16;
    c.call.causal = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    DecodeCase c = small("sq3_gqa4_odd_rows_splits", 3, 600);
    c.call.hq = 8;
    c.call.causal = true;
    v.push_back(at(c, 64, kFp16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("long_many_splits_mqa", 1, 2000);  // 7 splits of 5 tiles
    c.call.hq = 4;
    c.call.hkv = 1;
    c.call.causal = true;
    v.push_back(at(c, 128, kBf16, /*min_splits=*/7));
  }
  {
    DecodeCase c = small("sq_gt_sk_empty_rows", 8, 3);
    c.call.causal = true;
    v.push_back(at(c, 64, kBf16));
  }
  {
    DecodeCase c = small("sk0_sink", 2, 0);  // no key at all: O = 0, LSE = sink or -inf
    c.call.sink_logit = {0.5, -kInf};
    v.push_back(at(c, 64, kFp16));
  }
  {
    DecodeCase c = small("learned_sink_once_across_splits", 1, 1000);
    c.call.hq = 4;
    c.call.causal = true;
    c.call.sink_logit = {0.5, -1.0, 3.0, -kInf};
    v.push_back(at(c, 64, kBf16, /*min_splits=*/3));
  }
  {
    DecodeCase c = small("learned_sink_huge_splits", 1, 600);
    c.call.sink_logit = {1e4, 2.0};
    v.push_back(at(c, 64, kFp16, /*min_splits=*/2));
  }
  {
    // 104 visible keys out of 1500: two tiles for up to 5 splits, so most splits are empty.
    DecodeCase c = small("streaming_llm_empty_splits", 4, 1500);
    c.call.causal = true;
    c.call.window_left = 100;
    c.call.sink_tokens = 4;
    v.push_back(at(c, 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("window_left_right", 4, 400);
    c.call.window_left = 30;
    c.call.window_right = 1;
    v.push_back(at(c, 64, kFp16));
  }
  {
    DecodeCase c = small("head_scale_key_bias_range_rectify", 4, 700);
    c.call.causal = true;
    c.call.head_scale = {0.5, 2.0};
    c.call.log_gamma = {0.7, -kInf};
    c.call.bias_begin = 10;
    c.call.bias_end = 390;
    c.call.rectify_block_q = 3;
    v.push_back(at(c, 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("gate_headwise_sigmoid_f32", 2, 600);
    c.call.gate = GateKind::kHeadwise;
    v.push_back(at(c, 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("gate_elementwise_identity_qdtype", 1, 300);
    c.call.gate = GateKind::kElementwise;
    c.call.gate_float32 = false;
    c.call.gate_sigmoid = false;
    v.push_back(at(c, 64, kFp16));
  }
  {
    DecodeCase c = small("block_mask_2x16_causal", 4, 700);
    c.call.causal = true;
    c.call.mask_block_q = 2;
    c.call.mask_block_k = 16;
    c.call.mask_density = 0.5;
    v.push_back(at(c, 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("block_mask_64x64_empty_rows_gqa", 1, 1000);
    c.call.hq = 8;
    c.call.mask_block_q = 64;
    c.call.mask_block_k = 64;
    c.call.mask_density = 0.4;
    c.call.mask_empty_rows = true;
    c.call.mask_heads = 2;
    c.call.mask_batch_broadcast = true;
    v.push_back(at(c, 64, kFp16, /*min_splits=*/3));
  }
  {
    // Varlen Q and K: an empty query sequence and an empty key sequence (Sk_b = 0).
    DecodeCase c = small("varlen_q_empty_sequences", 0, 0);
    c.call.hq = 8;
    c.call.causal = true;
    c.call.varlen_q = {1, 4, 0, 2};
    c.call.varlen_k = {300, 900, 10, 0};
    v.push_back(at(c, 64, kBf16, /*min_splits=*/3));
  }
  {
    DecodeCase c = small("no_lse", 1, 500);
    c.call.lse = false;
    c.call.causal = true;
    v.push_back(at(c, 64, kFp16));
  }
  // Paged caches: pages shuffled, unused slots NaN, partial last pages, an empty sequence.
  {
    DecodeCase c = small("sq1_gqa1_lens", 1, 700);
    c.call.batch = 3;
    v.push_back(at(paged(c, 16, {700, 33, 0}), 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("sq4_gqa8_causal_lens", 4, 1000);
    c.call.batch = 2;
    c.call.hq = 16;
    c.call.causal = true;
    v.push_back(at(paged(c, 64, {300, 1000}), 64, kFp16, /*min_splits=*/3));
  }
  {
    DecodeCase c = small("streaming_llm_sink", 4, 1200);
    c.call.batch = 2;
    c.call.causal = true;
    c.call.window_left = 150;
    c.call.sink_tokens = 4;
    c.call.sink_logit = {0.2, -1.0};
    v.push_back(at(paged(c, 64, {1200, 70}), 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("gate_packed_causal", 2, 500);
    c.call.gate = GateKind::kElementwise;
    c.call.gate_packed = true;
    c.call.causal = true;
    v.push_back(at(paged(c, 16), 64, kBf16));
  }
  {
    DecodeCase c = small("varlen_q_block_mask", 0, 0);
    c.call.hq = 8;
    c.call.varlen_q = {2, 1, 3};
    c.call.varlen_k = {530, 0, 1100};
    c.call.mask_block_q = 2;
    c.call.mask_block_k = 64;
    c.call.mask_density = 0.5;
    c.call.causal = true;
    v.push_back(at(paged(c, 16), 64, kFp16, /*min_splits=*/4));
  }
  {
    DecodeCase c = small("sq1_gqa4", 1, 600);
    c.call.batch = 2;
    c.call.hq = 8;
    c.call.causal = true;
    v.push_back(at(paged(c, 64, {600, 129}), 256, kFp16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("everything", 4, 1300);
    c.call.hq = 8;
    c.call.causal = true;
    c.call.window_left = 400;
    c.call.sink_tokens = 8;
    c.call.head_scale = {1.2, 0.8};
    c.call.log_gamma = {-0.5, 0.4, -kInf};
    c.call.bias_begin = 0;
    c.call.bias_end = 4;
    c.call.sink_logit = {0.3, -0.2, 2.0};
    c.call.mask_block_q = 64;
    c.call.mask_block_k = 64;
    c.call.mask_density = 0.7;
    c.call.mask_heads = 2;
    c.call.rectify_block_q = 64;
    c.call.gate = GateKind::kElementwise;
    v.push_back(at(c, 128, kFp16, /*min_splits=*/2));
    v.push_back(at(paged(c, 16, {1300}), 64, kBf16, /*min_splits=*/2));
  }
  {
    // Very different key lengths in one batch (as the GPU suite's 1-to-32k case, shorter).
    DecodeCase c = small("lengths_1_to_4k_sq1", 1, 4000);
    c.call.batch = 5;
    c.call.hq = 4;
    c.call.hkv = 1;
    c.call.causal = true;
    c.call.sink_logit = {0.2, -1.0};
    v.push_back(at(paged(c, 64, {1, 4000, 100, 0, 2500}), 128, kBf16, /*min_splits=*/15));
  }
  {
    DecodeCase c = small("dense_gqa2", 2, 400);
    c.call.hq = 4;
    v.push_back(at(c, 256, kBf16));
  }
  // FP8 KV caches (kernel instances with kKvFp8): K / V staged as E4M3 or E5M2 bytes and
  // converted exactly in shared memory; scales per tensor or per kv head.
  {
    DecodeCase c = small("fp8_e4m3_per_tensor_splits", 1, 700);
    c.call.kv_fp8 = DType::kFloat8E4M3;
    c.call.sink_logit = {0.5, -1.0};
    v.push_back(at(c, 64, kBf16, /*min_splits=*/2));
  }
  {
    DecodeCase c = small("fp8_e5m2_per_head_gqa_causal", 4, 300);
    c.call.kv_fp8 = DType::kFloat8E5M2;
    c.call.kv_scale_per_head = true;
    c.call.hq = 8;
    c.call.causal = true;
    c.call.window_left = 100;
    c.call.sink_tokens = 3;
    v.push_back(at(c, 64, kFp16));
  }
  {
    DecodeCase c = small("fp8_e4m3_per_head_varlen_empty", 0, 0);
    c.call.kv_fp8 = DType::kFloat8E4M3;
    c.call.kv_scale_per_head = true;
    c.call.hq = 4;
    c.call.varlen_q = {2, 0, 1};
    c.call.varlen_k = {200, 0, 90};
    c.call.head_scale = {0.5, 1.0, 2.0, 1.5};
    c.call.log_gamma = {1.0, -2.0, 0.5, 0.0};
    v.push_back(at(c, 128, kFp16));
  }
  v.push_back(at(paged([] {
                       DecodeCase c = small("fp8_e5m2_everything", 3, 800);
                       c.call.kv_fp8 = DType::kFloat8E5M2;
                       c.call.hq = 4;
                       c.call.causal = true;
                       c.call.sink_logit = {0.3, -0.2};
                       c.call.mask_block_q = 64;
                       c.call.mask_block_k = 64;
                       c.call.mask_density = 0.6;
                       c.call.rectify_block_q = 64;
                       c.call.gate = GateKind::kElementwise;
                       return c;
                     }(),
                     16),
                 256, kBf16, /*min_splits=*/2));
  return v;
}

/// \brief Runs `e` on the CPU reference, then on the emulated decode launcher.
Outcome run_emulated(const EmuDecodeCase& e, attnkit_emu::DecodeRun* run, int force_splits = 0) {
  BuiltCall host;
  build_host_decode_call(e.c, e.d, e.dtype, /*seed=*/2000 + e.d, &host);
  return run_against_reference(host, [&](const attnkit::AttentionParams& p) {
    return attnkit_emu::emulated_decode(p, run, force_splits);
  });
}

class DecodeKernelEmulation : public ::testing::TestWithParam<EmuDecodeCase> {};

TEST_P(DecodeKernelEmulation, MatchesCpuReference) {
  const EmuDecodeCase& e = GetParam();
  attnkit_emu::DecodeRun run;
  const Outcome r = run_emulated(e, &run);
  expect_within(r, tolerance_for(e.dtype), " | " + run.kernel + " splits=" + std::to_string(run.num_splits));
  EXPECT_NE(run.kernel.find("decode_sm80<"), std::string::npos) << run.kernel;
  EXPECT_GE(run.num_splits, e.min_splits) << "the case no longer exercises the split-KV merge";
}

INSTANTIATE_TEST_SUITE_P(Curated, DecodeKernelEmulation, ::testing::ValuesIn(curated_cases()),
                         [](const ::testing::TestParamInfo<EmuDecodeCase>& info) { return info.param.c.call.name; });

// More splits than key tiles (forced, as an explain()-reported choice could be): the
// trailing splits see no key and must merge as empty, not as NaN.
TEST(DecodeKernelEmulationSplits, MoreSplitsThanTilesMergeAsEmpty) {
  DecodeCase c = small("more_splits_than_tiles", 2, 150);  // 3 tiles, 16 splits
  c.call.sink_logit = {0.5, -kInf};
  const EmuDecodeCase e = at(paged(c, 16), 64, DType::kBFloat16);
  attnkit_emu::DecodeRun run;
  expect_within(run_emulated(e, &run, /*force_splits=*/16), tolerance_for(e.dtype));
  EXPECT_EQ(run.num_splits, 16);
}

// An FP8 cache runs the FP8 instance, says so in explain(), and reads the same values as a
// 16-bit cache holding the dequantised keys would give (the CPU reference, within tolerance).
TEST(DecodeKernelEmulationFp8, RunsTheFp8InstanceForBothFormats) {
  for (const DType format : {DType::kFloat8E4M3, DType::kFloat8E5M2}) {
    DecodeCase c = small("fp8_instance", 2, 300);
    c.call.kv_fp8 = format;
    const EmuDecodeCase e = at(c, 64, DType::kFloat16);
    attnkit_emu::DecodeRun run;
    expect_within(run_emulated(e, &run), tolerance_for(e.dtype));
    EXPECT_NE(run.kernel.find(std::string("kv=") + attnkit::dtype_name(format)), std::string::npos) << run.kernel;
  }
}

// ---- self-check: a wrong emulation must fail ----------------------------------------

TEST(DecodeKernelEmulationSelfCheck, MissingSyncthreadsIsDetected) {
  const ScopedFault fault(attnkit_emu::Fault::kNoSyncthreads);
  const EmuDecodeCase e = at(small("self_check", 1, 700), 64, DType::kBFloat16);
  attnkit_emu::DecodeRun run;
  const Outcome r = run_emulated(e, &run);
  EXPECT_NE(r.status.message().find("shared-memory race"), std::string::npos)
      << "a decode kernel without barriers went unnoticed: " << r.status.message() << " O: " << r.o.str();
}

TEST(DecodeKernelEmulationSelfCheck, MissingCpAsyncZeroFillIsDetected) {
  // One tile of 40 keys: its 24 rows past the split keep the NaN poison, and P * V meets them.
  const ScopedFault fault(attnkit_emu::Fault::kCpAsyncNoZeroFill);
  const EmuDecodeCase e = at(small("self_check", 1, 40), 64, DType::kBFloat16);
  attnkit_emu::DecodeRun run;
  const Outcome r = run_emulated(e, &run);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_FALSE(r.within(tolerance_for(e.dtype))) << "NaN-poisoned shared memory went unnoticed: O: " << r.o.str();
}

TEST(DecodeKernelEmulationSelfCheck, SwappedMmaAFragmentIsDetected) {
  const ScopedFault fault(attnkit_emu::Fault::kMmaSwapAHalves);
  const EmuDecodeCase e = at(small("self_check", 4, 300), 64, DType::kBFloat16);
  attnkit_emu::DecodeRun run;
  const Outcome r = run_emulated(e, &run);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_FALSE(r.within(tolerance_for(e.dtype))) << "a wrong mma fragment layout went unnoticed: O: " << r.o.str();
}

}  // namespace
}  // namespace attnkit_test
