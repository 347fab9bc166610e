// Numerics at the edges (docs/reliability.md): huge logits, infinities in the bias and
// the sink, fully masked rows, empty dimensions, head dims 1 and 512, and the NaN
// propagation rule (a NaN reaches exactly the outputs whose inputs it touches).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::AttentionParams;
using attnkit::StatusCode;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int64_t o_index(const CaseShape& s, int64_t b, int64_t i, int64_t h, int64_t x) {
  return ((b * s.sq + i) * s.hq + h) * s.dv + x;
}
int64_t lse_index(const CaseShape& s, int64_t b, int64_t h, int64_t i) { return (b * s.hq + h) * s.sq + i; }

bool same_bits(const HostTensor& a, const HostTensor& b) {
  return a.bytes.size() == b.bytes.size() && std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0;
}

/// Runs a call that must be rejected: the status names `argument`, and O / LSE keep
/// their exact previous bits.
void expect_rejected(AttentionCase& c, const AttentionParams& p, const char* argument) {
  const HostTensor o_before = c.o, lse_before = c.lse;
  attnkit::Status s = attnkit::forward(p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_NE(s.message().find(argument), std::string::npos) << s.message();
  EXPECT_TRUE(same_bits(c.o, o_before)) << "O was written by a rejected call";
  EXPECT_TRUE(same_bits(c.lse, lse_before)) << "LSE was written by a rejected call";
}

/// Plain dense softmax attention of one row in double (no options), for oracle checks.
void dense_row(const AttentionCase& c, int64_t b, int64_t i, int64_t h, double scale, std::vector<double>* o,
               double* lse) {
  const auto& s = c.shape;
  const int64_t kvh = h / (s.hq / s.hkv);
  std::vector<double> logit(static_cast<size_t>(s.sk));
  double m = -kInf;
  for (int64_t j = 0; j < s.sk; ++j) {
    double dot = 0;
    for (int64_t x = 0; x < s.d; ++x) dot += c.q_at(b, i, h, x) * c.k_at(b, j, kvh, x);
    logit[j] = scale * dot;
    m = std::max(m, logit[j]);
  }
  double l = 0;
  for (double x : logit) l += std::exp(x - m);
  o->assign(static_cast<size_t>(s.dv), 0.0);
  for (int64_t j = 0; j < s.sk; ++j)
    for (int64_t x = 0; x < s.dv; ++x) (*o)[x] += std::exp(logit[j] - m) / l * c.v_at(b, j, kvh, x);
  *lse = m + std::log(l);
}

// ---- huge logits -------------------------------------------------------------------

TEST(ReliabilityEdges, LogitsOfTenThousandAfterScalingStayFinite) {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    SCOPED_TRACE(attnkit::dtype_name(dtype));
    AttentionCase c({/*batch=*/1, /*sq=*/3, /*sk=*/6, /*hq=*/1, /*hkv=*/1, /*d=*/4, /*dv=*/4, dtype}, 11);
    // q = (100, 0, 0, 0), k_j = (100 * a_j, ...): scale 1 gives logits 1e4 * a_j, with the
    // a_j at least 0.0625 apart, so the softmax is one-hot at the largest a_j.
    const double a[6] = {-1.0, 0.5, 1.0, -0.25, 0.9375, 0.0};
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t x = 0; x < 4; ++x) c.q.set(i * 4 + x, x == 0 ? (i == 1 ? -100.0 : 100.0) : 0.0);
    }
    for (int64_t j = 0; j < 6; ++j) {
      for (int64_t x = 0; x < 4; ++x) c.k.set(j * 4 + x, x == 0 ? 100.0 * a[j] : 0.0);
    }
    c.params.scale = 1.0f;
    ASSERT_TRUE(attnkit::forward(c.params));
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t best = i == 1 ? 0 : 2;  // row 1 has q = -100: the most negative a_j wins
      for (int64_t x = 0; x < 4; ++x) {
        EXPECT_EQ(c.o_at(0, i, 0, x), c.v_at(0, best, 0, x)) << "row " << i << " x " << x;
      }
      EXPECT_NEAR(c.lse_at(0, 0, i), 1e4, 1e-2) << "row " << i;
    }
  }
}

