// The C API (attnkit.h): defaults equal the C++ defaults, every entry point gives the
// same result as its C++ counterpart (bit for bit), enum values coming from C are
// range-checked, attnkit_last_error() is per thread, and explain() truncates safely.
#include "attnkit/attnkit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

namespace {

using attnkit::AttentionParams;
using attnkit::DType;
using attnkit::GateActivation;
using attnkit::Status;
using attnkit::TensorView;
using attnkit_test::fill_nan;
using attnkit_test::HostTensor;
using attnkit_test::make_int32;
using attnkit_test::make_nan;
using attnkit_test::make_normal;
using attnkit_test::Rng;

constexpr int64_t kB = 2, kSq = 9, kSk = 12, kHq = 4, kHkv = 2, kD = 16, kDv = 8;
constexpr int kBlock = 4;  // NQB = 3, NKB = 3

// ---- C++ -> C, written independently of the library's converter ------------------

attnkit_tensor c_tensor(const TensorView& t) {
  attnkit_tensor c;
  std::memset(&c, 0, sizeof(c));
  c.data = t.data;
  c.dtype = static_cast<int>(t.dtype);
  c.rank = t.rank;
  c.device = static_cast<int>(t.device);
  for (int i = 0; i < ATTNKIT_MAX_RANK; ++i) {
    c.shape[i] = t.shape[i];
    c.stride[i] = t.stride[i];
  }
  return c;
}

attnkit_block_mask c_mask(const attnkit::BlockMask& m) {
  attnkit_block_mask c;
  attnkit_block_mask_init(&c);
  c.kv_count = c_tensor(m.kv_count);
  c.kv_index = c_tensor(m.kv_index);
  c.block_q = m.block_q;
  c.block_k = m.block_k;
  return c;
}

attnkit_attention_params c_params(const AttentionParams& p) {
  attnkit_attention_params c;
  attnkit_attention_params_init(&c);
  c.q = c_tensor(p.q);
  c.k = c_tensor(p.k);
  c.v = c_tensor(p.v);
  c.o = c_tensor(p.o);
  c.lse = c_tensor(p.lse);
  c.cu_seqlens_q = c_tensor(p.cu_seqlens_q);
  c.cu_seqlens_k = c_tensor(p.cu_seqlens_k);
  c.max_seqlen_q = p.max_seqlen_q;
  c.max_seqlen_k = p.max_seqlen_k;
  c.has_scale = p.scale.has_value();
  c.scale = p.scale.value_or(0.0f);
  c.causal = p.causal;
  c.window_left = p.window_left;
  c.window_right = p.window_right;
  c.sink_tokens = p.sink_tokens;
  c.head_scale = c_tensor(p.head_scale);
  c.log_gamma = c_tensor(p.log_gamma);
  c.bias_begin = p.bias_begin;
  c.bias_end = p.bias_end;
  c.sink_logit = c_tensor(p.sink_logit);
  c.block_mask = c_mask(p.block_mask);
  c.rectify.r = c_tensor(p.rectify.r);
  c.rectify.c = c_tensor(p.rectify.c);
  c.rectify.block_q = p.rectify.block_q;
  c.gate.g = c_tensor(p.gate.g);
  c.gate.activation = static_cast<int>(p.gate.activation);
  c.stream = p.stream;
  return c;
}

bool same_bytes(const HostTensor& a, const HostTensor& b) {
  return a.bytes.size() == b.bytes.size() && std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0;
}

bool all_nan(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t.get(i))) return false;
  return true;
}

void expect_same_tensor(const TensorView& cpp, const attnkit_tensor& c) {
  EXPECT_EQ(c.data, cpp.data);
  EXPECT_EQ(c.dtype, static_cast<int>(cpp.dtype));
  EXPECT_EQ(c.rank, cpp.rank);
  EXPECT_EQ(c.device, static_cast<int>(cpp.device));
  for (int i = 0; i < ATTNKIT_MAX_RANK; ++i) {
    EXPECT_EQ(c.shape[i], cpp.shape[i]);
    EXPECT_EQ(c.stride[i], cpp.stride[i]);
  }
}

