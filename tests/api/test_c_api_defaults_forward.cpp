// C API tests: init defaults equal C++ defaults, tensor helpers, forward / is_supported / explain.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "api/c_api_fixture.hpp"

namespace attnkit_test::c_api {
namespace {

// ---- defaults ---------------------------------------------------------------------

TEST(CApiDefaults, AttentionParamsEqualCppDefaults) {
  attnkit_attention_params c;
  std::memset(&c, 0x5a, sizeof(c));  // garbage: init must set every field
  attnkit_attention_params_init(&c);
  const AttentionParams d;
  for (auto [cpp, ct] : {std::pair{&d.q, &c.q}, {&d.k, &c.k}, {&d.v, &c.v}, {&d.o, &c.o}, {&d.lse, &c.lse},
                         {&d.cu_seqlens_q, &c.cu_seqlens_q}, {&d.cu_seqlens_k, &c.cu_seqlens_k},
                         {&d.head_scale, &c.head_scale}, {&d.log_gamma, &c.log_gamma},
                         {&d.sink_logit, &c.sink_logit}, {&d.block_mask.kv_count, &c.block_mask.kv_count},
                         {&d.block_mask.kv_index, &c.block_mask.kv_index}, {&d.rectify.r, &c.rectify.r},
                         {&d.rectify.c, &c.rectify.c}, {&d.gate.g, &c.gate.g}, {&d.k_scale, &c.k_scale},
                         {&d.v_scale, &c.v_scale}}) {
    expect_same_tensor(*cpp, *ct);
  }
  EXPECT_EQ(c.max_seqlen_q, d.max_seqlen_q);
  EXPECT_EQ(c.max_seqlen_k, d.max_seqlen_k);
  EXPECT_EQ(c.has_scale != 0, d.scale.has_value());
  EXPECT_EQ(c.causal != 0, d.causal);
  EXPECT_EQ(c.window_left, d.window_left);
  EXPECT_EQ(c.window_right, d.window_right);
  EXPECT_EQ(c.sink_tokens, d.sink_tokens);
  EXPECT_EQ(c.bias_begin, d.bias_begin);
  EXPECT_EQ(c.bias_end, d.bias_end);
  EXPECT_EQ(c.block_mask.block_q, d.block_mask.block_q);
  EXPECT_EQ(c.block_mask.block_k, d.block_mask.block_k);
  EXPECT_EQ(c.rectify.block_q, d.rectify.block_q);
  EXPECT_EQ(c.gate.activation, static_cast<int>(d.gate.activation));
  EXPECT_EQ(c.stream, d.stream);
}

TEST(CApiDefaults, OptionStructsEqualCppDefaults) {
  attnkit_stats_outputs so;
  attnkit_stats_outputs_init(&so);
  const attnkit::StatsOutputs sd;
  EXPECT_EQ(so.block_q, sd.block_q);
  EXPECT_EQ(so.block_k, sd.block_k);
  for (auto [cpp, ct] : {std::pair{&sd.colsum, &so.colsum}, {&sd.colcount, &so.colcount}, {&sd.colmean, &so.colmean},
                         {&sd.blockmass, &so.blockmass}, {&sd.blockmean, &so.blockmean}}) {
    expect_same_tensor(*cpp, *ct);
  }

  attnkit_act_options ao;
  attnkit_act_options_init(&ao);
  const attnkit::ActOptions ad;
  EXPECT_EQ(ao.theta, ad.theta);
  EXPECT_EQ(ao.beta, ad.beta);
  EXPECT_EQ(ao.keep_first_sink != 0, ad.keep_first_sink);
  EXPECT_EQ(ao.max_sinks, ad.max_sinks);
  expect_same_tensor(ad.head_mask, ao.head_mask);

  attnkit_sink_sets ss;
  attnkit_sink_sets_init(&ss);
  expect_same_tensor(attnkit::SinkSets{}.count, ss.count);
  expect_same_tensor(attnkit::SinkSets{}.index, ss.index);

  attnkit_sparsed_options po;
  attnkit_sparsed_options_init(&po);
  const attnkit::SparseDOptions pd;
  EXPECT_EQ(po.block_size, pd.block_size);
  EXPECT_EQ(po.rho, pd.rho);
  EXPECT_EQ(po.generation_start, pd.generation_start);

  attnkit_sparsed_schedule sch;
  attnkit_sparsed_schedule_init(&sch);
  const attnkit::SparseDSchedule schd;
  EXPECT_EQ(sch.total_steps, schd.total_steps);
  EXPECT_EQ(sch.skip, schd.skip);

  attnkit_rectified_options ro;
  attnkit_rectified_options_init(&ro);
  const attnkit::RectifiedOptions rd;
  EXPECT_EQ(ro.block_size, rd.block_size);
  EXPECT_EQ(ro.text_tokens, rd.text_tokens);
  EXPECT_EQ(ro.top_k, rd.top_k);
  EXPECT_EQ(ro.tau, rd.tau);
  EXPECT_EQ(ro.gapr != 0, rd.gapr);
  expect_same_tensor(rd.forced, ro.forced);

  attnkit_rectified_plan_outputs rp;
  attnkit_rectified_plan_outputs_init(&rp);
  const attnkit::RectifiedPlan rpd;
  EXPECT_EQ(rp.mask.block_q, rpd.mask.block_q);
  EXPECT_EQ(rp.mask.block_k, rpd.mask.block_k);
  EXPECT_EQ(rp.rectify.block_q, rpd.rectify.block_q);
  expect_same_tensor(rpd.mask.kv_count, rp.mask.kv_count);
  expect_same_tensor(rpd.rectify.c, rp.rectify.c);

  attnkit_block_mask bm;
  attnkit_block_mask_init(&bm);
  EXPECT_EQ(bm.block_q, attnkit::BlockMask{}.block_q);
  EXPECT_EQ(bm.block_k, attnkit::BlockMask{}.block_k);
  expect_same_tensor(attnkit::BlockMask{}.kv_index, bm.kv_index);
}

TEST(CApiDefaults, InitFunctionsIgnoreNull) {
  attnkit_attention_params_init(nullptr);
  attnkit_block_mask_init(nullptr);
  attnkit_stats_outputs_init(nullptr);
  attnkit_act_options_init(nullptr);
  attnkit_sink_sets_init(nullptr);
  attnkit_sparsed_options_init(nullptr);
  attnkit_sparsed_schedule_init(nullptr);
  attnkit_rectified_options_init(nullptr);
  attnkit_rectified_plan_outputs_init(nullptr);
}

TEST(CApiHelpers, TensorContiguousAndStrided) {
  const int64_t shape[4] = {2, 3, 4, 5};
  int anchor = 0;
  const attnkit_tensor t = attnkit_tensor_contiguous(&anchor, ATTNKIT_DTYPE_BFLOAT16, 4, shape, ATTNKIT_DEVICE_CUDA);
  expect_same_tensor(TensorView::contiguous(&anchor, DType::kBFloat16, {2, 3, 4, 5}, attnkit::DeviceKind::kCuda), t);
  const int64_t stride[3] = {100, 10, 1};
  const attnkit_tensor s = attnkit_tensor_strided(&anchor, ATTNKIT_DTYPE_INT32, 3, shape, stride, ATTNKIT_DEVICE_HOST);
  expect_same_tensor(TensorView::strided(&anchor, DType::kInt32, {2, 3, 4}, {100, 10, 1}), s);
  // Bad arguments give a tensor that every call rejects by its rank.
  EXPECT_EQ(attnkit_tensor_contiguous(&anchor, ATTNKIT_DTYPE_FLOAT32, 5, shape, ATTNKIT_DEVICE_HOST).rank, 5);
  EXPECT_EQ(attnkit_tensor_contiguous(&anchor, ATTNKIT_DTYPE_FLOAT32, 2, nullptr, ATTNKIT_DEVICE_HOST).rank, -1);
  EXPECT_EQ(attnkit_tensor_strided(&anchor, ATTNKIT_DTYPE_FLOAT32, 2, shape, nullptr, ATTNKIT_DEVICE_HOST).rank, -1);
  const int64_t long_stride[6] = {1, 1, 1, 1, 1, 1};
  EXPECT_EQ(attnkit_tensor_strided(&anchor, ATTNKIT_DTYPE_FLOAT32, 6, long_stride, long_stride, ATTNKIT_DEVICE_HOST).rank,
            6);
  EXPECT_EQ(attnkit_tensor_contiguous(nullptr, ATTNKIT_DTYPE_FLOAT32, 0, nullptr, ATTNKIT_DEVICE_HOST).rank, 0);
}

TEST_F(CApiTest, HelperTensorsWithBadArgumentsAreRejectedByCalls) {
  attnkit_attention_params c = c_params(plain(o_c_));
  const int64_t shape[5] = {kB, kSq, kHq, kD, 1};
  c.q = attnkit_tensor_contiguous(q_.view.data, ATTNKIT_DTYPE_FLOAT32, 5, shape, ATTNKIT_DEVICE_HOST);
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("q.rank = 5"), std::string::npos) << attnkit_last_error();
  c.q = attnkit_tensor_contiguous(q_.view.data, ATTNKIT_DTYPE_FLOAT32, 4, nullptr, ATTNKIT_DEVICE_HOST);
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("q.rank = -1"), std::string::npos) << attnkit_last_error();
  EXPECT_TRUE(all_nan(o_c_));
}

