// SparseD planner (SPEC 8): selection against a brute-force top-k of attention_stats'
// block means, the keep formula, ties, the generation region, the schedule, and argument
// validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::BlockMask;
using attnkit::SparseDOptions;
using attnkit::SparseDSchedule;
using attnkit::SparseDStep;
using attnkit::StatusCode;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct PlanBuffers {
  HostTensor count, index;
  BlockMask mask;
  int64_t b, hq, nqb, nkb;
  PlanBuffers(int64_t b_, int64_t hq_, int64_t nqb_, int64_t nkb_, int bs)
      : count(DType::kInt32, {b_, hq_, nqb_}), index(DType::kInt32, {b_, hq_, nqb_, nkb_}), b(b_), hq(hq_), nqb(nqb_),
        nkb(nkb_) {
    for (int64_t n = 0; n < count.numel(); ++n) count.ptr<int32_t>()[n] = 555;
    for (int64_t n = 0; n < index.numel(); ++n) index.ptr<int32_t>()[n] = 555;
    mask.kv_count = count.view;
    mask.kv_index = index.view;
    mask.block_q = bs;
    mask.block_k = bs;
  }
  /// The row's selected blocks; checks ascending order and the -1 padding.
  std::vector<int64_t> row(int64_t bi, int64_t h, int64_t qb) const {
    const int64_t r = (bi * hq + h) * nqb + qb;
    const int32_t n = count.ptr<int32_t>()[r];
    std::vector<int64_t> out;
    for (int64_t e = 0; e < nkb; ++e) {
      const int32_t kb = index.ptr<int32_t>()[r * nkb + e];
      if (e < n) {
        if (!out.empty()) EXPECT_GT(kb, out.back()) << "entries must ascend";
        out.push_back(kb);
      } else {
        EXPECT_EQ(kb, -1) << "unused entries are -1";
      }
    }
    return out;
  }
  bool untouched() const {
    for (int64_t n = 0; n < count.numel(); ++n)
      if (count.ptr<int32_t>()[n] != 555) return false;
    for (int64_t n = 0; n < index.numel(); ++n)
      if (index.ptr<int32_t>()[n] != 555) return false;
    return true;
  }
};

/// Top `keep` of `scores` (ties: lower index), ascending; `*clear` is false when the
/// cut falls between two nonzero scores closer than float32 stats can separate.
std::vector<int64_t> brute_top(const std::vector<double>& scores, int64_t keep, bool* clear) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  keep = std::min<int64_t>(keep, static_cast<int64_t>(order.size()));
  if (keep < static_cast<int64_t>(order.size())) {
    const double a = scores[order[keep - 1]], b = scores[order[keep]];
    if (!(a == 0.0 && b == 0.0) && std::abs(a - b) <= 1e-5 * std::max(std::abs(a), 1e-3)) *clear = false;
  }
  order.resize(static_cast<size_t>(keep));
  std::sort(order.begin(), order.end());
  return order;
}

/// blockmean [B, Hq, NQB, NKB] of the call through the public statistics entry point.
HostTensor block_means(const attnkit::AttentionParams& p, int64_t b, int64_t hq, int64_t nqb, int64_t nkb, int bs) {
  HostTensor mean = make_nan(DType::kFloat32, {b, hq, nqb, nkb});
  attnkit::StatsOutputs st;
  st.blockmean = mean.view;
  st.block_q = bs;
  st.block_k = bs;
  EXPECT_TRUE(attnkit::attention_stats(p, st).is_ok());
  return mean;
}

TEST(SparseD, RhoOneKeepsEveryBlock) {
  AttentionCase c({2, 20, 23, 4, 2, 8, 8}, /*seed=*/1);
  c.params.causal = true;
  SparseDOptions opt;
  opt.block_size = 4;
  opt.rho = 1.0f;
  PlanBuffers pb(2, 4, 5, 6, 4);
  ASSERT_TRUE(attnkit::sparsed_plan(c.params, opt, pb.mask).is_ok());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t qb = 0; qb < 5; ++qb) EXPECT_EQ(pb.row(b, h, qb), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(SparseD, KeepCountFollowsTheFormula) {
  // NKB = 10: keep = min(10, max(1, floor(10 rho) + 1)); 0.7f counts as 0.7 (keep 8).
  AttentionCase c({1, 6, 20, 2, 2, 8, 8}, /*seed=*/2);
  for (auto [rho, keep] : {std::pair{0.7f, 8}, {0.3f, 4}, {0.05f, 1}, {0.95f, 10}, {0.5f, 6}}) {
    SparseDOptions opt;
    opt.block_size = 2;
    opt.rho = rho;
    PlanBuffers pb(1, 2, 3, 10, 2);
    ASSERT_TRUE(attnkit::sparsed_plan(c.params, opt, pb.mask).is_ok());
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t qb = 0; qb < 3; ++qb) EXPECT_EQ(pb.row(0, h, qb).size(), static_cast<size_t>(keep)) << rho;
  }
}

