// Shared C API test fixture: independent C++ -> C conversion, comparisons, CApiTest (every option on).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "attnkit/attention.hpp"
#include "attnkit/attnkit.h"
#include "common/test_tensors.hpp"

// A named namespace (not an anonymous one): every test file must see the same fixture
// type, or GoogleTest rejects the suite as mixing fixture classes.
namespace attnkit_test::c_api {

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

inline constexpr int64_t kB = 2, kSq = 9, kSk = 12, kHq = 4, kHkv = 2, kD = 16, kDv = 8;
inline constexpr int kBlock = 4;  // NQB = 3, NKB = 3

// ---- C++ -> C, written independently of the library's converter ------------------

inline attnkit_tensor c_tensor(const TensorView& t) {
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

inline attnkit_block_mask c_mask(const attnkit::BlockMask& m) {
  attnkit_block_mask c;
  attnkit_block_mask_init(&c);
  c.kv_count = c_tensor(m.kv_count);
  c.kv_index = c_tensor(m.kv_index);
  c.block_q = m.block_q;
  c.block_k = m.block_k;
  return c;
}

inline attnkit_attention_params c_params(const AttentionParams& p) {
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
  c.k_scale = c_tensor(p.k_scale);
  c.v_scale = c_tensor(p.v_scale);
  return c;
}

inline bool same_bytes(const HostTensor& a, const HostTensor& b) {
  return a.bytes.size() == b.bytes.size() && std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0;
}

inline bool all_nan(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t.get(i))) return false;
  return true;
}

inline void expect_same_tensor(const TensorView& cpp, const attnkit_tensor& c) {
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

}  // namespace attnkit_test::c_api
