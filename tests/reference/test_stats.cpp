// attention_stats (SPEC 7): column and block statistics against hand-checked values, an
// independent brute-force p_ij, and mass-conservation properties over random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::AttentionParams;
using attnkit::StatsOutputs;
using attnkit::StatusCode;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Brute-force p_ij of SPEC 4 for a batched case: scale 1/sqrt(D), an explicit visibility
/// predicate and an optional per-head sink. Returns [Sk] (0 where invisible).
std::vector<double> brute_probs(const AttentionCase& c, int64_t b, int64_t h, int64_t i,
                                const std::function<bool(int64_t, int64_t)>& vis, double sink = -kInf) {
  const auto& s = c.shape;
  const int64_t kvh = h / (s.hq / s.hkv);
  std::vector<double> logit(static_cast<size_t>(s.sk), -kInf), p(static_cast<size_t>(s.sk), 0.0);
  double m = sink;
  for (int64_t j = 0; j < s.sk; ++j) {
    if (!vis(i, j)) continue;
    double dot = 0;
    for (int64_t x = 0; x < s.d; ++x) dot += c.q_at(b, i, h, x) * c.k_at(b, j, kvh, x);
    logit[j] = dot / std::sqrt(static_cast<double>(s.d));
    m = std::max(m, logit[j]);
  }
  if (m == -kInf) return p;
  double l = std::exp(sink - m);
  for (double x : logit) l += std::exp(x - m);
  for (int64_t j = 0; j < s.sk; ++j) p[j] = std::exp(logit[j] - m) / l;
  return p;
}

struct StatsBuffers {
  HostTensor colsum, colcount, colmean, blockmass, blockmean;
  StatsOutputs out;
  StatsBuffers(int64_t b, int64_t hq, int64_t sk, int64_t nqb, int64_t nkb, int block_q, int block_k) {
    colsum = make_nan(DType::kFloat32, {b, hq, sk});
    colcount = HostTensor(DType::kInt32, {b, hq, sk});
    for (int64_t n = 0; n < colcount.numel(); ++n) colcount.ptr<int32_t>()[n] = -7;  // poison
    colmean = make_nan(DType::kFloat32, {b, hq, sk});
    blockmass = make_nan(DType::kFloat32, {b, hq, nqb, nkb});
    blockmean = make_nan(DType::kFloat32, {b, hq, nqb, nkb});
    out.colsum = colsum.view;
    out.colcount = colcount.view;
    out.colmean = colmean.view;
    out.blockmass = blockmass.view;
    out.blockmean = blockmean.view;
    out.block_q = block_q;
    out.block_k = block_k;
  }
  bool untouched() const {
    for (const HostTensor* t : {&colsum, &colmean, &blockmass, &blockmean})
      for (int64_t n = 0; n < t->numel(); ++n)
        if (!std::isnan(t->get(n))) return false;
    for (int64_t n = 0; n < colcount.numel(); ++n)
      if (colcount.ptr<int32_t>()[n] != -7) return false;
    return true;
  }
};

TEST(Stats, HandCheckedCausalUniformRows) {
  // Identical keys make every visible logit of a row equal: row i spreads 1 / (i + 1)
  // over keys 0..i. colsum = [1 + 1/2 + 1/3, 1/2 + 1/3, 1/3].
  AttentionCase c({1, 3, 3, 1, 1, 4, 4}, /*seed=*/11);
  for (int64_t j = 1; j < 3; ++j)
    for (int64_t x = 0; x < 4; ++x) c.k.set(j * 4 + x, c.k.get(x));
  c.params.causal = true;
  StatsBuffers sb(1, 1, 3, 2, 2, /*block_q=*/2, /*block_k=*/2);
  ASSERT_TRUE(attnkit::attention_stats(c.params, sb.out).is_ok());
  const double colsum[] = {11.0 / 6, 5.0 / 6, 1.0 / 3};
  const int colcount[] = {3, 2, 1};
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(sb.colsum.get(j), colsum[j], 1e-6);
    EXPECT_EQ(sb.colcount.ptr<int32_t>()[j], colcount[j]);
    EXPECT_NEAR(sb.colmean.get(j), colsum[j] / colcount[j], 1e-6);
  }
  // Blocks (2 x 2, tails 1): mass [[2, 0], [2/3, 1/3]]; mean divides by actual sizes.
  const double mass[] = {2.0, 0.0, 2.0 / 3, 1.0 / 3};
  const double mean[] = {2.0 / 4, 0.0, (2.0 / 3) / 2, 1.0 / 3};
  for (int n = 0; n < 4; ++n) {
    EXPECT_NEAR(sb.blockmass.get(n), mass[n], 1e-6) << n;
    EXPECT_NEAR(sb.blockmean.get(n), mean[n], 1e-6) << n;
  }
}