TEST(ReliabilityEdges, SinkFarAboveTheRowMaxDoesNotOverflow) {
  AttentionCase c({1, 2, 5, 2, 1, 8, 8, DType::kFloat32}, 12);
  HostTensor sink = head_array(2, {1e4, -1e4});  // head 0: the sink takes all the mass
  c.params.sink_logit = sink.view;
  ASSERT_TRUE(attnkit::forward(c.params));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(c.o_at(0, i, 0, x), 0.0);
    EXPECT_EQ(c.lse_at(0, 0, i), 1e4);
    std::vector<double> o;
    double lse;
    dense_row(c, 0, i, 1, 1.0 / std::sqrt(8.0), &o, &lse);  // head 1: the sink is negligible
    for (int64_t x = 0; x < 8; ++x) EXPECT_NEAR(c.o_at(0, i, 1, x), o[x], 1e-5);
    EXPECT_NEAR(c.lse_at(0, 1, i), lse, 1e-5);
  }
}

// ---- infinities in the bias, the sink and the scales ------------------------------

TEST(ReliabilityEdges, MinusInfinityBiasRemovesTheKey) {
  AttentionCase c({2, 4, 6, 2, 2, 8, 8, DType::kFloat32}, 13);
  HostTensor gamma = head_array(2, {-kInf});
  c.params.log_gamma = gamma.view;
  c.params.bias_begin = 0;
  c.params.bias_end = 1;
  ASSERT_TRUE(attnkit::forward(c.params));
  // The same call over keys 1..5 only (a strided view that starts one key later).
  AttentionCase d({2, 4, 6, 2, 2, 8, 8, DType::kFloat32}, 13);
  AttentionParams p = d.params;
  p.k = attnkit::TensorView::strided(d.k.ptr<float>() + 2 * 8, DType::kFloat32, {2, 5, 2, 8}, {6 * 16, 16, 8, 1});
  p.v = attnkit::TensorView::strided(d.v.ptr<float>() + 2 * 8, DType::kFloat32, {2, 5, 2, 8}, {6 * 16, 16, 8, 1});
  ASSERT_TRUE(attnkit::forward(p));
  const ErrorStats e = compare(c.o, d.o);
  EXPECT_EQ(e.mismatched_nonfinite, 0);
  EXPECT_LE(e.max_abs, 1e-6) << e.str();
  EXPECT_LE(compare(c.lse, d.lse).max_abs, 1e-6);
}

TEST(ReliabilityEdges, MinusInfinityBiasOnEveryKeyGivesAnEmptyRow) {
  AttentionCase c({1, 3, 4, 2, 1, 8, 8, DType::kFloat32}, 14);
  HostTensor gamma = head_array(2, {-kInf, 0.0});
  HostTensor sink = head_array(2, {0.25, 0.25});
  c.params.log_gamma = gamma.view;
  c.params.bias_begin = 0;
  c.params.bias_end = std::numeric_limits<int64_t>::max();  // every key
  ASSERT_TRUE(attnkit::forward(c.params));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(c.o_at(0, i, 0, x), 0.0);
    EXPECT_EQ(c.lse_at(0, 0, i), -kInf);
    EXPECT_TRUE(std::isfinite(c.lse_at(0, 1, i)));
  }
  c.params.sink_logit = sink.view;  // with a sink: O = 0, LSE = sigma
  c.poison();
  ASSERT_TRUE(attnkit::forward(c.params));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(c.o_at(0, i, 0, x), 0.0);
    EXPECT_EQ(c.lse_at(0, 0, i), 0.25);
  }
}

TEST(ReliabilityEdges, MinusInfinitySinkIsNoSink) {
  AttentionCase c({2, 5, 7, 2, 2, 8, 8, DType::kBFloat16}, 15);
  ASSERT_TRUE(attnkit::forward(c.params));
  const HostTensor o = c.o, lse = c.lse;
  HostTensor sink = head_array(2, {-kInf});
  c.params.sink_logit = sink.view;
  c.poison();
  ASSERT_TRUE(attnkit::forward(c.params));
  EXPECT_TRUE(same_bits(c.o, o));
  EXPECT_TRUE(same_bits(c.lse, lse));
}

