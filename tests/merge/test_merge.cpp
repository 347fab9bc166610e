// merge_states on the CPU backend: for every key-separable feature, the call split over keys
// into 1 to 5 chunks (random key blocks, empty chunks included), each run by forward()
// without the sink and the gate, then merged (adding them) equals the call made once. Plus
// the rules of docs/api.md: the sink added once, the gate after combining, in place, parts
// at -inf never read, huge sinks, one part exact, dtype conversions, strided views, NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/merge.hpp"
#include "common/test_tensors.hpp"
#include "merge/merge_case.hpp"
#include "merge/merge_split.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Merged output against the call made once: O within the dtype's tolerance, LSE within
/// kLseTolerance, non-finite entries (-inf LSE of rows nobody sees) exactly.
void expect_same(const HostTensor& o, const HostTensor& lse, const HostTensor& o_ref, const HostTensor& lse_ref,
                 DType dtype, const std::string& what) {
  const Tolerance tol = tolerance_for(dtype);
  const ErrorStats eo = compare(o, o_ref), el = compare(lse, lse_ref);
  EXPECT_EQ(eo.mismatched_nonfinite, 0) << what << " O: " << eo.str();
  EXPECT_LE(eo.rel_l2, tol.rel_l2) << what << " O: " << eo.str();
  EXPECT_LE(eo.max_abs, tol.max_abs) << what << " O: " << eo.str();
  EXPECT_EQ(el.mismatched_nonfinite, 0) << what << " LSE: " << el.str();
  EXPECT_LE(lse_error(lse, lse_ref), kLseTolerance) << what << " LSE: " << el.str();
}

/// One feature x extra x chunk count: the split call merged against the call made once.
void check_split(const MergeSetup& setup, MergeExtra extra, int chunks, uint64_t seed) {
  const std::string what = setup.name + " " + extra_name(extra) + " chunks=" + std::to_string(chunks);
  auto call = MergeCall::make(setup, extra, seed);
  ASSERT_TRUE(attnkit::forward(call->params)) << what;
  Rng rng(seed + 1000);
  Chunking split = call->split;
  split.num_chunks = chunks;
  split.chunk_of = random_chunks(call->nkb, chunks, rng);
  Parts parts;
  const attnkit::Status fs = forward_parts(call->params, split, call->nqb, call->nkb, &parts);
  ASSERT_TRUE(fs.is_ok()) << what << ": " << fs.message();
  HostTensor o = nan_like(call->o.view, setup.dtype), lse = nan_like(call->lse.view, DType::kFloat32);
  const attnkit::Status ms = attnkit::merge_states(call->merge_params(parts, o.view, lse.view));
  ASSERT_TRUE(ms.is_ok()) << what << ": " << ms.message();
  expect_same(o, lse, call->o, call->lse, setup.dtype, what);
}

class MergeStatesSplit : public ::testing::TestWithParam<MergeSetup> {};

TEST_P(MergeStatesSplit, EqualsOneCallForOneToFiveChunksWithSinkAndGate) {
  uint64_t seed = 7;
  for (MergeExtra extra : {MergeExtra::kNone, MergeExtra::kSink, MergeExtra::kSinkHeadwiseGate,
                           MergeExtra::kElementwiseGate}) {
    for (int chunks = 1; chunks <= 5; ++chunks) check_split(GetParam(), extra, chunks, ++seed);
  }
}

TEST_P(MergeStatesSplit, HalfAndBfloat16WithinTolerance) {
  uint64_t seed = 101;
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    MergeSetup s = GetParam();
    s.dtype = dtype;
    s.name += dtype == DType::kFloat16 ? "_fp16" : "_bf16";
    for (int chunks : {2, 4}) check_split(s, MergeExtra::kSinkHeadwiseGate, chunks, ++seed);
  }
}

INSTANTIATE_TEST_SUITE_P(Features, MergeStatesSplit, ::testing::ValuesIn(merge_setups()),
                         [](const ::testing::TestParamInfo<MergeSetup>& info) { return info.param.name; });

/// A dense batched call split in `chunks` contiguous ranges of key blocks (no extras).
struct SimpleSplit {
  std::unique_ptr<MergeCall> call;
  Parts parts;

