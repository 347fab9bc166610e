// ACT (SPEC 7): sink detection against a brute-force filter of attention_stats' colmean,
// truncation and keep_first_sink on hand-built ties, and calibration against plain
// forward and an explicit formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::ActOptions;
using attnkit::AttentionParams;
using attnkit::SinkSets;
using attnkit::StatusCode;

struct SetBuffers {
  HostTensor count, index;
  SinkSets sets;
  SetBuffers(int64_t b, int64_t hq, int64_t k) : count(DType::kInt32, {b, hq}), index(DType::kInt32, {b, hq, k}) {
    for (int64_t n = 0; n < count.numel(); ++n) count.ptr<int32_t>()[n] = 777;  // poison
    for (int64_t n = 0; n < index.numel(); ++n) index.ptr<int32_t>()[n] = 777;
    sets.count = count.view;
    sets.index = index.view;
  }
  std::vector<int32_t> set(int64_t b, int64_t h) const {
    const int64_t hq = count.view.shape[1], k = index.view.shape[2];
    const int32_t n = count.ptr<int32_t>()[b * hq + h];
    std::vector<int32_t> out(index.ptr<int32_t>() + (b * hq + h) * k, index.ptr<int32_t>() + (b * hq + h) * k + n);
    for (int64_t e = n; e < k; ++e) EXPECT_EQ(index.ptr<int32_t>()[(b * hq + h) * k + e], -1) << "unused entry";
    return out;
  }
  bool untouched() const {
    for (int64_t n = 0; n < count.numel(); ++n)
      if (count.ptr<int32_t>()[n] != 777) return false;
    for (int64_t n = 0; n < index.numel(); ++n)
      if (index.ptr<int32_t>()[n] != 777) return false;
    return true;
  }
};

/// A case with strong sinks: keys 0, 3 and 7 of every kv head align with a direction all
/// queries share, so their colmean is far above theta.
AttentionCase sink_case(uint64_t seed, CaseShape shape = {2, 12, 12, 4, 2, 8, 8}) {
  AttentionCase c(shape, seed);
  Rng rng(seed + 1000);
  const auto& s = c.shape;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t i = 0; i < s.sq; ++i)
      for (int64_t h = 0; h < s.hq; ++h) c.q.set(((b * s.sq + i) * s.hq + h) * s.d, 3.0 + rng.uniform(0, 0.5));
  const double boost[] = {4.0, 0, 0, 2.5, 0, 0, 0, 3.0};
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t j = 0; j < std::min<int64_t>(8, s.sk); ++j)
      for (int64_t h = 0; h < s.hkv; ++h) {
        const int64_t n = ((b * s.sk + j) * s.hkv + h) * s.d;
        c.k.set(n, boost[j] > 0 ? boost[j] : 0.1 * c.k.get(n));
      }
  return c;
}

std::vector<double> plain_output(AttentionCase& c) {
  c.poison();
  EXPECT_TRUE(attnkit::forward(c.params).is_ok());
  std::vector<double> o(static_cast<size_t>(c.o.numel()));
  for (int64_t n = 0; n < c.o.numel(); ++n) o[n] = c.o.get(n);
  c.poison();
  return o;
}

void expect_output(const AttentionCase& c, const std::vector<double>& want, double tol, const char* what) {
  for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_NEAR(c.o.get(n), want[n], tol) << what << " at " << n;
}

/// Brute-force detect from colmean [Sk] (SPEC 7).
std::vector<int32_t> brute_detect(const std::vector<double>& colmean, const ActOptions& o) {
  std::vector<int32_t> s;
  for (size_t j = 0; j < colmean.size(); ++j)
    if (colmean[j] > o.theta) s.push_back(static_cast<int32_t>(j));
  if (o.keep_first_sink && !s.empty()) s.erase(s.begin());
  while (static_cast<int>(s.size()) > o.max_sinks) {
    // Remove the smallest colmean; among equal ones the highest j goes first.
    auto worst = s.begin();
    for (auto it = s.begin(); it != s.end(); ++it)
      if (colmean[*it] <= colmean[*worst]) worst = it;
    s.erase(worst);
  }
  return s;
}