TEST(ReliabilityEdges, PlusInfinityAndNaNAreRejectedOnTheHost) {
  AttentionCase c({1, 3, 4, 2, 1, 8, 8, DType::kFloat32}, 16);
  c.poison();
  for (double bad : {kInf, kNaN}) {
    HostTensor arr = head_array(2, {0.5, bad});
    AttentionParams p = c.params;
    p.log_gamma = arr.view;
    expect_rejected(c, p, "log_gamma");
    p = c.params;
    p.sink_logit = arr.view;
    expect_rejected(c, p, "sink_logit");
    p = c.params;
    p.head_scale = arr.view;
    expect_rejected(c, p, "head_scale");
    p = c.params;
    p.scale = static_cast<float>(bad);
    expect_rejected(c, p, "scale");
  }
  HostTensor minus_inf = head_array(2, {-kInf});
  AttentionParams p = c.params;
  p.head_scale = minus_inf.view;  // a temperature must be finite
  expect_rejected(c, p, "head_scale");
}

// ---- masks that leave nothing -------------------------------------------------------

TEST(ReliabilityEdges, FullyMaskedRowsAreZeroWithMinusInfinityLse) {
  // Causal with Sq = 6 > Sk = 3, aligned bottom-right: queries 0..2 see no key.
  AttentionCase c({2, 6, 3, 2, 1, 8, 8, DType::kFloat16}, 17);
  c.params.causal = true;
  ASSERT_TRUE(attnkit::forward(c.params));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 6; ++i) {
        for (int64_t x = 0; x < 8; ++x) {
          const double o = c.o_at(b, i, h, x);
          if (i < 3) {
            EXPECT_EQ(o, 0.0);
          } else {
            EXPECT_TRUE(std::isfinite(o));
          }
        }
        EXPECT_EQ(c.lse_at(b, h, i) == -kInf, i < 3);
      }
  // An empty block-mask row (kv_count 0) masks the whole query block.
  AttentionCase m({1, 4, 8, 1, 1, 8, 8, DType::kFloat32}, 18);
  HostTensor count = make_int32({1, 1, 2}, {0, 2});
  HostTensor index = make_int32({1, 1, 2, 2}, {0, 0, 0, 1});
  m.params.block_mask.kv_count = count.view;
  m.params.block_mask.kv_index = index.view;
  m.params.block_mask.block_q = 2;
  m.params.block_mask.block_k = 4;
  ASSERT_TRUE(attnkit::forward(m.params));
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(m.o_at(0, i, 0, x) == 0.0, i < 2);
    EXPECT_EQ(m.lse_at(0, 0, i) == -kInf, i < 2);
  }
}

TEST(ReliabilityEdges, EmptyKeysQueriesAndBatch) {
  {  // Sk = 0: every row is empty.
    AttentionCase c({2, 3, 0, 2, 2, 8, 8, DType::kFloat32}, 19);
    ASSERT_TRUE(attnkit::forward(c.params));
    for (int64_t n = 0; n < c.o.numel(); ++n) EXPECT_EQ(c.o.get(n), 0.0);
    for (int64_t n = 0; n < c.lse.numel(); ++n) EXPECT_EQ(c.lse.get(n), -kInf);
    HostTensor sink = head_array(2, {1.5, -3.0});
    c.params.sink_logit = sink.view;
    c.poison();
    ASSERT_TRUE(attnkit::forward(c.params));
    for (int64_t n = 0; n < c.o.numel(); ++n) EXPECT_EQ(c.o.get(n), 0.0);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < 3; ++i) {
        EXPECT_EQ(c.lse_at(b, 0, i), 1.5);
        EXPECT_EQ(c.lse_at(b, 1, i), -3.0);
      }
  }
  // Sq = 0 and B = 0: valid, and nothing is written (HostTensor keeps one element of
  // storage for an empty shape; it must stay NaN).
  for (CaseShape s : {CaseShape{2, 0, 5, 2, 2, 8, 8, DType::kFloat32}, CaseShape{0, 4, 5, 2, 2, 8, 8, DType::kFloat32}}) {
    AttentionCase c(s, 20);
    c.o.ptr<float>()[0] = std::numeric_limits<float>::quiet_NaN();  // fill_nan skips empty tensors
    c.lse.ptr<float>()[0] = std::numeric_limits<float>::quiet_NaN();
    ASSERT_TRUE(attnkit::forward(c.params));
    EXPECT_TRUE(std::isnan(c.o.ptr<float>()[0]));
    EXPECT_TRUE(std::isnan(c.lse.ptr<float>()[0]));
  }
}

