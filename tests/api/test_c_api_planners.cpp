// C API tests: stats, ACT, block-mask helpers, SparseD and Rectified planners match the C++ API.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "api/c_api_fixture.hpp"

namespace attnkit_test::c_api {
namespace {

// ---- the other entry points give the C++ result ---------------------------------------

TEST_F(CApiTest, StatsMatchCpp) {
  HostTensor colsum_cpp = make_nan(DType::kFloat32, {kB, kHq, kSk});
  HostTensor colsum_c = make_nan(DType::kFloat32, {kB, kHq, kSk});
  HostTensor count_cpp(DType::kInt32, {kB, kHq, kSk}), count_c(DType::kInt32, {kB, kHq, kSk});
  HostTensor mass_cpp = make_nan(DType::kFloat32, {kB, kHq, 3, 3});
  HostTensor mass_c = make_nan(DType::kFloat32, {kB, kHq, 3, 3});
  AttentionParams p = plain(o_cpp_);
  p.causal = true;
  p.sink_logit = sink_.view;
  attnkit::StatsOutputs out;
  out.colsum = colsum_cpp.view;
  out.colcount = count_cpp.view;
  out.blockmass = mass_cpp.view;
  out.block_q = kBlock;
  out.block_k = kBlock;
  const Status s = attnkit::attention_stats(p, out);

  attnkit_stats_outputs c_out;
  attnkit_stats_outputs_init(&c_out);
  c_out.colsum = c_tensor(colsum_c.view);
  c_out.colcount = c_tensor(count_c.view);
  c_out.blockmass = c_tensor(mass_c.view);
  c_out.block_q = kBlock;
  c_out.block_k = kBlock;
  const attnkit_attention_params c = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_attention_stats(&c, &c_out)), static_cast<int>(s.code())) << attnkit_last_error();
  EXPECT_EQ(std::string(attnkit_last_error()), s.message());
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(same_bytes(colsum_c, colsum_cpp));
  EXPECT_TRUE(same_bytes(count_c, count_cpp));
  EXPECT_TRUE(same_bytes(mass_c, mass_cpp));
}