TEST(Act, DetectMatchesBruteForceOverColmean) {
  for (bool keep_first : {true, false}) {
    AttentionCase c = sink_case(/*seed=*/61);
    c.params.causal = true;
    HostTensor colmean = make_nan(DType::kFloat32, {2, 4, 12});
    attnkit::StatsOutputs st;
    st.colmean = colmean.view;
    ASSERT_TRUE(attnkit::attention_stats(c.params, st).is_ok());
    ActOptions opt;
    opt.theta = 0.12f;
    opt.keep_first_sink = keep_first;
    SetBuffers sb(2, 4, opt.max_sinks);
    ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
    int nonempty = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 4; ++h) {
        std::vector<double> cm(12);
        for (int64_t j = 0; j < 12; ++j) cm[j] = colmean.get((b * 4 + h) * 12 + j);
        for (double x : cm) ASSERT_GT(std::abs(x - opt.theta), 1e-4) << "test needs clear margins";
        EXPECT_EQ(sb.set(b, h), brute_detect(cm, opt)) << b << " " << h;
        nonempty += !sb.set(b, h).empty();
      }
    EXPECT_GT(nonempty, 4);
  }
}

/// D = 1, every q = 1: logit_j = k_j, so equal k give exactly equal colmean.
AttentionCase tie_case(std::initializer_list<double> keys) {
  const int64_t sk = static_cast<int64_t>(keys.size());
  AttentionCase c({1, 4, sk, 1, 1, 1, 2}, /*seed=*/71);
  for (int64_t i = 0; i < 4; ++i) c.q.set(i, 1.0);
  int64_t j = 0;
  for (double k : keys) c.k.set(j++, k);
  return c;
}

TEST(Act, MaxSinksKeepsLargestWithTiesToLowerJ) {
  ActOptions opt;
  opt.max_sinks = 2;
  {
    // Keys 0, 1, 2, 4 tie above theta (p = e^3 / (4 e^3 + 2) ~ 0.247); 0 is the kept first
    // sink; of 1, 2, 4 the two lowest j survive.
    AttentionCase c = tie_case({3, 3, 3, 0, 3, 0});
    SetBuffers sb(1, 1, 2);
    ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
    EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{1, 2}));
  }
  {
    // Distinct values: the two largest of {1: 2, 2: 2.6, 4: 2.4} are 2 and 4.
    AttentionCase c = tie_case({3, 2, 2.6, -2, 2.4, -2});
    SetBuffers sb(1, 1, 2);
    ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
    EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{2, 4}));
    opt.keep_first_sink = false;  // now 0 (the largest) competes too
    ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
    EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{0, 2}));
  }
}

TEST(Act, KeepFirstSinkDropsOnlyTheSmallestDetectedJ) {
  // Key 0 is below theta; the first detected sink is key 2.
  AttentionCase c = tie_case({-3, 0, 3, 3, -3});
  ActOptions opt;
  SetBuffers sb(1, 1, opt.max_sinks);
  ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
  EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{3}));
  opt.keep_first_sink = false;
  ASSERT_TRUE(attnkit::act_detect(c.params, opt, sb.sets).is_ok());
  EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{2, 3}));
}

TEST(Act, BetaOneAndEmptySetsEqualPlainForward) {
  AttentionCase c = sink_case(/*seed=*/81);
  c.params.causal = true;
  const std::vector<double> plain = plain_output(c);
  ActOptions opt;
  opt.beta = 1.0f;  // o' = u + (o - u) = o
  SetBuffers sb(2, 4, opt.max_sinks);
  ASSERT_TRUE(attnkit::act_forward(c.params, opt, &sb.sets).is_ok());
  EXPECT_GT(sb.count.ptr<int32_t>()[0], 0) << "the case must detect sinks";
  expect_output(c, plain, 1e-5, "beta = 1");
  c.poison();
  opt.beta = 0.4f;
  opt.theta = 1.0f;  // colmean > 1 never holds: every set is empty
  ASSERT_TRUE(attnkit::act_forward(c.params, opt).is_ok());
  expect_output(c, plain, 0.0, "empty sets");
}