// ---- head dims 1 and 512 ------------------------------------------------------------

TEST(ReliabilityEdges, HeadDimsOneAndFiveHundredTwelve) {
  for (auto [d, dv] : {std::pair<int64_t, int64_t>{1, 1}, {512, 512}, {1, 512}, {512, 1}}) {
    SCOPED_TRACE("D=" + std::to_string(d) + " Dv=" + std::to_string(dv));
    AttentionCase c({2, 3, 5, 2, 1, d, dv, DType::kFloat32}, 21);
    ASSERT_TRUE(attnkit::forward(c.params));
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < 3; ++i) {
          std::vector<double> o;
          double lse;
          dense_row(c, b, i, h, 1.0 / std::sqrt(static_cast<double>(d)), &o, &lse);
          for (int64_t x = 0; x < dv; ++x) ASSERT_NEAR(c.o_at(b, i, h, x), o[x], 1e-5) << b << " " << h << " " << i;
          ASSERT_NEAR(c.lse_at(b, h, i), lse, 1e-5);
        }
  }
}

// ---- NaN propagation ----------------------------------------------------------------

/// Runs the clean case, then the case with one poisoned input element, and checks that
/// exactly the outputs `touched(b, i, h, x)` (x = -1: LSE) became NaN and every other
/// output kept the clean run's bits.
template <class Poison, class Touched>
void expect_nan_reaches_exactly(const CaseShape& s, bool causal, Poison poison, Touched touched) {
  AttentionCase clean(s, 22), dirty(s, 22);
  clean.params.causal = dirty.params.causal = causal;
  ASSERT_TRUE(attnkit::forward(clean.params));
  poison(dirty);
  ASSERT_TRUE(attnkit::forward(dirty.params));
  const int64_t eb = attnkit::dtype_size(s.dtype);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.hq; ++h)
      for (int64_t i = 0; i < s.sq; ++i) {
        for (int64_t x = 0; x < s.dv; ++x) {
          const int64_t n = o_index(s, b, i, h, x);
          if (touched(b, i, h, x)) {
            EXPECT_TRUE(std::isnan(dirty.o.get(n))) << "O[" << b << ", " << i << ", " << h << ", " << x << "]";
          } else {
            EXPECT_EQ(std::memcmp(dirty.o.bytes.data() + n * eb, clean.o.bytes.data() + n * eb, eb), 0)
                << "O[" << b << ", " << i << ", " << h << ", " << x << "] changed";
          }
        }
        const int64_t n = lse_index(s, b, h, i);
        if (touched(b, i, h, -1)) {
          EXPECT_TRUE(std::isnan(dirty.lse.get(n))) << "LSE[" << b << ", " << h << ", " << i << "]";
        } else {
          EXPECT_EQ(dirty.lse.ptr<float>()[n], clean.lse.ptr<float>()[n]) << "LSE[" << b << ", " << h << ", " << i << "]";
        }
      }
}

TEST(ReliabilityEdges, NaNInOneQueryRowReachesOnlyThatRow) {
  const CaseShape s{2, 5, 6, 4, 2, 8, 8, DType::kFloat32};
  expect_nan_reaches_exactly(
      s, /*causal=*/false,
      [&](AttentionCase& c) { c.q.set(((1 * s.sq + 2) * s.hq + 3) * s.d + 5, kNaN); },
      [](int64_t b, int64_t i, int64_t h, int64_t) { return b == 1 && i == 2 && h == 3; });
}