TEST(Stats, MatchesBruteForceWithSinkGqaAndWindow) {
  AttentionCase c({2, 9, 13, 4, 2, 8, 8}, /*seed=*/12);
  HostTensor sink = head_array(4, {0.5, -kInf, 2.0, -1.0});
  c.params.sink_logit = sink.view;
  c.params.causal = true;
  c.params.window_left = 3;
  c.params.sink_tokens = 2;
  const auto& s = c.shape;
  auto vis = [&](int64_t i, int64_t j) {
    const int64_t ip = i + s.sk - s.sq;
    return j <= ip && (j >= ip - 3 || j < 2);
  };
  StatsBuffers sb(2, 4, 13, 3, 4, /*block_q=*/4, /*block_k=*/4);
  ASSERT_TRUE(attnkit::attention_stats(c.params, sb.out).is_ok());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h) {
      std::vector<double> colsum(13, 0.0), mass(12, 0.0);
      std::vector<int> count(13, 0);
      for (int64_t i = 0; i < s.sq; ++i) {
        const std::vector<double> p = brute_probs(c, b, h, i, vis, sink.get(h));
        for (int64_t j = 0; j < s.sk; ++j) {
          colsum[j] += p[j];
          count[j] += vis(i, j);
          mass[(i / 4) * 4 + j / 4] += p[j];
        }
      }
      for (int64_t j = 0; j < s.sk; ++j) {
        const int64_t n = (b * 4 + h) * 13 + j;
        ASSERT_NEAR(sb.colsum.get(n), colsum[j], 1e-5) << b << " " << h << " " << j;
        ASSERT_EQ(sb.colcount.ptr<int32_t>()[n], count[j]);
        ASSERT_NEAR(sb.colmean.get(n), count[j] ? colsum[j] / count[j] : 0.0, 1e-5);
      }
      for (int64_t qb = 0; qb < 3; ++qb)
        for (int64_t kb = 0; kb < 4; ++kb) {
          const int64_t n = ((b * 4 + h) * 3 + qb) * 4 + kb;
          const double rows = std::min<int64_t>(4, s.sq - qb * 4), keys = std::min<int64_t>(4, s.sk - kb * 4);
          ASSERT_NEAR(sb.blockmass.get(n), mass[qb * 4 + kb], 1e-5);
          ASSERT_NEAR(sb.blockmean.get(n), mass[qb * 4 + kb] / (rows * keys), 1e-6);
        }
    }
}