TEST(SparseD, SelectionMatchesBruteForce) {
  for (bool causal : {false, true}) {
    AttentionCase c({2, 24, 30, 4, 2, 16, 8}, /*seed=*/causal ? 3 : 4);
    c.params.causal = causal;
    HostTensor sink = head_array(4, {0.5, -1.0});
    c.params.sink_logit = sink.view;
    SparseDOptions opt;
    opt.block_size = 4;
    opt.rho = 0.3f;  // NKB = 8: keep floor(2.4) + 1 = 3
    PlanBuffers pb(2, 4, 6, 8, 4);
    ASSERT_TRUE(attnkit::sparsed_plan(c.params, opt, pb.mask).is_ok());
    const HostTensor mean = block_means(c.params, 2, 4, 6, 8, 4);
    int compared = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t qb = 0; qb < 6; ++qb) {
          std::vector<double> s(8);
          for (int64_t kb = 0; kb < 8; ++kb) s[kb] = mean.get(((b * 4 + h) * 6 + qb) * 8 + kb);
          bool clear = true;
          const std::vector<int64_t> want = brute_top(s, 3, &clear);
          if (!clear) continue;
          ++compared;
          EXPECT_EQ(pb.row(b, h, qb), want) << causal << " " << b << " " << h << " " << qb;
        }
    EXPECT_GE(compared, 44) << "of 48 rows";
  }
}

TEST(SparseD, TiesGoToLowerBlocks) {
  // Identical keys: every block mean of a row is equal, so the lowest blocks are kept.
  AttentionCase c({1, 8, 16, 1, 1, 4, 4}, /*seed=*/5);
  for (int64_t j = 1; j < 16; ++j)
    for (int64_t x = 0; x < 4; ++x) c.k.set(j * 4 + x, c.k.get(x));
  SparseDOptions opt;
  opt.block_size = 2;
  opt.rho = 0.25f;  // NKB = 8: keep 3
  PlanBuffers pb(1, 1, 4, 8, 2);
  ASSERT_TRUE(attnkit::sparsed_plan(c.params, opt, pb.mask).is_ok());
  for (int64_t qb = 0; qb < 4; ++qb) EXPECT_EQ(pb.row(0, 0, qb), (std::vector<int64_t>{0, 1, 2}));
}

TEST(SparseD, GenerationRegionIsReselectedFromRestrictedSoftmax) {
  // Non-causal, so the softmax restricted to keys j >= g equals a call on K, V sliced
  // from row g: brute force = (full top-keep minus blocks >= g/bs) + top keep_gen of the
  // sliced call's block means (shifted by g/bs).
  const int64_t bs = 4, g = 8, sk = 26;  // NKB = 7, generation blocks 2..6 (NKB_gen = 5)
  AttentionCase c({2, 12, sk, 2, 1, 8, 8}, /*seed=*/6);
  HostTensor sink = head_array(2, {0.3, -kInf});
  c.params.sink_logit = sink.view;
  SparseDOptions opt;
  opt.block_size = bs;
  opt.rho = 0.3f;  // keep = floor(2.1) + 1 = 3; keep_gen = floor(1.5) + 1 = 2
  opt.generation_start = g;
  PlanBuffers pb(2, 2, 3, 7, bs);
  ASSERT_TRUE(attnkit::sparsed_plan(c.params, opt, pb.mask).is_ok());

  const HostTensor full = block_means(c.params, 2, 2, 3, 7, bs);
  attnkit::AttentionParams sliced = c.params;
  for (TensorView* t : {&sliced.k, &sliced.v}) {
    t->data = static_cast<float*>(t->data) + g * t->stride[1];
    t->shape[1] = sk - g;
  }
  const HostTensor gen = block_means(sliced, 2, 2, 3, 5, bs);
  int compared = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t qb = 0; qb < 3; ++qb) {
        std::vector<double> s(7), sg(5);
        for (int64_t kb = 0; kb < 7; ++kb) s[kb] = full.get(((b * 2 + h) * 3 + qb) * 7 + kb);
        for (int64_t kb = 0; kb < 5; ++kb) sg[kb] = gen.get(((b * 2 + h) * 3 + qb) * 5 + kb);
        bool clear = true;
        std::vector<int64_t> want;
        for (int64_t kb : brute_top(s, 3, &clear))
          if (kb < g / bs) want.push_back(kb);
        for (int64_t kb : brute_top(sg, 2, &clear)) want.push_back(kb + g / bs);
        if (!clear) continue;
        ++compared;
        EXPECT_EQ(pb.row(b, h, qb), want) << b << " " << h << " " << qb;
      }
  EXPECT_GE(compared, 10) << "of 12 rows";
}

