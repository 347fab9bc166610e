// Ring attention (python-free-examples/ring_attention.hpp, the schedule and merge order of
// ring_attention_nccl.cpp) with the ranks simulated in one process: host tensors, the CPU
// backend, and KV shards that really move from rank to rank after every step. The ranks'
// outputs together must equal one forward over all keys with the learned sink.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"
#include "python-free-examples/ring_attention.hpp"

namespace attnkit_test {
namespace {

using attnkit::DType;
using attnkit::TensorView;

TEST(RingSchedule, EveryRankSeesEveryShardOnceAndReceivesWhatItsNeighbourHeld) {
  for (int world = 1; world <= 8; ++world) {
    for (int r = 0; r < world; ++r) {
      const ring::RingSchedule s{world, r};
      std::vector<int> seen;
      for (int t = 0; t < s.steps(); ++t) seen.push_back(s.kv_shard(t));
      std::sort(seen.begin(), seen.end());
      for (int i = 0; i < world; ++i) EXPECT_EQ(seen[i], i) << "world " << world << " rank " << r;
      EXPECT_EQ(s.kv_shard(0), r);
      const ring::RingSchedule prev{world, s.recv_from()};
      for (int t = 0; t + 1 < s.steps(); ++t) EXPECT_EQ(s.kv_shard(t + 1), prev.kv_shard(t));
      EXPECT_EQ((ring::RingSchedule{world, s.send_to()}).recv_from(), r);
      EXPECT_EQ(s.exchange_after(s.steps() - 1), false);
    }
  }
}

/// One KV shard in flight: its index (checked against the schedule) and its keys / values.
struct Shard {
  int index = -1;
  HostTensor k, v;  // [1, Skv_r, Hkv, D], [1, Skv_r, Hkv, Dv]
};

/// World `world`, query shards of `sq` rows, KV shards of 3 + r % 3 rows (uneven on purpose).
void run_ring(int world, DType dtype, uint64_t seed) {
  constexpr int64_t kSq = 4, kHq = 4, kHkv = 2, kD = 8, kDv = 8;
  const std::string what = "world " + std::to_string(world) + " " + attnkit::dtype_name(dtype);
  Rng rng(seed);
  std::vector<int64_t> skv(static_cast<size_t>(world)), kv_start(static_cast<size_t>(world) + 1, 0);
  for (int r = 0; r < world; ++r) {
    skv[r] = 3 + r % 3;
    kv_start[r + 1] = kv_start[r] + skv[r];
  }
  const int64_t s_total = kSq * world, sk_total = kv_start[world];
  HostTensor q = make_normal(dtype, {1, s_total, kHq, kD}, rng);
  HostTensor k = make_normal(dtype, {1, sk_total, kHkv, kD}, rng, 2.0);
  HostTensor v = make_normal(dtype, {1, sk_total, kHkv, kDv}, rng);
  HostTensor sink(DType::kFloat32, {kHq});
  for (int64_t h = 0; h < kHq; ++h) sink.set(h, h == 1 ? -std::numeric_limits<double>::infinity() : 0.5 * h);

  // Each rank starts with its own KV shard (a copy, as on its own GPU).
  std::vector<Shard> holding(static_cast<size_t>(world));
  for (int r = 0; r < world; ++r) {
    Shard& s = holding[r];
    s.index = r;
    s.k.reset(dtype, {1, skv[r], kHkv, kD});
    s.v.reset(dtype, {1, skv[r], kHkv, kDv});
    for (int64_t n = 0; n < s.k.numel(); ++n) s.k.set(n, k.get(kv_start[r] * kHkv * kD + n));
    for (int64_t n = 0; n < s.v.numel(); ++n) s.v.set(n, v.get(kv_start[r] * kHkv * kDv + n));
  }

  // Every rank writes its rows of one output (and LSE [1, H, S], rank r's columns).
  HostTensor o = make_nan(dtype, {1, s_total, kHq, kDv}), lse = make_nan(DType::kFloat32, {1, kHq, s_total});
  std::vector<HostTensor> run_o, run_lse, step_o, step_lse;
  std::vector<ring::RingOutputs> outs(static_cast<size_t>(world));
  for (int r = 0; r < world; ++r) {
    run_o.push_back(make_nan(dtype, {1, kSq, kHq, kDv}));  // the step outputs' dtype
    run_lse.push_back(make_nan(DType::kFloat32, {1, kHq, kSq}));
    step_o.push_back(make_nan(dtype, {1, kSq, kHq, kDv}));
    step_lse.push_back(make_nan(DType::kFloat32, {1, kHq, kSq}));
  }
  for (int r = 0; r < world; ++r) {
    ring::RingOutputs& out = outs[r];
    out.run_o = run_o[r].view;
    out.run_lse = run_lse[r].view;
    out.out_o = TensorView::strided(o.ptr<unsigned char>() + r * kSq * kHq * kDv * attnkit::dtype_size(dtype), dtype,
                                    {1, kSq, kHq, kDv}, {s_total * kHq * kDv, kHq * kDv, kDv, 1});
    out.out_lse = TensorView::strided(lse.ptr<float>() + r * kSq, DType::kFloat32, {1, kHq, kSq},
                                      {kHq * s_total, s_total, 1});
    out.sink = sink.view;
  }

  for (int step = 0; step < world; ++step) {
    for (int r = 0; r < world; ++r) {
      const ring::RingSchedule schedule{world, r};
      ASSERT_EQ(holding[r].index, schedule.kv_shard(step)) << what << " rank " << r << " step " << step;
      attnkit::AttentionParams p;
      p.q = TensorView::strided(q.ptr<unsigned char>() + r * kSq * kHq * kD * attnkit::dtype_size(dtype), dtype,
                                {1, kSq, kHq, kD}, {s_total * kHq * kD, kHq * kD, kD, 1});
      p.k = holding[r].k.view;
      p.v = holding[r].v.view;
      p.o = step_o[r].view;
      p.lse = step_lse[r].view;
      fill_nan(step_o[r]);
      fill_nan(step_lse[r]);
      ASSERT_TRUE(attnkit::forward(p)) << what;
      const attnkit::Status s = ring::merge_step(schedule, step, step_o[r].view, step_lse[r].view, outs[r], nullptr);
      ASSERT_TRUE(s.is_ok()) << what << ": " << s.message();
    }
    // The exchange: every rank sends what it holds to send_to() and receives from recv_from().
    std::vector<Shard> next(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) {
      const ring::RingSchedule schedule{world, r};
      if (schedule.exchange_after(step)) next[schedule.send_to()] = holding[r];
    }
    if (step + 1 < world) holding = std::move(next);
  }

  attnkit::AttentionParams one;
  one.q = q.view;
  one.k = k.view;
  one.v = v.view;
  HostTensor o_ref = make_nan(dtype, {1, s_total, kHq, kDv}), lse_ref = make_nan(DType::kFloat32, {1, kHq, s_total});
  one.o = o_ref.view;
  one.lse = lse_ref.view;
  one.sink_logit = sink.view;
  ASSERT_TRUE(attnkit::forward(one));
  const Tolerance tol = tolerance_for(dtype);
  const ErrorStats eo = compare(o, o_ref), el = compare(lse, lse_ref);
  EXPECT_EQ(eo.mismatched_nonfinite, 0) << what << " O: " << eo.str();
  EXPECT_LE(eo.rel_l2, tol.rel_l2) << what << " O: " << eo.str();
  EXPECT_LE(eo.max_abs, tol.max_abs) << what << " O: " << eo.str();
  EXPECT_EQ(el.mismatched_nonfinite, 0) << what << " LSE: " << el.str();
  EXPECT_LE(lse_error(lse, lse_ref), kLseTolerance) << what << " LSE: " << el.str();
}

TEST(RingAttention, SimulatedRanksEqualOneForwardWithSinks) {
  for (int world = 1; world <= 5; ++world) run_ring(world, DType::kFloat32, 200 + world);
}

TEST(RingAttention, SimulatedRanksInBfloat16) {
  for (int world : {2, 4}) run_ring(world, DType::kBFloat16, 300 + world);
}

}  // namespace
}  // namespace attnkit_test
