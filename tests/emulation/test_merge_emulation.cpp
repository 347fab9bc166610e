// The real merge_states kernel (cuda/merge), emulated on the CPU: partial states come from
// forward() on the CPU backend (the call split over keys, tests/merge/merge_split.hpp), the
// merge runs through the emulated kernel, and the result must match the CPU merge of the
// same parts (float32: 2e-6; 16-bit outputs: tolerance_for) and the call made once. Every
// emulated output starts as NaN, so an element the kernel never writes fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/merge.hpp"
#include "common/test_tensors.hpp"
#include "emulated_merge.hpp"
#include "merge/merge_case.hpp"
#include "merge/merge_split.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The emulated kernel against the CPU merge of the same parts: O and LSE element by element.
void expect_close(const HostTensor& o, const HostTensor& lse, const HostTensor& o_ref, const HostTensor& lse_ref,
                  DType out_dtype, const std::string& what, bool against_one_call = false) {
  const bool same_parts = out_dtype == DType::kFloat32 && !against_one_call;
  const Tolerance tol = same_parts ? Tolerance{2e-6, 2e-6} : tolerance_for(out_dtype);
  const ErrorStats eo = compare(o, o_ref), el = compare(lse, lse_ref);
  EXPECT_EQ(eo.mismatched_nonfinite, 0) << what << " O: " << eo.str();
  EXPECT_LE(eo.rel_l2, tol.rel_l2) << what << " O: " << eo.str();
  EXPECT_LE(eo.max_abs, tol.max_abs) << what << " O: " << eo.str();
  EXPECT_EQ(el.mismatched_nonfinite, 0) << what << " LSE: " << el.str();
  EXPECT_LE(lse_error(lse, lse_ref), kLseTolerance) << what << " LSE: " << el.str();
}

/// A split call, its parts, and the CPU merge of them (the reference of the emulated kernel).
struct EmuSplit {
  std::unique_ptr<MergeCall> call;
  Parts parts;
  HostTensor o_ref, lse_ref;

  EmuSplit(const MergeSetup& s, MergeExtra extra, int chunks, uint64_t seed, DType out_dtype) {
    call = MergeCall::make(s, extra, seed);
    EXPECT_TRUE(attnkit::forward(call->params));
    Rng rng(seed + 77);
    Chunking split = call->split;
    split.num_chunks = chunks;
    split.chunk_of = random_chunks(call->nkb, chunks, rng);
    const attnkit::Status st = forward_parts(call->params, split, call->nqb, call->nkb, &parts);
    EXPECT_TRUE(st.is_ok()) << st.message();
    o_ref = nan_like(call->o.view, out_dtype);
    lse_ref = nan_like(call->lse.view, DType::kFloat32);
    const attnkit::Status ms = attnkit::merge_states(call->merge_params(parts, o_ref.view, lse_ref.view));
    EXPECT_TRUE(ms.is_ok()) << ms.message();
  }

  /// \brief The emulated merge into fresh NaN outputs of `out_dtype`.
  attnkit::Status emulate(HostTensor* o, HostTensor* lse, DType out_dtype) {
    *o = nan_like(call->o.view, out_dtype);
    *lse = nan_like(call->lse.view, DType::kFloat32);
    return attnkit_emu::emulated_merge_states(call->merge_params(parts, o->view, lse->view));
  }
};

struct EmuMergeCase {
  MergeSetup setup;
  MergeExtra extra;
  int chunks;
};

void PrintTo(const EmuMergeCase& c, std::ostream* os) { *os << c.setup.name; }