TEST(SparseD, VarlenRowsPastAShortSequenceAreEmpty) {
  Rng rng(8);
  HostTensor q = make_normal(DType::kFloat32, {12, 1, 4}, rng), k = make_normal(DType::kFloat32, {12, 1, 4}, rng);
  HostTensor cu = make_int32({3}, {0, 8, 12});
  attnkit::AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = k.view;
  p.cu_seqlens_q = cu.view;
  p.cu_seqlens_k = cu.view;
  SparseDOptions opt;
  opt.block_size = 4;
  opt.rho = 1.0f;
  PlanBuffers pb(2, 1, 2, 2, 4);
  ASSERT_TRUE(attnkit::sparsed_plan(p, opt, pb.mask).is_ok());
  EXPECT_EQ(pb.row(0, 0, 1), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(pb.row(1, 0, 0), (std::vector<int64_t>{0}));  // sequence 1: 4 keys, one block
  EXPECT_EQ(pb.row(1, 0, 1), (std::vector<int64_t>{}));   // and one query block
}

TEST(SparseD, ScheduleBuildsAtFloorTSkipPlusOne) {
  SparseDSchedule sch{/*total_steps=*/100, /*skip=*/0.29};
  EXPECT_EQ(sch.build_step(), 29);  // 100 * 0.29 = 28.999999999999996 in double
  EXPECT_EQ(sch.step_kind(0), SparseDStep::kDense);
  EXPECT_EQ(sch.step_kind(28), SparseDStep::kDense);
  EXPECT_EQ(sch.step_kind(29), SparseDStep::kBuildPattern);
  EXPECT_EQ(sch.step_kind(30), SparseDStep::kSparse);
  EXPECT_EQ(sch.step_kind(99), SparseDStep::kSparse);
  // Outside [0, T): the same comparisons, no clamping.
  EXPECT_EQ(sch.step_kind(-1), SparseDStep::kDense);
  EXPECT_EQ(sch.step_kind(100), SparseDStep::kSparse);
  EXPECT_EQ((SparseDSchedule{50, 0.2}).build_step(), 11);
  EXPECT_EQ((SparseDSchedule{0, 0.2}).build_step(), 1);
  EXPECT_EQ((SparseDSchedule{10, -0.5}).build_step(), 1);
  EXPECT_EQ((SparseDSchedule{10, std::nan("")}).build_step(), 1);
}

TEST(SparseD, BadArgumentsAreRejectedAndNothingIsWritten) {
  AttentionCase c({1, 8, 16, 2, 2, 8, 8}, /*seed=*/9);
  auto check = [&](const SparseDOptions& opt, const PlanBuffers& pb, const char* name) {
    const attnkit::Status s = attnkit::sparsed_plan(c.params, opt, pb.mask);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << name << ": " << s.message();
    EXPECT_TRUE(pb.untouched()) << name;
  };
  PlanBuffers pb(1, 2, 2, 4, 4);
  SparseDOptions opt;
  opt.block_size = 4;
  for (float rho : {0.0f, -0.5f, 1.5f, std::nanf("")}) {
    opt.rho = rho;
    check(opt, pb, "options.rho");
  }
  opt.rho = 0.3f;
  for (int64_t g : {int64_t{-2}, int64_t{6}, int64_t{16}}) {  // not -1, not a multiple of 4, >= Sk
    opt.generation_start = g;
    check(opt, pb, "options.generation_start");
  }
  opt.generation_start = -1;
  opt.block_size = 0;
  check(opt, pb, "options.block_size");
  opt.block_size = 8;  // the output was sized for 4
  check(opt, pb, "out.block_q");
  opt.block_size = 4;
  PlanBuffers narrow(1, 2, 2, 3, 4);  // NKB = 4
  check(opt, narrow, "out.kv_index");
  PlanBuffers mask_heads(1, 1, 2, 4, 4);  // Hm must be Hq
  check(opt, mask_heads, "out.kv_count");
  // Device tensors with fake addresses: valid, and rejected only because no device can run
  // them here (skipped where one can: a kernel would dereference the fake addresses).
  if (cuda_device_usable()) return;
  void* fake = reinterpret_cast<void*>(0x1000);
  attnkit::AttentionParams p;
  p.q = TensorView::contiguous(fake, DType::kFloat16, {1, 8, 2, 8}, attnkit::DeviceKind::kCuda);
  p.k = p.v = TensorView::contiguous(fake, DType::kFloat16, {1, 16, 2, 8}, attnkit::DeviceKind::kCuda);
  BlockMask out = pb.mask;
  out.kv_count.device = out.kv_index.device = attnkit::DeviceKind::kCuda;
  const attnkit::Status device_status = attnkit::sparsed_plan(p, opt, out);
  EXPECT_TRUE(is_no_device_status(device_status)) << device_status.message();
  EXPECT_TRUE(pb.untouched());
}

}  // namespace
}  // namespace attnkit_test
