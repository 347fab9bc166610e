// Thread safety of the CPU backend (docs/reliability.md): the public API called from 8
// host threads at once, every result compared bitwise with a sequential run. Under the
// sanitizer build (ATTNKIT_SANITIZE) AddressSanitizer also watches these runs.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "attnkit/attention.hpp"
#include "reliability/scenarios.hpp"

namespace attnkit_test {
namespace {

constexpr int kThreads = 8;
constexpr int kRoundsPerThread = 6;

/// Outputs of one call.
struct Result {
  HostTensor o, lse;
};

TEST(ReliabilityConcurrency, ForwardFromEightThreadsMatchesSequentialBitwise) {
  const auto scenarios = make_scenarios();
  std::vector<Result> expected(scenarios.size());
  for (size_t n = 0; n < scenarios.size(); ++n) {
    expected[n].o = scenarios[n]->make_o();
    expected[n].lse = scenarios[n]->make_lse();
    attnkit::Status s = scenarios[n]->run_into(&expected[n].o, &expected[n].lse);
    ASSERT_TRUE(s) << scenarios[n]->name << ": " << s.message();
  }

  // Each thread walks the scenarios from its own starting point, so at any moment
  // different shapes and options run side by side (and the same one on several threads).
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::string> log(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRoundsPerThread; ++round) {
        const size_t n = static_cast<size_t>(t + round) % scenarios.size();
        Result got{scenarios[n]->make_o(), scenarios[n]->make_lse()};
        attnkit::Status s = scenarios[n]->run_into(&got.o, &got.lse);
        if (!s) {
          ++failures;
          log[t] += scenarios[n]->name + ": " + s.message() + "\n";
        } else if (!bitwise_equal(got.o, expected[n].o) || !bitwise_equal(got.lse, expected[n].lse)) {
          ++mismatches;
          log[t] += scenarios[n]->name + ": differs from the sequential run\n";
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string all;
  for (const auto& l : log) all += l;
  EXPECT_EQ(failures.load(), 0) << all;
  EXPECT_EQ(mismatches.load(), 0) << all;
}

TEST(ReliabilityConcurrency, ValidationErrorsOnOtherThreadsDoNotDisturbGoodCalls) {
  // Half the threads issue invalid calls (each a different rule), half valid ones: the
  // valid results stay bitwise equal, the invalid calls write nothing.
  const auto scenarios = make_scenarios();
  const Scenario& good = *scenarios[1];
  Result expected{good.make_o(), good.make_lse()};
  ASSERT_TRUE(good.run_into(&expected.o, &expected.lse));

  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRoundsPerThread; ++round) {
        Result got{good.make_o(), good.make_lse()};
        if (t % 2 == 0) {
          if (!good.run_into(&got.o, &got.lse) || !bitwise_equal(got.o, expected.o)) ++bad;
          continue;
        }
        attnkit::AttentionParams p = good.params;
        p.o = got.o.view;
        p.lse = got.lse.view;
        if (round % 3 == 0) p.window_left = -5;
        if (round % 3 == 1) p.k.shape[3] -= 1;
        if (round % 3 == 2) p.o.stride[3] = 2;
        const HostTensor before = got.o;
        if (attnkit::forward(p).is_ok() || !bitwise_equal(got.o, before)) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ReliabilityConcurrency, StatsAndBlockMaskHelpersFromEightThreads) {
  // attention_stats and block_mask_from_dense / block_mask_check share the CPU backend's
  // row softmax and parallel loop with forward.
  const auto scenarios = make_scenarios();
  const Scenario& sc = *scenarios[0];  // dense_fp32: B = 2, Hq = 4, Sq = 9, Sk = 13
  const int64_t b = 2, hq = 4, sk = 13, nqb = 3, nkb = 4;
  auto make_stats = [&](HostTensor* colsum, HostTensor* blockmass, attnkit::StatsOutputs* out) {
    *colsum = make_nan(DType::kFloat32, {b, hq, sk});
    *blockmass = make_nan(DType::kFloat32, {b, hq, nqb, nkb});
    out->colsum = colsum->view;
    out->blockmass = blockmass->view;
    out->block_q = 4;
    out->block_k = 4;
  };
  HostTensor ref_colsum, ref_blockmass;
  attnkit::StatsOutputs ref_out;
  make_stats(&ref_colsum, &ref_blockmass, &ref_out);
  ASSERT_TRUE(attnkit::attention_stats(sc.params, ref_out));

  HostTensor dense(DType::kUInt8, {2, 2, 3, 5});
  for (int64_t n = 0; n < dense.numel(); ++n) dense.ptr<uint8_t>()[n] = static_cast<uint8_t>((n * 7 + n / 3) % 3 == 0);
  auto make_mask = [&](HostTensor* count, HostTensor* index, attnkit::BlockMask* mask) {
    *count = HostTensor(DType::kInt32, {2, 2, 3});
    *index = HostTensor(DType::kInt32, {2, 2, 3, 5});
    mask->kv_count = count->view;
    mask->kv_index = index->view;
  };
  HostTensor ref_count, ref_index;
  attnkit::BlockMask ref_mask;
  make_mask(&ref_count, &ref_index, &ref_mask);
  ASSERT_TRUE(attnkit::block_mask_from_dense(dense.view, ref_mask));

  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRoundsPerThread; ++round) {
        HostTensor colsum, blockmass;
        attnkit::StatsOutputs out;
        make_stats(&colsum, &blockmass, &out);
        if (!attnkit::attention_stats(sc.params, out) || !bitwise_equal(colsum, ref_colsum) ||
            !bitwise_equal(blockmass, ref_blockmass)) {
          ++bad;
        }
        HostTensor count, index;
        attnkit::BlockMask mask;
        make_mask(&count, &index, &mask);
        int64_t bad_entries = -1;
        if (!attnkit::block_mask_from_dense(dense.view, mask) || !bitwise_equal(count, ref_count) ||
            !bitwise_equal(index, ref_index) || !attnkit::block_mask_check(mask, /*nkb=*/5, &bad_entries) ||
            bad_entries != 0) {
          ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace attnkit_test