  SimpleSplit(int chunks, MergeExtra extra, uint64_t seed, MergeSetup s = MergeSetup{}) {
    call = MergeCall::make(s, extra, seed);
    EXPECT_TRUE(attnkit::forward(call->params));
    Chunking split = call->split;
    split.num_chunks = chunks;
    for (int64_t kb = 0; kb < call->nkb; ++kb) split.chunk_of.push_back(static_cast<int>(kb * chunks / call->nkb));
    const attnkit::Status st = forward_parts(call->params, split, call->nqb, call->nkb, &parts);
    EXPECT_TRUE(st.is_ok()) << st.message();
  }
};

TEST(MergeStates, InPlaceIntoEveryPartEqualsOutOfPlace) {
  for (int k = 0; k < 3; ++k) {
    SimpleSplit a(3, MergeExtra::kSinkHeadwiseGate, 31);
    HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
    ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
    // O into part k, LSE into part (k + 1) % 3: each output exactly one view of its own kind.
    const int kl = (k + 1) % 3;
    ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, a.parts.o_views[k], a.parts.lse_views[kl])));
    EXPECT_EQ(std::memcmp(a.parts.o[k].bytes.data(), o.bytes.data(), o.bytes.size()), 0) << "part " << k;
    EXPECT_EQ(std::memcmp(a.parts.lse[kl].bytes.data(), lse.bytes.data(), lse.bytes.size()), 0) << "part " << kl;
    expect_same(a.parts.o[k], a.parts.lse[kl], a.call->o, a.call->lse, DType::kFloat32, "in place");
  }
}

TEST(MergeStates, PartsAtNegInfAreNeverReadEvenWhenTheirOIsNan) {
  MergeSetup causal;
  causal.sq = 5;
  causal.sk = 14;
  causal.causal = true;  // the early rows see none of the last chunks' keys: LSE -inf there
  SimpleSplit a(4, MergeExtra::kSink, 41, causal);
  // Rows a chunk does not see have LSE -inf; forward wrote O = 0 there. Make it NaN, and add
  // a part that is -inf everywhere with O all NaN.
  int64_t neg_inf_rows = 0;
  const auto& s = a.call->setup;
  for (size_t c = 0; c < a.parts.o.size(); ++c) {
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t i = 0; i < s.sq; ++i) {
          if (a.parts.lse[c].get((b * s.hq + h) * s.sq + i) != -kInf) continue;
          ++neg_inf_rows;
          for (int64_t x = 0; x < s.dv; ++x) a.parts.o[c].set(((b * s.sq + i) * s.hq + h) * s.dv + x, kNaN);
        }
  }
  a.parts.o.push_back(nan_like(a.call->o.view, DType::kFloat32));
  a.parts.lse.push_back(nan_like(a.call->lse.view, DType::kFloat32));
  for (int64_t n = 0; n < a.parts.lse.back().numel(); ++n) a.parts.lse.back().set(n, -kInf);
  a.parts.bind();
  EXPECT_GT(neg_inf_rows, 0);
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
  expect_same(o, lse, a.call->o, a.call->lse, DType::kFloat32, "NaN O at -inf");
}

TEST(MergeStates, AllPartsEmptyGiveZeroAndNegInfOrTheSink) {
  MergeSetup s;
  s.sk = 0;  // no keys at all: every part is -inf everywhere
  for (MergeExtra extra : {MergeExtra::kNone, MergeExtra::kSink}) {
    SimpleSplit a(2, extra, 51, s);
    HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
    for (auto& part : a.parts.o) fill_nan(part);  // never read
    ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
    for (int64_t n = 0; n < o.numel(); ++n) ASSERT_EQ(o.get(n), 0.0) << n;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t i = 0; i < s.sq; ++i) {
          const double want = extra == MergeExtra::kSink ? a.call->sink.get(h) : -kInf;
          ASSERT_EQ(lse.get((b * s.hq + h) * s.sq + i), want) << b << "," << h << "," << i;
        }
    expect_same(o, lse, a.call->o, a.call->lse, DType::kFloat32, "no keys");
  }
}