TEST(CApiHelpers, Version) { EXPECT_STREQ(attnkit_version(), attnkit::version()); }

// ---- forward, is_supported, explain --------------------------------------------------

TEST_F(CApiTest, ForwardMatchesCppBitForBit) {
  const AttentionParams cpp = everything(o_cpp_, lse_cpp_);
  const Status s = attnkit::forward(cpp);
  ASSERT_TRUE(s.is_ok()) << s.message();
  const attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_STREQ(attnkit_last_error(), "");
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
  EXPECT_TRUE(same_bytes(lse_c_, lse_cpp_));
}

TEST_F(CApiTest, VarlenForwardMatchesCppBitForBit) {
  // The batched tensors seen as varlen: sequences of 4 and 9 queries against 5 and 12 keys.
  HostTensor cu_q = make_int32({3}, {0, 4, 13});
  HostTensor cu_k = make_int32({3}, {0, 5, 17});
  Rng rng(/*seed=*/5);
  HostTensor gate = make_normal(DType::kFloat32, {kB * kSq, kHq}, rng);
  auto varlen = [&](const HostTensor& o) {
    AttentionParams p;
    p.q = TensorView::contiguous(q_.view.data, DType::kFloat32, {kB * kSq, kHq, kD});
    p.k = TensorView::contiguous(k_.view.data, DType::kFloat32, {kB * kSk, kHkv, kD});
    p.v = TensorView::contiguous(v_.view.data, DType::kFloat32, {kB * kSk, kHkv, kDv});
    p.o = TensorView::contiguous(o.view.data, DType::kFloat32, {kB * kSq, kHq, kDv});
    p.cu_seqlens_q = cu_q.view;
    p.cu_seqlens_k = cu_k.view;
    p.causal = true;
    p.sink_logit = sink_.view;
    p.gate.g = gate.view;
    return p;
  };
  const Status s = attnkit::forward(varlen(o_cpp_));
  ASSERT_TRUE(s.is_ok()) << s.message();
  const attnkit_attention_params c = c_params(varlen(o_c_));
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
}