std::vector<EmuMergeCase> emu_cases() {
  std::vector<EmuMergeCase> v;
  const std::vector<MergeSetup> all = merge_setups();
  auto find = [&](const std::string& name) {
    for (const MergeSetup& s : all) {
      if (s.name == name) return s;
    }
    return MergeSetup{};
  };
  // Dv = 12: a full chunk (vector path for float32) and a partial one (scalar) per row.
  v.push_back({find("dense"), MergeExtra::kSinkHeadwiseGate, 3});
  v.push_back({find("causal_sq_gt_sk_empty_rows"), MergeExtra::kSink, 4});
  v.push_back({find("block_mask"), MergeExtra::kElementwiseGate, 5});
  v.push_back({find("varlen_empty_sequences"), MergeExtra::kSinkHeadwiseGate, 3});
  v.push_back({find("gqa"), MergeExtra::kNone, 2});
  {  // Dv = 16: every chunk aligned (vector loads and stores), two lanes per (row, head)
    MergeSetup s = find("window_sink_tokens");
    s.dv = 16;
    s.name += "_dv16";
    v.push_back({s, MergeExtra::kElementwiseGate, 4});
  }
  {  // Dv = 40: eight lanes per (row, head), the last with a half chunk
    MergeSetup s = find("key_bias");
    s.dv = 40;
    s.name += "_dv40";
    v.push_back({s, MergeExtra::kSink, 3});
  }
  {  // Dv = 300: 32 lanes per (row, head) and two chunks per lane
    MergeSetup s = find("dense");
    s.batch = 1;
    s.sq = 3;
    s.hq = s.hkv = 2;
    s.dv = 300;
    s.name += "_dv300";
    v.push_back({s, MergeExtra::kElementwiseGate, 3});
  }
  return v;
}

class MergeEmulation : public ::testing::TestWithParam<EmuMergeCase> {};

TEST_P(MergeEmulation, KernelMatchesCpuMergeAndOneCall) {
  const EmuMergeCase& c = GetParam();
  uint64_t seed = 500;
  for (DType dtype : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
    MergeSetup s = c.setup;
    s.dtype = dtype;
    const std::string what = s.name + " " + attnkit::dtype_name(dtype) + " " + extra_name(c.extra);
    EmuSplit split(s, c.extra, c.chunks, ++seed, dtype);
    HostTensor o, lse;
    const attnkit::Status st = split.emulate(&o, &lse, dtype);
    ASSERT_TRUE(st.is_ok()) << what << ": " << st.message();
    expect_close(o, lse, split.o_ref, split.lse_ref, dtype, what + " vs CPU merge");
    const Tolerance tol = tolerance_for(dtype);
    const ErrorStats one = compare(o, split.call->o);
    EXPECT_EQ(one.mismatched_nonfinite, 0) << what << " vs one call: " << one.str();
    EXPECT_LE(one.rel_l2, tol.rel_l2) << what << " vs one call: " << one.str();
    EXPECT_LE(one.max_abs, tol.max_abs) << what << " vs one call: " << one.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Features, MergeEmulation, ::testing::ValuesIn(emu_cases()),
                         [](const ::testing::TestParamInfo<EmuMergeCase>& info) { return info.param.setup.name; });

TEST(MergeEmulationRules, InPlaceEqualsOutOfPlaceBitForBit) {
  for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    MergeSetup s;
    s.dtype = dtype;
    s.dv = 16;
    EmuSplit split(s, MergeExtra::kSinkHeadwiseGate, 3, 601, dtype);
    HostTensor o, lse;
    ASSERT_TRUE(split.emulate(&o, &lse, dtype));
    // O into part 2, LSE into part 0.
    const attnkit::Status st = attnkit_emu::emulated_merge_states(
        split.call->merge_params(split.parts, split.parts.o_views[2], split.parts.lse_views[0]));
    ASSERT_TRUE(st.is_ok()) << st.message();
    EXPECT_EQ(split.parts.o[2].bytes, o.bytes);
    EXPECT_EQ(split.parts.lse[0].bytes, lse.bytes);
  }
}

