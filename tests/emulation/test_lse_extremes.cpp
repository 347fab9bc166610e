// Learned sinks near the float32 limit (an outside check's reproducer): sigma * log2(e)
// overflows for |sigma| > 2.36e38, and the LSE came out -inf where SPEC 4 says it is sigma.
// The prefill kernel and the decode kernel with 1, 2 and 4 key splits, emulated, against the
// CPU reference: O within tolerance, and LSE finite where the reference's is, and exact to
// float32 where the sink dominates.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "cuda/decode_gpu_case.hpp"
#include "emu_compare.hpp"
#include "emulated_decode.hpp"
#include "emulated_forward.hpp"

namespace attnkit_test {
namespace {

/// fp16, B = 1, Sq = 70, Sk = 90, Hq = 4, D = 64: the reproducer's shape. `causal_sk` > 0
/// makes the call causal with that many keys (Sq > Sk: rows without any key).
GpuCase huge_sink_case(std::vector<double> sinks, int64_t causal_sk = 0) {
  GpuCase c;
  c.name = "huge_sink";
  c.batch = 1;
  c.sq = 70;
  c.sk = causal_sk > 0 ? causal_sk : 90;
  c.causal = causal_sk > 0;
  c.hq = c.hkv = 4;
  c.sink_logit = std::move(sinks);
  return c;
}

const std::vector<double> kHugePositive = {2.3e38, 2.4e38, 3.4e38, 1e4};
const std::vector<double> kHugeNegative = {-2.3e38, -2.4e38, -3.4e38, -1e4};

/// \brief Every LSE entry of `got` equals the reference's float32 value exactly.
void expect_lse_exact(const HostTensor& got, const HostTensor& ref) {
  for (int64_t i = 0; i < ref.numel(); ++i) {
    ASSERT_EQ(static_cast<float>(got.get(i)), static_cast<float>(ref.get(i))) << "LSE entry " << i;
  }
}

Outcome run_prefill(const GpuCase& c) {
  BuiltCall host;
  build_call(c, 64, DType::kFloat16, /*seed=*/77, &host);
  return run_against_reference(host, attnkit_emu::emulated_forward);
}

TEST(LseExtremesEmulation, PrefillSinkNearFloatMaxGivesSigma) {
  const Outcome r = run_prefill(huge_sink_case(kHugePositive));
  expect_within(r, tolerance_for(DType::kFloat16));
}

TEST(LseExtremesEmulation, PrefillSinkBelowMinusFloatMaxOnRowsWithoutKeys) {
  // Causal with Sq 70 > Sk 40: rows 0-29 see no key, so LSE = sigma there.
  const Outcome r = run_prefill(huge_sink_case(kHugeNegative, /*causal_sk=*/40));
  expect_within(r, tolerance_for(DType::kFloat16));
}

TEST(LseExtremesEmulation, PrefillLseIsSigmaBitForBitWhenTheSinkDominates) {
  BuiltCall host;
  build_call(huge_sink_case(kHugePositive), 64, DType::kFloat16, /*seed=*/77, &host);
  ASSERT_TRUE(attnkit::forward(host.params).is_ok());
  const HostTensor lse_ref = clone(*host.lse);
  fill_nan(*host.lse);
  ASSERT_TRUE(attnkit_emu::emulated_forward(host.params).is_ok());
  // Heads 0-2 (sigma >= 2.3e38): every row's LSE is sigma itself. Head 3 (1e4) too: the
  // logits are O(1), so sum_j exp(s_j - 1e4) vanishes against 1.
  expect_lse_exact(*host.lse, lse_ref);
}

class LseExtremesDecodeEmulation : public ::testing::TestWithParam<int> {};

TEST_P(LseExtremesDecodeEmulation, PagedSinkNearFloatMaxWithSplits) {
  for (const auto& sinks : {kHugePositive, kHugeNegative}) {
    DecodeCase c;
    c.call = huge_sink_case(sinks, sinks[0] < 0 ? 40 : 0);
    c.page_size = 16;  // paged: the decode kernel takes any Sq
    BuiltCall host;
    build_host_decode_call(c, 64, DType::kFloat16, /*seed=*/79, &host);
    attnkit_emu::DecodeRun run;
    ASSERT_TRUE(attnkit::forward(host.params).is_ok());
    const HostTensor lse_ref = clone(*host.lse);
    const Outcome r = run_against_reference(host, [&](const attnkit::AttentionParams& p) {
      return attnkit_emu::emulated_decode(p, &run, GetParam());
    });
    expect_within(r, tolerance_for(DType::kFloat16), sinks[0] < 0 ? " (negative sinks)" : " (positive sinks)");
    EXPECT_EQ(run.num_splits, GetParam());
    // Where the sink dominates, the decode finalize gives sigma exactly, as the prefill
    // does (it once rounded twice: (m + log2 total) * ln 2).
    if (sinks[0] > 0) expect_lse_exact(*host.lse, lse_ref);
  }
}

INSTANTIATE_TEST_SUITE_P(Splits, LseExtremesDecodeEmulation, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<int>& info) { return std::to_string(info.param) + "_splits"; });

}  // namespace
}  // namespace attnkit_test