TEST(MergeStates, HugeSinksNeverOverflowAndMatchOneCall) {
  for (double sigma : {3.4e38, -3.4e38, 1e4, -1e4}) {
    SimpleSplit a(3, MergeExtra::kSink, 61);
    for (int64_t h = 0; h < a.call->setup.hq; ++h) a.call->sink.set(h, h == 2 ? -kInf : sigma);
    a.call->poison();
    ASSERT_TRUE(attnkit::forward(a.call->params));
    HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
    ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
    expect_same(o, lse, a.call->o, a.call->lse, DType::kFloat32, "sigma=" + std::to_string(sigma));
    if (sigma > 1e30) {  // the sink swallows everything: O = 0, LSE = sigma exactly (head 2 has none)
      const auto& s = a.call->setup;
      for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t i = 0; i < s.sq; ++i) {
          EXPECT_EQ(lse.get((b * s.hq + 0) * s.sq + i), static_cast<double>(static_cast<float>(sigma)));
          EXPECT_EQ(o.get(((b * s.sq + i) * s.hq + 0) * s.dv), 0.0);
        }
    }
  }
}

TEST(MergeStates, OnePartWithoutSinkIsExact) {
  SimpleSplit a(1, MergeExtra::kNone, 71);
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
  EXPECT_EQ(std::memcmp(o.bytes.data(), a.parts.o[0].bytes.data(), o.bytes.size()), 0);
  EXPECT_EQ(std::memcmp(lse.bytes.data(), a.parts.lse[0].bytes.data(), lse.bytes.size()), 0);
}

TEST(MergeStates, ConvertsBetweenDtypesWithOneRounding) {
  // float32 parts into a bf16 / fp16 O: the one-call float32 result rounded once.
  for (DType out : {DType::kBFloat16, DType::kFloat16}) {
    SimpleSplit a(3, MergeExtra::kSink, 81);
    HostTensor o = nan_like(a.call->o.view, out), lse = nan_like(a.call->lse.view, DType::kFloat32);
    ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
    HostTensor ref = nan_like(a.call->o.view, out);
    for (int64_t n = 0; n < ref.numel(); ++n) ref.set(n, a.call->o.get(n));
    expect_same(o, lse, ref, a.call->lse, out, "float32 parts -> 16-bit O");
  }
  // bf16 parts into a float32 O.
  MergeSetup s;
  s.dtype = DType::kBFloat16;
  SimpleSplit a(2, MergeExtra::kNone, 82, s);
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
  HostTensor ref = nan_like(a.call->o.view, DType::kFloat32);
  for (int64_t n = 0; n < ref.numel(); ++n) ref.set(n, a.call->o.get(n));
  expect_same(o, lse, ref, a.call->lse, DType::kBFloat16, "bf16 parts -> float32 O");
}

TEST(MergeStates, StridedViewsOfPartsAndOutputs) {
  SimpleSplit a(2, MergeExtra::kSinkHeadwiseGate, 91);
  const auto& s = a.call->setup;
  // Part 1 and the output in BHSD memory order, part 0's LSE padded: strides are free.
  HostTensor bhsd(DType::kFloat32, {s.batch, s.hq, s.sq, s.dv});
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t i = 0; i < s.sq; ++i)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t x = 0; x < s.dv; ++x)
          bhsd.set(((b * s.hq + h) * s.sq + i) * s.dv + x, a.parts.o[1].get(((b * s.sq + i) * s.hq + h) * s.dv + x));
  HostTensor padded_lse(DType::kFloat32, {s.batch, s.hq, s.sq + 3});
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.hq; ++h)
      for (int64_t i = 0; i < s.sq; ++i)
        padded_lse.set((b * s.hq + h) * (s.sq + 3) + i, a.parts.lse[0].get((b * s.hq + h) * s.sq + i));
  const int64_t sd = s.dv;
  a.parts.o_views[1] = TensorView::strided(bhsd.view.data, DType::kFloat32, {s.batch, s.sq, s.hq, s.dv},
                                           {s.hq * s.sq * s.dv, sd, s.sq * s.dv, 1});
  a.parts.lse_views[0] = TensorView::strided(padded_lse.view.data, DType::kFloat32, {s.batch, s.hq, s.sq},
                                             {s.hq * (s.sq + 3), s.sq + 3, 1});
  HostTensor out(DType::kFloat32, {s.batch, s.hq, s.sq, s.dv});
  fill_nan(out);
  const TensorView o_view = TensorView::strided(out.view.data, DType::kFloat32, {s.batch, s.sq, s.hq, s.dv},
                                                {s.hq * s.sq * s.dv, sd, s.sq * s.dv, 1});
  HostTensor lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o_view, lse.view)));
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t i = 0; i < s.sq; ++i)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t x = 0; x < s.dv; ++x) o.set(((b * s.sq + i) * s.hq + h) * s.dv + x, out.get(((b * s.hq + h) * s.sq + i) * s.dv + x));
  expect_same(o, lse, a.call->o, a.call->lse, DType::kFloat32, "strided");
}