// sum_j colsum = sum over rows of (1 - sink mass) = sum_i (1 - exp(sigma - LSE_i)), rows
// without keys contributing 0; the block masses of each query block add up to the same
// per-row totals. LSE comes from forward(), so this ties the two passes together.
TEST(Stats, MassConservationAgainstForwardLse) {
  for (uint64_t seed : {21u, 22u, 23u}) {
    AttentionCase c({2, 11, 17, 6, 3, 16, 8}, seed);
    HostTensor sink = head_array(6, {1.0, -0.5, -kInf});
    HostTensor tau = head_array(6, {1.0, 0.5, 2.0});
    HostTensor gamma = head_array(6, {0.7, -kInf, -1.0});
    c.params.sink_logit = sink.view;
    c.params.head_scale = tau.view;
    c.params.log_gamma = gamma.view;
    c.params.bias_begin = 1;
    c.params.bias_end = 4;
    c.params.causal = seed != 22;
    c.params.window_right = seed == 23 ? 2 : -1;
    ASSERT_TRUE(attnkit::forward(c.params).is_ok());
    StatsBuffers sb(2, 6, 17, 3, 5, /*block_q=*/5, /*block_k=*/4);
    ASSERT_TRUE(attnkit::attention_stats(c.params, sb.out).is_ok());
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 6; ++h) {
        std::vector<double> row_total(3, 0.0);
        for (int64_t i = 0; i < 11; ++i) {
          const double lse = c.lse_at(b, h, i);
          if (lse != -kInf) row_total[i / 5] += 1.0 - std::exp(sink.get(h) - lse);
        }
        double colsum = 0, total = row_total[0] + row_total[1] + row_total[2];
        for (int64_t j = 0; j < 17; ++j) colsum += sb.colsum.get((b * 6 + h) * 17 + j);
        EXPECT_NEAR(colsum, total, 1e-4) << seed << " " << b << " " << h;
        for (int64_t qb = 0; qb < 3; ++qb) {
          double mass = 0;
          for (int64_t kb = 0; kb < 5; ++kb) mass += sb.blockmass.get(((b * 6 + h) * 3 + qb) * 5 + kb);
          EXPECT_NEAR(mass, row_total[qb], 1e-4) << seed << " " << b << " " << h << " " << qb;
        }
      }
  }
}

TEST(Stats, BlockMaskMakesColcountPerHead) {
  // Mask heads Hm = 2 over Hq = 4: head h uses mask head h / 2. Mask head 0 keeps only the
  // diagonal block, mask head 1 everything; counts follow per head.
  AttentionCase c({1, 4, 4, 4, 1, 4, 4}, /*seed=*/31);
  HostTensor count = make_int32({1, 2, 2}, {1, 1, 2, 2});
  HostTensor index = make_int32({1, 2, 2, 2}, {0, -1, 1, -1, 0, 1, 0, 1});
  c.params.block_mask.kv_count = count.view;
  c.params.block_mask.kv_index = index.view;
  c.params.block_mask.block_q = 2;
  c.params.block_mask.block_k = 2;
  StatsBuffers sb(1, 4, 4, 1, 1, 128, 128);
  ASSERT_TRUE(attnkit::attention_stats(c.params, sb.out).is_ok());
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(sb.colcount.ptr<int32_t>()[h * 4 + j], h < 2 ? 2 : 4) << h << " " << j;
  EXPECT_NEAR(sb.blockmass.get(0), 4.0, 1e-5);  // one block holds every row's mass
}

TEST(Stats, VarlenLeavesRowsPastTheLastSequenceAndZeroesShortBlocks) {
  // Two sequences (3 and 2 queries; 4 and 1 keys) inside 6 query rows and 7 key rows: key
  // rows past cu_seqlens_k[B] belong to no sequence and are left as they were (NaN poison
  // here), as forward leaves O / LSE rows past cu_seqlens_q[B]; blocks past a shorter
  // sequence's end are inside its [NQB, NKB] grid and are 0.
  Rng rng(41);
  HostTensor q = make_normal(DType::kFloat32, {6, 2, 4}, rng), k = make_normal(DType::kFloat32, {7, 1, 4}, rng);
  HostTensor v = make_normal(DType::kFloat32, {7, 1, 4}, rng);
  HostTensor cq = make_int32({3}, {0, 3, 5}), ck = make_int32({3}, {0, 4, 5});
  AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.cu_seqlens_q = cq.view;
  p.cu_seqlens_k = ck.view;
  HostTensor colsum = make_nan(DType::kFloat32, {2, 7}), mass = make_nan(DType::kFloat32, {2, 2, 2, 2});
  StatsOutputs out;
  out.colsum = colsum.view;
  out.blockmass = mass.view;
  out.block_q = 2;
  out.block_k = 2;
  ASSERT_TRUE(attnkit::attention_stats(p, out).is_ok());
  for (int64_t h = 0; h < 2; ++h) {
    double s0 = 0;
    for (int64_t j = 0; j < 4; ++j) s0 += colsum.get(h * 7 + j);
    EXPECT_NEAR(s0, 3.0, 1e-5);                     // sequence 0: 3 rows, no sink
    EXPECT_NEAR(colsum.get(h * 7 + 4), 2.0, 1e-5);  // sequence 1: its only key takes everything
    EXPECT_TRUE(std::isnan(colsum.get(h * 7 + 5)));
    EXPECT_TRUE(std::isnan(colsum.get(h * 7 + 6)));
    // Sequence 1 has one query block and one key block.
    EXPECT_NEAR(mass.get(((1 * 2 + h) * 2 + 0) * 2 + 0), 2.0, 1e-5);
    EXPECT_EQ(mass.get(((1 * 2 + h) * 2 + 0) * 2 + 1), 0.0);
    EXPECT_EQ(mass.get(((1 * 2 + h) * 2 + 1) * 2 + 0), 0.0);
    EXPECT_EQ(mass.get(((1 * 2 + h) * 2 + 1) * 2 + 1), 0.0);
  }
}