TEST(Act, CalibrationMatchesTheFormula) {
  // Non-causal, D = 1, q = 1: p_j = softmax(k)_j over 5 keys; S = {1, 3}.
  AttentionCase c = tie_case({0.5, 2.0, -1.0, 1.5, 0.2});
  const double k[] = {0.5, 2.0, -1.0, 1.5, 0.2};
  double l = 0;
  for (double x : k) l += std::exp(x);
  HostTensor count = make_int32({1, 1}, {2}), index = make_int32({1, 1, 3}, {1, 3, 99});
  ActOptions opt;
  opt.beta = 0.3f;
  ASSERT_TRUE(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}).is_ok());
  for (int64_t x = 0; x < 2; ++x) {
    double o = 0, u = 0, m = 0;
    for (int j = 0; j < 5; ++j) o += std::exp(k[j]) / l * c.v.get(j * 2 + x);
    for (int j : {1, 3}) {
      m += std::exp(k[j]) / l;
      u += std::exp(k[j]) / l * c.v.get(j * 2 + x);
    }
    const double want = 0.3 * u + (1 - 0.3 * m) / (1 - m) * (o - u);
    for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(c.o.get(i * 2 + x), want, 1e-5) << i << " " << x;
  }
}

TEST(Act, RowsWhoseSetHoldsAllMassAreUnchanged) {
  // Key 0 takes all but ~e^-30 of the mass: 1 - m < 1e-6, so the row is left as is.
  AttentionCase c = tie_case({30, 0, 0});
  const std::vector<double> plain = plain_output(c);
  HostTensor count = make_int32({1, 1}, {1}), index = make_int32({1, 1, 1}, {0});
  ActOptions opt;
  ASSERT_TRUE(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}).is_ok());
  expect_output(c, plain, 0.0, "1 - m < 1e-6");
}

TEST(Act, HeadMaskDisablesHeadsAndGateAppliesAfterCalibration) {
  AttentionCase c = sink_case(/*seed=*/91);
  const std::vector<double> plain = plain_output(c);
  HostTensor mask(DType::kUInt8, {4});
  for (int64_t h = 0; h < 4; ++h) mask.ptr<uint8_t>()[h] = h % 2;  // heads 1 and 3 calibrated
  ActOptions opt;
  opt.head_mask = mask.view;
  SetBuffers sb(2, 4, opt.max_sinks);
  ASSERT_TRUE(attnkit::act_forward(c.params, opt, &sb.sets).is_ok());
  std::vector<double> calibrated(static_cast<size_t>(c.o.numel()));
  for (int64_t n = 0; n < c.o.numel(); ++n) calibrated[n] = c.o.get(n);
  const auto& s = c.shape;
  bool changed = false;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h) {
      if (h % 2 == 0) EXPECT_EQ(sb.count.ptr<int32_t>()[b * 4 + h], 0) << "disabled head has no set";
      for (int64_t i = 0; i < s.sq; ++i)
        for (int64_t x = 0; x < s.dv; ++x) {
          const int64_t n = ((b * s.sq + i) * s.hq + h) * s.dv + x;
          if (h % 2 == 0) ASSERT_EQ(calibrated[n], plain[n]);
          changed |= std::abs(calibrated[n] - plain[n]) > 1e-3;
        }
    }
  EXPECT_TRUE(changed);
  // The sets act_forward reports are the ones act_detect finds.
  SetBuffers detected(2, 4, opt.max_sinks);
  ASSERT_TRUE(attnkit::act_detect(c.params, opt, detected.sets).is_ok());
  for (int64_t n = 0; n < sb.index.numel(); ++n) ASSERT_EQ(sb.index.ptr<int32_t>()[n], detected.index.ptr<int32_t>()[n]);
  // Gate (SPEC 6.2) multiplies the calibrated output.
  Rng rng(92);
  HostTensor gate = make_normal(DType::kFloat32, {2, s.sq, 4}, rng);
  c.params.gate.g = gate.view;
  c.poison();
  ASSERT_TRUE(attnkit::act_forward(c.params, opt).is_ok());
  for (int64_t n = 0; n < c.o.numel(); ++n) {
    const double g = gate.get(n / s.dv);
    ASSERT_NEAR(c.o.get(n), calibrated[n] / (1 + std::exp(-g)), 1e-5);
  }
}