TEST(MergeEmulationRules, PartsAtNegInfWithNanONeverLeak) {
  MergeSetup s;
  s.sq = 5;
  s.sk = 14;
  s.causal = true;
  EmuSplit split(s, MergeExtra::kSink, 4, 611, DType::kFloat32);
  for (size_t c = 0; c < split.parts.o.size(); ++c) {  // NaN wherever the LSE is -inf
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t i = 0; i < s.sq; ++i) {
          if (split.parts.lse[c].get((b * s.hq + h) * s.sq + i) != -kInf) continue;
          for (int64_t x = 0; x < s.dv; ++x) split.parts.o[c].set(((b * s.sq + i) * s.hq + h) * s.dv + x, kNaN);
        }
  }
  split.parts.o.push_back(nan_like(split.call->o.view, DType::kFloat32));  // -inf everywhere, O all NaN
  split.parts.lse.push_back(nan_like(split.call->lse.view, DType::kFloat32));
  for (int64_t n = 0; n < split.parts.lse.back().numel(); ++n) split.parts.lse.back().set(n, -kInf);
  split.parts.bind();
  HostTensor o, lse;
  ASSERT_TRUE(split.emulate(&o, &lse, DType::kFloat32));
  expect_close(o, lse, split.o_ref, split.lse_ref, DType::kFloat32, "NaN O at -inf");
}

TEST(MergeEmulationRules, HugeSinksAndEmptyRows) {
  for (double sigma : {3.4e38, -3.4e38}) {
    MergeSetup s = merge_setups()[2];  // causal, Sq > Sk: rows with no key at all
    EmuSplit split(s, MergeExtra::kSink, 3, 621, DType::kFloat32);
    for (int64_t h = 0; h < s.hq; ++h) split.call->sink.set(h, h == 2 ? -kInf : sigma);
    ASSERT_TRUE(attnkit::merge_states(split.call->merge_params(split.parts, split.o_ref.view, split.lse_ref.view)));
    HostTensor o, lse;
    ASSERT_TRUE(split.emulate(&o, &lse, DType::kFloat32));
    expect_close(o, lse, split.o_ref, split.lse_ref, DType::kFloat32, "sigma " + std::to_string(sigma));
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t i = 0; i < s.sq; ++i) {
        const double l0 = lse.get((b * s.hq + 0) * s.sq + i);
        if (sigma > 0) {
          EXPECT_EQ(l0, static_cast<double>(static_cast<float>(sigma)));  // exactly sigma
        }
        EXPECT_TRUE(std::isfinite(l0) || l0 == -kInf);
      }
  }
}

TEST(MergeEmulationRules, OnePartIsExact) {
  MergeSetup s;
  s.dv = 16;
  EmuSplit split(s, MergeExtra::kNone, 1, 631, DType::kFloat32);
  HostTensor o, lse;
  ASSERT_TRUE(split.emulate(&o, &lse, DType::kFloat32));
  EXPECT_EQ(o.bytes, split.parts.o[0].bytes);
  EXPECT_EQ(lse.bytes, split.parts.lse[0].bytes);
}

TEST(MergeEmulationRules, DtypeConversionsMisalignedViewsAndBf16Gate) {
  // float32 parts into a bf16 O with a bf16 elementwise gate (the bf16-gate instance).
  MergeSetup s;
  s.dv = 16;
  EmuSplit split(s, MergeExtra::kElementwiseGate, 3, 641, DType::kBFloat16);
  HostTensor gate_bf16(DType::kBFloat16, {s.batch, s.sq, s.hq, s.dv});
  for (int64_t n = 0; n < gate_bf16.numel(); ++n) gate_bf16.set(n, split.call->gate.get(n));
  split.call->params.gate.g = gate_bf16.view;
  ASSERT_TRUE(attnkit::merge_states(split.call->merge_params(split.parts, split.o_ref.view, split.lse_ref.view)));
  HostTensor o, lse;
  ASSERT_TRUE(split.emulate(&o, &lse, DType::kBFloat16));
  expect_close(o, lse, split.o_ref, split.lse_ref, DType::kBFloat16, "float32 -> bf16, bf16 gate");

  // A part one element off 16-byte alignment (scalar loads for it alone).
  HostTensor shifted(DType::kFloat32, {split.parts.o[1].numel() + 1});
  for (int64_t n = 0; n < split.parts.o[1].numel(); ++n) shifted.set(n + 1, split.parts.o[1].get(n));
  split.parts.o_views[1].data = shifted.ptr<float>() + 1;
  ASSERT_TRUE(split.emulate(&o, &lse, DType::kBFloat16));
  expect_close(o, lse, split.o_ref, split.lse_ref, DType::kBFloat16, "misaligned part");
}