TEST(MergeStates, ManyPartsOnTheHost) {
  MergeSetup s;
  s.sk = 70 * 3;  // 70 key blocks of 3: one chunk each
  SimpleSplit a(70, MergeExtra::kSink, 92, s);
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
  expect_same(o, lse, a.call->o, a.call->lse, DType::kFloat32, "70 parts");
}

TEST(MergeStates, NanLseReachesOnlyItsRow) {
  SimpleSplit a(2, MergeExtra::kNone, 93);
  a.parts.lse[1].set(5, kNaN);  // (b 0, h 0, i 5)
  HostTensor o = nan_like(a.call->o.view, DType::kFloat32), lse = nan_like(a.call->lse.view, DType::kFloat32);
  ASSERT_TRUE(attnkit::merge_states(a.call->merge_params(a.parts, o.view, lse.view)));
  const auto& s = a.call->setup;
  for (int64_t n = 0; n < lse.numel(); ++n) EXPECT_EQ(std::isnan(lse.get(n)), n == 5) << n;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t i = 0; i < s.sq; ++i)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t x = 0; x < s.dv; ++x) {
          const bool poisoned = b == 0 && h == 0 && i == 5;
          EXPECT_EQ(std::isnan(o.get(((b * s.sq + i) * s.hq + h) * s.dv + x)), poisoned);
        }
}

TEST(MergeStates, EmptyShapesAndZeroDvAreValid) {
  HostTensor o0(DType::kFloat32, {0, 3, 2, 4}), l0(DType::kFloat32, {0, 2, 3});
  const TensorView parts[] = {o0.view}, lses[] = {l0.view};
  attnkit::MergeStatesParams m;
  m.o_parts = parts;
  m.lse_parts = lses;
  m.num_parts = 1;
  HostTensor out0(DType::kFloat32, {0, 3, 2, 4});
  m.o = out0.view;
  EXPECT_TRUE(attnkit::merge_states(m));
  // Dv = 0: O is empty, the LSE is still merged.
  HostTensor la(DType::kFloat32, {3, 2}), lb(DType::kFloat32, {3, 2}), lse = make_nan(DType::kFloat32, {3, 2});
  HostTensor pa(DType::kFloat32, {2, 3, 0}), pb(DType::kFloat32, {2, 3, 0}), po(DType::kFloat32, {2, 3, 0});
  for (int64_t n = 0; n < 6; ++n) {
    la.set(n, 0.5 * n);
    lb.set(n, n == 3 ? -kInf : 1.0);
  }
  const TensorView pp[] = {pa.view, pb.view}, pl[] = {la.view, lb.view};
  m.o_parts = pp;
  m.lse_parts = pl;
  m.num_parts = 2;
  m.o = po.view;
  m.lse = lse.view;
  ASSERT_TRUE(attnkit::merge_states(m));
  for (int64_t n = 0; n < 6; ++n) {
    const double want = n == 3 ? 1.5 : std::log(std::exp(0.5 * n) + std::exp(1.0));
    EXPECT_NEAR(lse.get(n), want, 1e-6) << n;
  }
}

}  // namespace
}  // namespace attnkit_test