/// A call with every SPEC 1-6 option on: causal GQA with a sliding window and sink
/// tokens, scale, head scale, key bias, learned sink, block mask, rectification and an
/// elementwise gate, plus LSE. The C and C++ calls write separate outputs.
class CApiTest : public ::testing::Test {
 protected:
  CApiTest() {
    Rng rng(/*seed=*/777);
    q_ = make_normal(DType::kFloat32, {kB, kSq, kHq, kD}, rng);
    k_ = make_normal(DType::kFloat32, {kB, kSk, kHkv, kD}, rng);
    v_ = make_normal(DType::kFloat32, {kB, kSk, kHkv, kDv}, rng);
    o_cpp_ = make_nan(DType::kFloat32, {kB, kSq, kHq, kDv});
    o_c_ = make_nan(DType::kFloat32, {kB, kSq, kHq, kDv});
    lse_cpp_ = make_nan(DType::kFloat32, {kB, kHq, kSq});
    lse_c_ = make_nan(DType::kFloat32, {kB, kHq, kSq});
    head_scale_ = make_normal(DType::kFloat32, {kHq}, rng, 0.2);
    for (int64_t h = 0; h < kHq; ++h) head_scale_.set(h, 1.0 + head_scale_.get(h));
    log_gamma_ = make_normal(DType::kFloat32, {kHq}, rng);
    sink_ = make_normal(DType::kFloat32, {kHq}, rng);
    // Mask heads Hm = Hkv = 2, NQB = NKB = 3; rows list {0}, {0, 1} or {0, 1, 2}.
    kv_count_ = make_int32({1, kHkv, 3}, {1, 2, 3, 3, 2, 1});
    kv_index_ = make_int32({1, kHkv, 3, 3}, {0, -1, -1, 0, 1, -1, 0, 1, 2, 0, 1, 2, 0, 2, -1, 2, -1, -1});
    rect_r_ = make_normal(DType::kFloat32, {kB, kHq, 3}, rng);
    rect_c_ = make_normal(DType::kFloat32, {kB, kHq, 3, kDv}, rng);
    gate_ = make_normal(DType::kFloat32, {kB, kSq, kHq, kDv}, rng);
  }

  AttentionParams plain(const HostTensor& o) const {
    AttentionParams p;
    p.q = q_.view;
    p.k = k_.view;
    p.v = v_.view;
    p.o = o.view;
    return p;
  }

  AttentionParams everything(const HostTensor& o, const HostTensor& lse) const {
    AttentionParams p = plain(o);
    p.lse = lse.view;
    p.scale = 0.3f;
    p.causal = true;
    p.window_left = 5;
    p.sink_tokens = 1;
    p.head_scale = head_scale_.view;
    p.log_gamma = log_gamma_.view;
    p.bias_begin = 1;
    p.bias_end = 3;
    p.sink_logit = sink_.view;
    p.block_mask.kv_count = kv_count_.view;
    p.block_mask.kv_index = kv_index_.view;
    p.block_mask.block_q = kBlock;
    p.block_mask.block_k = kBlock;
    p.rectify.r = rect_r_.view;
    p.rectify.c = rect_c_.view;
    p.rectify.block_q = kBlock;
    p.gate.g = gate_.view;
    p.gate.activation = GateActivation::kIdentity;
    return p;
  }