TEST_F(CApiTest, ActMatchesCpp) {
  constexpr int kMaxSinks = 4;
  HostTensor count_cpp(DType::kInt32, {kB, kHq}), count_c(DType::kInt32, {kB, kHq});
  HostTensor index_cpp(DType::kInt32, {kB, kHq, kMaxSinks}), index_c(DType::kInt32, {kB, kHq, kMaxSinks});
  attnkit::ActOptions options;
  options.theta = 0.05f;
  options.max_sinks = kMaxSinks;
  attnkit_act_options c_options;
  attnkit_act_options_init(&c_options);
  c_options.theta = 0.05f;
  c_options.max_sinks = kMaxSinks;
  AttentionParams p = plain(o_cpp_);
  p.causal = true;
  const attnkit::SinkSets sets_cpp{count_cpp.view, index_cpp.view};
  attnkit_sink_sets sets_c;
  sets_c.count = c_tensor(count_c.view);
  sets_c.index = c_tensor(index_c.view);

  // Detect, then forward with the detected sets written out.
  const Status detect = attnkit::act_detect(p, options, sets_cpp);
  const attnkit_attention_params c_cpp_o = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_act_detect(&c_cpp_o, &c_options, &sets_c)), static_cast<int>(detect.code()));
  EXPECT_TRUE(detect.is_ok()) << detect.message();
  EXPECT_TRUE(same_bytes(count_c, count_cpp));
  EXPECT_TRUE(same_bytes(index_c, index_cpp));

  const Status fwd = attnkit::act_forward(p, options, &sets_cpp);
  const attnkit_attention_params c = c_params(plain(o_c_));
  attnkit_attention_params c_causal = c;
  c_causal.causal = 1;
  EXPECT_EQ(static_cast<int>(attnkit_act_forward(&c_causal, &c_options, &sets_c)), static_cast<int>(fwd.code()));
  EXPECT_TRUE(fwd.is_ok()) << fwd.message();
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
  EXPECT_TRUE(same_bytes(index_c, index_cpp));

  // Without a sets pointer, and with the sets of an earlier detect.
  fill_nan(o_c_);
  EXPECT_EQ(attnkit_act_forward(&c_causal, &c_options, nullptr), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
  fill_nan(o_c_);
  EXPECT_EQ(attnkit_act_forward_with_sets(&c_causal, &c_options, &sets_c), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
}

TEST_F(CApiTest, BlockMaskHelpersMatchCpp) {
  // Dense [1, 2, 3, 3] -> compressed -> dense, through both APIs.
  HostTensor dense(DType::kUInt8, {1, 2, 3, 3});
  const unsigned char bits[18] = {1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  std::memcpy(dense.bytes.data(), bits, sizeof(bits));
  HostTensor count_cpp(DType::kInt32, {1, 2, 3}), count_c(DType::kInt32, {1, 2, 3});
  HostTensor index_cpp(DType::kInt32, {1, 2, 3, 3}), index_c(DType::kInt32, {1, 2, 3, 3});
  attnkit::BlockMask mask_cpp;
  mask_cpp.kv_count = count_cpp.view;
  mask_cpp.kv_index = index_cpp.view;
  mask_cpp.block_q = mask_cpp.block_k = kBlock;
  attnkit::BlockMask mask_for_c = mask_cpp;
  mask_for_c.kv_count = count_c.view;
  mask_for_c.kv_index = index_c.view;
  const attnkit_block_mask mask_c = c_mask(mask_for_c);
  const attnkit_tensor dense_c = c_tensor(dense.view);

  const Status s = attnkit::block_mask_from_dense(dense.view, mask_cpp);
  EXPECT_EQ(static_cast<int>(attnkit_block_mask_from_dense(&dense_c, &mask_c, nullptr)), static_cast<int>(s.code()));
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(same_bytes(count_c, count_cpp));
  EXPECT_TRUE(same_bytes(index_c, index_cpp));

  HostTensor back_cpp(DType::kUInt8, {1, 2, 3, 3}), back_c(DType::kUInt8, {1, 2, 3, 3});
  const Status t = attnkit::block_mask_to_dense(mask_cpp, back_cpp.view);
  const attnkit_tensor back_view = c_tensor(back_c.view);
  EXPECT_EQ(static_cast<int>(attnkit_block_mask_to_dense(&mask_c, &back_view, nullptr)), static_cast<int>(t.code()));
  EXPECT_TRUE(same_bytes(back_c, back_cpp));

  int64_t bad_cpp = -1, bad_c = -2;
  const Status k = attnkit::block_mask_check(mask_cpp, 3, &bad_cpp);
  EXPECT_EQ(static_cast<int>(attnkit_block_mask_check(&mask_c, 3, &bad_c, nullptr)), static_cast<int>(k.code()));
  EXPECT_EQ(bad_c, bad_cpp);
}

TEST_F(CApiTest, SparsedMatchesCpp) {
  HostTensor count_cpp(DType::kInt32, {kB, kHq, 3}), count_c(DType::kInt32, {kB, kHq, 3});
  HostTensor index_cpp(DType::kInt32, {kB, kHq, 3, 3}), index_c(DType::kInt32, {kB, kHq, 3, 3});
  attnkit::SparseDOptions options;
  options.block_size = kBlock;
  options.rho = 0.5f;
  attnkit::BlockMask out_cpp;
  out_cpp.kv_count = count_cpp.view;
  out_cpp.kv_index = index_cpp.view;
  out_cpp.block_q = out_cpp.block_k = kBlock;
  attnkit::BlockMask out_for_c = out_cpp;
  out_for_c.kv_count = count_c.view;
  out_for_c.kv_index = index_c.view;
  const attnkit_block_mask out_c = c_mask(out_for_c);
  attnkit_sparsed_options c_options;
  attnkit_sparsed_options_init(&c_options);
  c_options.block_size = kBlock;
  c_options.rho = 0.5f;
  const AttentionParams p = plain(o_cpp_);
  const Status s = attnkit::sparsed_plan(p, options, out_cpp);
  const attnkit_attention_params c = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_sparsed_plan(&c, &c_options, &out_c)), static_cast<int>(s.code()));
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(same_bytes(count_c, count_cpp));
  EXPECT_TRUE(same_bytes(index_c, index_cpp));
}

TEST(CApiSchedule, SparsedScheduleMatchesCpp) {
  for (auto [total, skip] : {std::pair{100, 0.29}, {100, 0.2}, {10, 0.0}, {7, 1.0}, {0, 0.5}}) {
    const attnkit::SparseDSchedule cpp{total, skip};
    attnkit_sparsed_schedule c;
    attnkit_sparsed_schedule_init(&c);
    c.total_steps = total;
    c.skip = skip;
    int build = -1;
    ASSERT_EQ(attnkit_sparsed_build_step(&c, &build), ATTNKIT_STATUS_OK) << attnkit_last_error();
    EXPECT_EQ(build, cpp.build_step());
    for (int step = 0; step <= total + 1; ++step) {
      int kind = -1;
      ASSERT_EQ(attnkit_sparsed_step_kind(&c, step, &kind), ATTNKIT_STATUS_OK);
      EXPECT_EQ(kind, static_cast<int>(cpp.step_kind(step))) << "T=" << total << " skip=" << skip << " step=" << step;
    }
  }
  attnkit_sparsed_schedule c;
  attnkit_sparsed_schedule_init(&c);
  c.total_steps = 100;
  c.skip = 0.29;
  int build = 0;
  ASSERT_EQ(attnkit_sparsed_build_step(&c, &build), ATTNKIT_STATUS_OK);
  EXPECT_EQ(build, 29);  // SPEC 8's example
}