TEST_F(CApiTest, ErrorsMatchCpp) {
  AttentionParams p = everything(o_c_, lse_c_);
  HostTensor bad_sink = make_nan(DType::kFloat32, {kHq});
  p.sink_logit = bad_sink.view;
  const Status s = attnkit::forward(p);
  ASSERT_FALSE(s.is_ok());
  const attnkit_attention_params c = c_params(p);
  EXPECT_EQ(static_cast<int>(attnkit_forward(&c)), static_cast<int>(s.code()));
  EXPECT_EQ(std::string(attnkit_last_error()), s.message());
  EXPECT_TRUE(all_nan(o_c_));
  EXPECT_TRUE(all_nan(lse_c_));
}

TEST_F(CApiTest, IsSupported) {
  attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
  EXPECT_EQ(attnkit_is_supported(&c), 1) << attnkit_last_error();
  EXPECT_STREQ(attnkit_last_error(), "");
  c.window_left = -5;
  EXPECT_EQ(attnkit_is_supported(&c), 0);
  EXPECT_NE(std::string(attnkit_last_error()).find("window_left"), std::string::npos) << attnkit_last_error();
  c.window_left = -1;
  c.q.dtype = 42;
  EXPECT_EQ(attnkit_is_supported(&c), 0);
  EXPECT_NE(std::string(attnkit_last_error()).find("q.dtype"), std::string::npos) << attnkit_last_error();
  EXPECT_EQ(attnkit_is_supported(nullptr), 0);
  EXPECT_TRUE(all_nan(o_c_));
}