TEST(MergeEmulationRules, SixtyFourPartsRunAndSixtyFiveAreRefused) {
  MergeSetup s;
  s.batch = 1;
  s.sq = 3;
  s.hq = s.hkv = 2;
  s.sk = 64 * 3;
  auto call = MergeCall::make(s, MergeExtra::kSink, 651);
  ASSERT_TRUE(attnkit::forward(call->params));
  Chunking split = call->split;
  split.num_chunks = 64;
  for (int64_t kb = 0; kb < call->nkb; ++kb) split.chunk_of.push_back(static_cast<int>(kb));
  Parts parts;
  ASSERT_TRUE(forward_parts(call->params, split, call->nqb, call->nkb, &parts));
  HostTensor o = nan_like(call->o.view, DType::kFloat32), lse = nan_like(call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit_emu::emulated_merge_states(call->merge_params(parts, o.view, lse.view)));
  expect_close(o, lse, call->o, call->lse, DType::kFloat32, "64 parts vs one call", /*against_one_call=*/true);
  parts.o.push_back(parts.o.back());
  parts.lse.push_back(parts.lse.back());
  parts.bind();
  const attnkit::Status st = attnkit_emu::emulated_merge_states(call->merge_params(parts, o.view, lse.view));
  EXPECT_EQ(st.code(), attnkit::StatusCode::kNotSupported) << st.message();
}

TEST(MergeEmulationRules, GridStrideLoopCoversMoreRowsThanTheGrid) {
  // 32 lanes per (row, head) at Dv = 256: 4 pairs per CTA, and the grid stops at 132 SMs x 16
  // CTAs = 8448 pairs of the emulated H100, so 8450 pairs take a second trip round the loop.
  constexpr int64_t kRows = 4225, kHeads = 2, kDv = 256;
  Rng rng(661);
  std::vector<HostTensor> o, l;
  for (int i = 0; i < 2; ++i) {
    o.push_back(make_normal(DType::kBFloat16, {kRows, kHeads, kDv}, rng));
    l.push_back(make_normal(DType::kFloat32, {kHeads, kRows}, rng, 3.0));
  }
  const TensorView o_parts[] = {o[0].view, o[1].view}, lse_parts[] = {l[0].view, l[1].view};
  attnkit::MergeStatesParams m;
  m.o_parts = o_parts;
  m.lse_parts = lse_parts;
  m.num_parts = 2;
  HostTensor ref = make_nan(DType::kBFloat16, {kRows, kHeads, kDv}), ref_lse = make_nan(DType::kFloat32, {kHeads, kRows});
  m.o = ref.view;
  m.lse = ref_lse.view;
  ASSERT_TRUE(attnkit::merge_states(m));
  HostTensor got = make_nan(DType::kBFloat16, {kRows, kHeads, kDv}), got_lse = make_nan(DType::kFloat32, {kHeads, kRows});
  m.o = got.view;
  m.lse = got_lse.view;
  ASSERT_TRUE(attnkit_emu::emulated_merge_states(m));
  expect_close(got, got_lse, ref, ref_lse, DType::kBFloat16, "grid stride");
}

}  // namespace
}  // namespace attnkit_test