TEST(CApiSchedule, BadSchedulesAreRejected) {
  attnkit_sparsed_schedule c;
  attnkit_sparsed_schedule_init(&c);
  int out = 0;
  c.total_steps = 10;
  for (double skip : {std::nan(""), -0.1, 1.5, std::numeric_limits<double>::infinity()}) {
    c.skip = skip;
    EXPECT_EQ(attnkit_sparsed_build_step(&c, &out), ATTNKIT_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(attnkit_last_error()).find("schedule.skip"), std::string::npos);
  }
  c.skip = 0.2;
  c.total_steps = -1;
  EXPECT_EQ(attnkit_sparsed_step_kind(&c, 0, &out), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("schedule.total_steps"), std::string::npos);
  c.total_steps = 10;
  EXPECT_EQ(attnkit_sparsed_step_kind(&c, -1, &out), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("step"), std::string::npos);
  EXPECT_EQ(attnkit_sparsed_step_kind(nullptr, 0, &out), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("schedule"), std::string::npos);
}

TEST(CApiRectified, RectifiedMatchesCpp) {
  // Self-attention, 16 tokens in 4 vision blocks of 4, no text.
  constexpr int64_t kS = 16, kH = 2, kHd = 8, kNb = 4;
  Rng rng(/*seed=*/31);
  HostTensor q = make_normal(DType::kFloat32, {1, kS, kH, kHd}, rng);
  HostTensor k = make_normal(DType::kFloat32, {1, kS, kH, kHd}, rng);
  HostTensor v = make_normal(DType::kFloat32, {1, kS, kH, kHd}, rng);
  struct Outputs {
    HostTensor o, count, index, r, c;
  };
  auto outputs = [&] {
    return Outputs{make_nan(DType::kFloat32, {1, kS, kH, kHd}), HostTensor(DType::kInt32, {1, kH, kNb}),
                   HostTensor(DType::kInt32, {1, kH, kNb, kNb}), make_nan(DType::kFloat32, {1, kH, kNb}),
                   make_nan(DType::kFloat32, {1, kH, kNb, kHd})};
  };
  Outputs cpp_out = outputs(), c_out = outputs();
  auto plan_of = [](Outputs& out) {
    attnkit::RectifiedPlan plan;
    plan.mask.kv_count = out.count.view;
    plan.mask.kv_index = out.index.view;
    plan.mask.block_q = plan.mask.block_k = 4;
    plan.rectify.r = out.r.view;
    plan.rectify.c = out.c.view;
    plan.rectify.block_q = 4;
    return plan;
  };
  AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  attnkit::RectifiedOptions options;
  options.block_size = 4;
  options.top_k = 1;
  attnkit_rectified_options c_options;
  attnkit_rectified_options_init(&c_options);
  c_options.block_size = 4;
  c_options.top_k = 1;

  const attnkit::RectifiedPlan cpp_plan = plan_of(cpp_out);
  const attnkit::RectifiedPlan plan_for_c = plan_of(c_out);
  attnkit_rectified_plan_outputs c_plan;
  attnkit_rectified_plan_outputs_init(&c_plan);
  c_plan.mask = c_mask(plan_for_c.mask);
  c_plan.rectify.r = c_tensor(plan_for_c.rectify.r);
  c_plan.rectify.c = c_tensor(plan_for_c.rectify.c);
  c_plan.rectify.block_q = plan_for_c.rectify.block_q;

  const Status s = attnkit::rectified_plan(p, options, cpp_plan);
  const attnkit_attention_params c_params_plan = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_rectified_plan(&c_params_plan, &c_options, &c_plan)), static_cast<int>(s.code()));
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(same_bytes(c_out.count, cpp_out.count));
  EXPECT_TRUE(same_bytes(c_out.index, cpp_out.index));
  EXPECT_TRUE(same_bytes(c_out.r, cpp_out.r));
  EXPECT_TRUE(same_bytes(c_out.c, cpp_out.c));

  p.o = cpp_out.o.view;
  const Status a = attnkit::rectified_attention(p, options, cpp_plan);
  p.o = c_out.o.view;
  const attnkit_attention_params c_params_attn = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_rectified_attention(&c_params_attn, &c_options, &c_plan)),
            static_cast<int>(a.code()));
  EXPECT_TRUE(a.is_ok()) << a.message();
  EXPECT_TRUE(same_bytes(c_out.o, cpp_out.o));
}

}  // namespace
}  // namespace attnkit_test::c_api