TEST(ReliabilityEdges, NaNInOneKeyRowReachesTheRowsThatSeeIt) {
  // Key j = 3 of batch 0, kv head 1 (query heads 2 and 3), causal with Sq = Sk: rows
  // i >= 3 see it, rows 0..2 do not.
  const CaseShape s{2, 6, 6, 4, 2, 8, 8, DType::kBFloat16};
  expect_nan_reaches_exactly(
      s, /*causal=*/true, [&](AttentionCase& c) { c.k.set(((0 * s.sk + 3) * s.hkv + 1) * s.d + 0, kNaN); },
      [](int64_t b, int64_t i, int64_t h, int64_t) { return b == 0 && h >= 2 && i >= 3; });
}

TEST(ReliabilityEdges, NaNInOneValueElementReachesOnlyThatColumn) {
  // V[b = 1, j = 2, kv head 0, x = 4]: O[1, i, h in {0, 1}, 4] for rows that see key 2;
  // the LSE does not read V.
  const CaseShape s{2, 6, 6, 4, 2, 8, 8, DType::kFloat16};
  expect_nan_reaches_exactly(
      s, /*causal=*/true, [&](AttentionCase& c) { c.v.set(((1 * s.sk + 2) * s.hkv + 0) * s.dv + 4, kNaN); },
      [](int64_t b, int64_t i, int64_t h, int64_t x) { return b == 1 && h <= 1 && i >= 2 && x == 4; });
}

TEST(ReliabilityEdges, NaNLogitOnTheOnlyVisibleKeyIsNotSwallowed) {
  // A row whose only visible key has a NaN logit touches that NaN: it must come out NaN,
  // not as an "empty row" (O = 0, LSE = -inf).
  const CaseShape s{1, 2, 2, 1, 1, 4, 4, DType::kFloat32};
  expect_nan_reaches_exactly(
      s, /*causal=*/true, [&](AttentionCase& c) { c.k.set(0, kNaN); },
      [](int64_t, int64_t, int64_t, int64_t) { return true; });  // both rows see key 0
}

// ---- regressions found by the fuzzer (tests/fuzz) -------------------------------------

TEST(ReliabilityEdges, HugeWindowsSinkTokensAndBiasRangesMeanUnbounded) {
  // fuzz: row_softmax computed ip + window_right and ip - window_left in int64, which
  // overflowed for window = 2^63 - 1 (UBSan). Huge values are valid and mean unbounded.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (bool causal : {false, true}) {
    AttentionCase plain({2, 7, 4, 2, 1, 8, 8, DType::kFloat32}, 23);  // Sq > Sk: negative positions
    plain.params.causal = causal;
    ASSERT_TRUE(attnkit::forward(plain.params));
    AttentionCase huge({2, 7, 4, 2, 1, 8, 8, DType::kFloat32}, 23);
    huge.params.causal = causal;
    huge.params.window_left = kMax;
    huge.params.window_right = kMax;
    huge.params.sink_tokens = kMax;
    HostTensor gamma = head_array(2, {0.0});
    huge.params.log_gamma = gamma.view;
    huge.params.bias_begin = kMax;
    huge.params.bias_end = kMax;
    ASSERT_TRUE(attnkit::forward(huge.params));
    EXPECT_TRUE(same_bits(plain.o, huge.o));
    EXPECT_TRUE(same_bits(plain.lse, huge.lse));
  }
}