TEST_F(CApiTest, ExplainMatchesCppAndTruncatesSafely) {
  const AttentionParams cpp = everything(o_cpp_, lse_cpp_);
  std::string expected;
  const Status s = attnkit::explain(cpp, &expected);
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_GT(expected.size(), 8u);
  const attnkit_attention_params c = c_params(everything(o_c_, lse_c_));

  // Length query only.
  size_t length = 0;
  ASSERT_EQ(attnkit_explain(&c, nullptr, 0, &length), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_EQ(length, expected.size());

  // Exactly large enough, one byte short, tiny, and a single byte: always NUL-terminated,
  // never a byte past capacity (the guard bytes after it stay untouched).
  for (size_t capacity : {expected.size() + 1, expected.size(), size_t{8}, size_t{1}}) {
    std::vector<char> buffer(capacity + 16, '#');
    length = 0;
    ASSERT_EQ(attnkit_explain(&c, buffer.data(), capacity, &length), ATTNKIT_STATUS_OK) << attnkit_last_error();
    EXPECT_EQ(length, expected.size());
    EXPECT_EQ(std::string(buffer.data()), expected.substr(0, capacity - 1)) << "capacity " << capacity;
    for (size_t i = capacity; i < buffer.size(); ++i) ASSERT_EQ(buffer[i], '#') << "wrote past capacity " << capacity;
  }

  // The length pointer is optional.
  char small[16];
  EXPECT_EQ(attnkit_explain(&c, small, sizeof(small), nullptr), ATTNKIT_STATUS_OK);
  EXPECT_EQ(std::string(small), expected.substr(0, sizeof(small) - 1));

  // A non-null capacity with a null buffer is an error, not a crash.
  EXPECT_EQ(attnkit_explain(&c, nullptr, 10, &length), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("buffer"), std::string::npos);
  EXPECT_TRUE(all_nan(o_c_));
}

TEST_F(CApiTest, ExplainErrorLeavesAnEmptyString) {
  attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
  c.sink_tokens = -3;
  char buffer[64];
  std::memset(buffer, '#', sizeof(buffer));
  size_t length = 123;
  EXPECT_EQ(attnkit_explain(&c, buffer, sizeof(buffer), &length), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(buffer, "");
  EXPECT_EQ(length, 0u);
  EXPECT_NE(std::string(attnkit_last_error()).find("sink_tokens"), std::string::npos);
}

}  // namespace
}  // namespace attnkit_test::c_api