TEST(Act, VarlenDetectsPerSequence) {
  // Sequence 0 has a strong key at position 1, sequence 1 at position 2 (positions inside
  // each sequence); keep_first_sink off so both are reported.
  HostTensor q(DType::kFloat32, {7, 1, 1}), k(DType::kFloat32, {7, 1, 1}), v(DType::kFloat32, {7, 1, 1});
  for (int64_t n = 0; n < 7; ++n) {
    q.set(n, 1.0);
    k.set(n, 0.1 * static_cast<double>(n % 3));
    v.set(n, 1.0 + n);
  }
  k.set(1, 5.0);
  k.set(3 + 2, 5.0);
  HostTensor cq = make_int32({3}, {0, 3, 7}), ck = make_int32({3}, {0, 3, 7});
  AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.cu_seqlens_q = cq.view;
  p.cu_seqlens_k = ck.view;
  ActOptions opt;
  opt.keep_first_sink = false;
  opt.theta = 0.5f;
  SetBuffers sb(2, 1, 4);
  opt.max_sinks = 4;
  ASSERT_TRUE(attnkit::act_detect(p, opt, sb.sets).is_ok());
  EXPECT_EQ(sb.set(0, 0), (std::vector<int32_t>{1}));
  EXPECT_EQ(sb.set(1, 0), (std::vector<int32_t>{2}));
}

TEST(Act, BadArgumentsAreRejectedAndNothingIsWritten) {
  AttentionCase c = sink_case(/*seed=*/101);
  auto check = [&](const attnkit::Status& s, const char* name) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << name << ": " << s.message();
    for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_TRUE(std::isnan(c.o.get(n))) << name << ": o was written";
  };
  SetBuffers sb(2, 4, 64);
  for (float theta : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    ActOptions opt;
    opt.theta = theta;
    check(attnkit::act_forward(c.params, opt, &sb.sets), "options.theta");
    check(attnkit::act_detect(c.params, opt, sb.sets), "options.theta");
  }
  ActOptions opt;
  opt.beta = 1.01f;
  check(attnkit::act_forward(c.params, opt), "options.beta");
  opt = ActOptions{};
  opt.max_sinks = 0;
  check(attnkit::act_forward(c.params, opt), "options.max_sinks");
  HostTensor mask(DType::kUInt8, {3});
  opt = ActOptions{};
  opt.head_mask = mask.view;
  check(attnkit::act_forward(c.params, opt), "options.head_mask");
  opt = ActOptions{};
  SetBuffers narrow(2, 4, 8);  // index must be [B, Hq, max_sinks = 64]
  check(attnkit::act_forward(c.params, opt, &narrow.sets), "detected.index");
  check(attnkit::act_detect(c.params, opt, narrow.sets), "out.index");
  EXPECT_TRUE(sb.untouched());
  EXPECT_TRUE(narrow.untouched());
  // Sets given by the caller: count within K, positions in range and strictly ascending.
  HostTensor count = make_int32({2, 4}, {1, 1, 1, 1, 1, 1, 1, 1});
  HostTensor index(DType::kInt32, {2, 4, 2});
  for (int64_t n = 0; n < index.numel(); ++n) index.ptr<int32_t>()[n] = 1;
  ASSERT_TRUE(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}).is_ok());
  c.poison();
  index.ptr<int32_t>()[2] = 12;  // Sk = 12
  check(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}), "sets.index");
  index.ptr<int32_t>()[2] = 1;
  count.ptr<int32_t>()[3] = 2;  // entries {1, 1}: not strictly ascending
  check(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}), "sets.index");
  count.ptr<int32_t>()[3] = 3;  // K = 2
  check(attnkit::act_forward_with_sets(c.params, opt, SinkSets{count.view, index.view}), "sets.count");
  check(attnkit::act_forward_with_sets(c.params, opt, SinkSets{}), "sets.count");
}

}  // namespace
}  // namespace attnkit_test