TEST(ReliabilityEdges, ViewsWhoseSizeOrOffsetsOverflowInt64AreRejected) {
  // fuzz: TensorView::numel() overflowed (UBSan) for q = [13, 3, 2^63 - 1, 0] during
  // validation, and views whose largest offset passes 2^63 were accepted. is_supported
  // only validates, so these views are never dereferenced here.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  AttentionCase c({2, 3, 4, 2, 2, 8, 8, DType::kFloat32}, 24);
  std::string why;
  AttentionParams p = c.params;
  // Built by hand: TensorView::strided() itself would overflow computing default strides.
  p.q.shape[0] = 13;
  p.q.shape[1] = 3;
  p.q.shape[2] = kMax;
  p.q.shape[3] = 0;
  p.q.stride[0] = 8;
  p.q.stride[1] = 104;
  p.q.stride[2] = 1;
  p.q.stride[3] = 1;
  EXPECT_FALSE(attnkit::is_supported(p, &why));
  p = c.params;  // 2 x 2 rows 2^62 apart: the last row sits past 2^63 elements
  p.q = attnkit::TensorView::strided(c.q.view.data, DType::kFloat32, {2, 2, 2, 8},
                                     {int64_t{1} << 62, int64_t{1} << 62, 8, 1});
  p.k = attnkit::TensorView::strided(c.k.view.data, DType::kFloat32, {2, 4, 2, 8}, {64, 16, 8, 1});
  p.v = p.k;
  p.o = attnkit::TensorView::strided(c.o.view.data, DType::kFloat32, {2, 2, 2, 8}, {32, 16, 8, 1});
  p.lse = {};
  EXPECT_FALSE(attnkit::is_supported(p, &why));
  EXPECT_NE(why.find("q"), std::string::npos) << why;
  p.q.shape[0] = 1;  // one row 2^62 elements in: fits int64 elements, but not bytes
  p.q.stride[1] = int64_t{1} << 62;
  p.k.shape[0] = p.v.shape[0] = p.o.shape[0] = 1;
  EXPECT_FALSE(attnkit::is_supported(p, &why));
}

TEST(ReliabilityEdges, HugeDeviceMaxSeqlenDoesNotOverflowBlockCounts) {
  // fuzz: with device cu_seqlens, max_seqlen_k = 2^63 - 1 is taken as given, and
  // ceil_div(max_sk, block_k) computed max_sk + block_k - 1 (UBSan). is_supported only
  // validates (device tensors are never read on the host), so this runs without a GPU.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  alignas(16) static unsigned char fake[64];  // never dereferenced: "device" memory
  const auto cuda = attnkit::DeviceKind::kCuda;
  AttentionParams p;
  p.q = attnkit::TensorView::contiguous(fake, DType::kFloat16, {4, 2, 8}, cuda);
  p.k = attnkit::TensorView::contiguous(fake, DType::kFloat16, {4, 2, 8}, cuda);
  p.v = p.k;
  p.o = p.q;
  p.cu_seqlens_q = attnkit::TensorView::contiguous(fake, DType::kInt32, {2}, cuda);
  p.cu_seqlens_k = p.cu_seqlens_q;
  p.max_seqlen_q = 4;
  p.max_seqlen_k = kMax;
  p.block_mask.kv_count = attnkit::TensorView::contiguous(fake, DType::kInt32, {1, 1, 1}, cuda);
  p.block_mask.kv_index = attnkit::TensorView::contiguous(fake, DType::kInt32, {1, 1, 1, 1}, cuda);
  p.block_mask.block_q = 128;
  p.block_mask.block_k = 128;
  std::string why;
  (void)attnkit::is_supported(p, &why);  // any answer; UBSan (sanitizer build) checks the arithmetic
  p.max_seqlen_q = kMax;
  (void)attnkit::is_supported(p, &why);
}

TEST(ReliabilityEdges, MisalignedHostPointersAreRejected) {
  // fuzz: a cu_seqlens pointer one byte off its int32 alignment was read through an
  // int32_t* (UBSan: misaligned load). Host data must be aligned to its element size.
  AttentionCase c({2, 3, 4, 2, 2, 8, 8, DType::kFloat32}, 25);
  std::vector<unsigned char> raw(c.q.bytes.size() + 8);
  std::memcpy(raw.data() + 1, c.q.bytes.data(), c.q.bytes.size());
  AttentionParams p = c.params;
  p.q.data = raw.data() + 1;
  std::string why;
  EXPECT_FALSE(attnkit::is_supported(p, &why));
  EXPECT_NE(why.find("align"), std::string::npos) << why;
}

}  // namespace
}  // namespace attnkit_test