TEST(Stats, BadOutputsAreRejectedAndNothingIsWritten) {
  AttentionCase c({1, 4, 6, 2, 2, 4, 4}, /*seed=*/51);
  auto expect_invalid = [&](const StatsOutputs& out, const StatsBuffers& sb, const char* name) {
    const attnkit::Status s = attnkit::attention_stats(c.params, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
    EXPECT_TRUE(sb.untouched()) << name;
  };
  {
    StatsBuffers sb(1, 2, 6, 1, 1, 128, 128);
    expect_invalid(StatsOutputs{}, sb, "out");
  }
  {
    StatsBuffers sb(1, 2, 5, 1, 1, 128, 128);  // Sk = 6 expected
    expect_invalid(sb.out, sb, "out.colsum");
  }
  {
    StatsBuffers sb(1, 2, 6, 1, 1, 128, 128);
    StatsOutputs out = sb.out;
    out.colcount.dtype = DType::kFloat32;
    expect_invalid(out, sb, "out.colcount");
  }
  {
    StatsBuffers sb(1, 2, 6, 1, 1, 128, 128);
    StatsOutputs out = sb.out;
    out.block_k = 0;
    expect_invalid(out, sb, "out.block_k");
  }
  {
    StatsBuffers sb(1, 2, 6, 1, 2, 128, 128);  // NKB = 1 expected
    expect_invalid(sb.out, sb, "out.blockmass");
  }
  {
    StatsBuffers sb(1, 2, 6, 1, 1, 128, 128);
    StatsOutputs out = sb.out;
    out.colmean.stride[2] = 2;
    expect_invalid(out, sb, "out.colmean");
  }
}

TEST(Stats, DeviceTensorsWithoutAUsableDeviceAreRejected) {
  // Device views with fake addresses: validation never reads device memory, but a kernel
  // would, so this runs only where no device can run one (tests/cuda covers the GPU path).
  if (cuda_device_usable()) GTEST_SKIP() << "a CUDA device is present: the GPU path is tested in tests/cuda";
  void* fake = reinterpret_cast<void*>(0x1000);
  AttentionParams p;
  p.q = TensorView::contiguous(fake, DType::kFloat16, {1, 4, 2, 8}, attnkit::DeviceKind::kCuda);
  p.k = TensorView::contiguous(fake, DType::kFloat16, {1, 4, 2, 8}, attnkit::DeviceKind::kCuda);
  p.v = TensorView::contiguous(fake, DType::kFloat16, {1, 4, 2, 8}, attnkit::DeviceKind::kCuda);
  StatsOutputs out;
  out.colsum = TensorView::contiguous(fake, DType::kFloat32, {1, 2, 4}, attnkit::DeviceKind::kCuda);
  const attnkit::Status s = attnkit::attention_stats(p, out);
  EXPECT_TRUE(is_no_device_status(s)) << s.message();
  out.colsum = TensorView::contiguous(fake, DType::kFloat32, {1, 2, 4});  // host output, device q
  EXPECT_EQ(attnkit::attention_stats(p, out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace attnkit_test