  HostTensor q_, k_, v_, o_cpp_, o_c_, lse_cpp_, lse_c_;
  HostTensor head_scale_, log_gamma_, sink_, kv_count_, kv_index_, rect_r_, rect_c_, gate_;
};

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
                         {&d.rectify.c, &c.rectify.c}, {&d.gate.g, &c.gate.g}}) {
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

// ---- enum values and pointers coming from C ---------------------------------------------

struct BadField {
  const char* needle;
  void (*spoil)(attnkit_attention_params*);
};

TEST_F(CApiTest, OutOfRangeEnumsAndRanksAreRejected) {
  const BadField cases[] = {
      {"q.dtype", [](attnkit_attention_params* p) { p->q.dtype = 99; }},
      {"k.dtype", [](attnkit_attention_params* p) { p->k.dtype = -1; }},
      {"v.device", [](attnkit_attention_params* p) { p->v.device = 2; }},
      {"o.device", [](attnkit_attention_params* p) { p->o.device = -7; }},
      {"lse.rank", [](attnkit_attention_params* p) { p->lse.rank = 5; }},
      {"q.rank", [](attnkit_attention_params* p) { p->q.rank = -1; }},
      {"sink_logit.dtype", [](attnkit_attention_params* p) { p->sink_logit.dtype = 5; }},
      {"block_mask.kv_count.dtype", [](attnkit_attention_params* p) { p->block_mask.kv_count.dtype = 1000; }},
      {"block_mask.kv_index.rank", [](attnkit_attention_params* p) { p->block_mask.kv_index.rank = 9; }},
      {"rectify.c.device", [](attnkit_attention_params* p) { p->rectify.c.device = 3; }},
      {"gate.g.dtype", [](attnkit_attention_params* p) { p->gate.g.dtype = -100; }},
      {"gate.activation", [](attnkit_attention_params* p) { p->gate.activation = 2; }},
      {"gate.activation", [](attnkit_attention_params* p) { p->gate.activation = -1; }},
  };
  for (const BadField& bad : cases) {
    attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
    bad.spoil(&c);
    EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT) << bad.needle;
    EXPECT_NE(std::string(attnkit_last_error()).find(bad.needle), std::string::npos)
        << "expected \"" << bad.needle << "\" in: " << attnkit_last_error();
  }
  EXPECT_TRUE(all_nan(o_c_));
  EXPECT_TRUE(all_nan(lse_c_));
  // Still usable.
  const attnkit_attention_params c = c_params(everything(o_c_, lse_c_));
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
}

TEST_F(CApiTest, AbsentTensorFieldsAreIgnored) {
  attnkit_attention_params c = c_params(plain(o_c_));
  c.lse.dtype = 77;  // rank 0: absent, so the other fields do not matter
  c.lse.device = 12;
  c.head_scale.data = reinterpret_cast<void*>(0x10);
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
}

TEST_F(CApiTest, NullPointersAreRejected) {
  EXPECT_EQ(attnkit_forward(nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("params"), std::string::npos);
  const attnkit_attention_params c = c_params(plain(o_c_));
  EXPECT_EQ(attnkit_act_forward(&c, nullptr, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("options"), std::string::npos);
  EXPECT_EQ(attnkit_attention_stats(&c, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("outputs"), std::string::npos);
  int64_t bad = 0;
  EXPECT_EQ(attnkit_block_mask_check(nullptr, 3, &bad, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("mask"), std::string::npos);
  attnkit_sparsed_schedule schedule;
  attnkit_sparsed_schedule_init(&schedule);
  EXPECT_EQ(attnkit_sparsed_build_step(&schedule, nullptr), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("step"), std::string::npos);
  EXPECT_TRUE(all_nan(o_c_));
}

// ---- attnkit_last_error ---------------------------------------------------------------

TEST_F(CApiTest, LastErrorIsClearedBySuccess) {
  attnkit_attention_params c = c_params(plain(o_c_));
  c.window_right = -9;
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_STRNE(attnkit_last_error(), "");
  c.window_right = -1;
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK);
  EXPECT_STREQ(attnkit_last_error(), "");
}

TEST_F(CApiTest, LastErrorIsPerThread) {
  attnkit_attention_params bad = c_params(plain(o_c_));
  bad.window_left = -4;
  ASSERT_EQ(attnkit_forward(&bad), ATTNKIT_STATUS_INVALID_ARGUMENT);
  const std::string mine = attnkit_last_error();
  ASSERT_NE(mine.find("window_left"), std::string::npos);

  std::string other_initial, other_after_bad, other_after_good;
  std::thread other([&] {
    other_initial = attnkit_last_error();
    attnkit_attention_params p = c_params(plain(o_cpp_));
    p.sink_tokens = -2;
    (void)attnkit_forward(&p);
    other_after_bad = attnkit_last_error();
    p.sink_tokens = 0;
    (void)attnkit_forward(&p);
    other_after_good = attnkit_last_error();
  });
  other.join();
  EXPECT_EQ(other_initial, "");
  EXPECT_NE(other_after_bad.find("sink_tokens"), std::string::npos) << other_after_bad;
  EXPECT_EQ(other_after_good, "");
  EXPECT_EQ(std::string(attnkit_last_error()), mine);  // untouched by the other thread
}

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
