// Shared validation test fixture: valid baselines plus expect_rejected / expect_accepted (SPEC 10).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

// A named namespace (not an anonymous one): every test file must see the same fixture
// type, or GoogleTest rejects the suite as mixing fixture classes.
namespace attnkit_test::validation {

using attnkit::AttentionParams;
using attnkit::DeviceKind;
using attnkit::DType;
using attnkit::GateActivation;
using attnkit::Status;
using attnkit::StatusCode;
using attnkit::TensorView;
using attnkit_test::HostTensor;
using attnkit_test::make_int32;
using attnkit_test::make_nan;
using attnkit_test::make_normal;
using attnkit_test::Rng;

inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Batched baseline: B = 2, Sq = 5, Sk = 7, Hq = 4, Hkv = 2 (GQA), D = 8, Dv = 6 (Dv != D
// so that swapped head dims are caught).
inline constexpr int64_t kB = 2, kSq = 5, kSk = 7, kHq = 4, kHkv = 2, kD = 8, kDv = 6;
// Varlen baseline: cu_seqlens_q = {0, 3, 7}, cu_seqlens_k = {0, 4, 9}.
inline constexpr int64_t kTotalQ = 7, kTotalK = 9;
// Block mask and rectification: 2 x 2 blocks, so NQB = ceil(5 / 2) = 3, NKB = ceil(7 / 2) = 4.
inline constexpr int kBlock = 2;
inline constexpr int64_t kNqb = 3, kNkb = 4, kMaxKv = 2;
inline constexpr int64_t kHm = 2;  // mask heads: a divisor of Hq

inline bool all_nan(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t.get(i))) return false;
  return true;
}

inline bool all_finite(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.get(i))) return false;
  return true;
}

inline HostTensor make_f32(std::initializer_list<int64_t> shape, std::initializer_list<float> values) {
  HostTensor t(DType::kFloat32, shape);
  int64_t i = 0;
  for (float v : values) t.ptr<float>()[i++] = v;
  return t;
}

// One test per validation rule of SPEC 10 as implemented in host/validate.cpp: each
// breaks one thing in a valid baseline call and checks that forward() returns
// kInvalidArgument, that the message names the argument, that O and LSE still hold
// their NaN sentinel, and that a valid call on the same thread still works.
class ValidationTest : public ::testing::Test {
 protected:
  ValidationTest() {
    Rng rng(/*seed=*/20240);
    q_ = make_normal(DType::kFloat32, {kB, kSq, kHq, kD}, rng);
    k_ = make_normal(DType::kFloat32, {kB, kSk, kHkv, kD}, rng);
    v_ = make_normal(DType::kFloat32, {kB, kSk, kHkv, kDv}, rng);
    o_ = make_nan(DType::kFloat32, {kB, kSq, kHq, kDv});
    lse_ = make_nan(DType::kFloat32, {kB, kHq, kSq});

    vq_ = make_normal(DType::kFloat32, {kTotalQ, kHq, kD}, rng);
    vk_ = make_normal(DType::kFloat32, {kTotalK, kHkv, kD}, rng);
    vv_ = make_normal(DType::kFloat32, {kTotalK, kHkv, kDv}, rng);
    vo_ = make_nan(DType::kFloat32, {kTotalQ, kHq, kDv});
    vlse_ = make_nan(DType::kFloat32, {kHq, kTotalQ});
    cu_q_ = make_int32({3}, {0, 3, 7});
    cu_k_ = make_int32({3}, {0, 4, 9});

    head_values_ = make_f32({kHq}, {0.5f, 1.0f, 1.5f, 2.0f});
    // Every row lists key blocks {0, 2}: valid (ascending, unique, < NKB).
    kv_count_ = make_int32({1, kHm, kNqb}, std::vector<int32_t>(kHm * kNqb, 2));
    kv_index_ = make_int32({1, kHm, kNqb, kMaxKv}, {0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2});
    rect_r_ = make_normal(DType::kFloat32, {kB, kHq, kNqb}, rng);
    rect_c_ = make_normal(DType::kFloat32, {kB, kHq, kNqb, kDv}, rng);
    gate_ = make_normal(DType::kFloat32, {kB, kSq, kHq}, rng);
  }

  /// A valid batched call writing o_ and lse_.
  AttentionParams batched() const {
    AttentionParams p;
    p.q = q_.view;
    p.k = k_.view;
    p.v = v_.view;
    p.o = o_.view;
    p.lse = lse_.view;
    return p;
  }

  /// A valid varlen call writing vo_ and vlse_.
  AttentionParams varlen() const {
    AttentionParams p;
    p.q = vq_.view;
    p.k = vk_.view;
    p.v = vv_.view;
    p.o = vo_.view;
    p.lse = vlse_.view;
    p.cu_seqlens_q = cu_q_.view;
    p.cu_seqlens_k = cu_k_.view;
    return p;
  }

  /// batched() plus a valid 2 x 2 block mask.
  AttentionParams masked() const {
    AttentionParams p = batched();
    p.block_mask.kv_count = kv_count_.view;
    p.block_mask.kv_index = kv_index_.view;
    p.block_mask.block_q = kBlock;
    p.block_mask.block_k = kBlock;
    return p;
  }

  /// batched() plus valid rectification terms with block_q = 2.
  AttentionParams rectified() const {
    AttentionParams p = batched();
    p.rectify.r = rect_r_.view;
    p.rectify.c = rect_c_.view;
    p.rectify.block_q = kBlock;
    return p;
  }

  /// The rule under test: `p` is rejected with kInvalidArgument naming `argument`, no
  /// output (the fixture's, plus `outputs`) is written, and the library stays usable.
  void expect_rejected(const AttentionParams& p, const std::string& argument,
                       std::initializer_list<const HostTensor*> outputs = {}) {
    const Status s = attnkit::forward(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find(argument), std::string::npos)
        << "the message should name \"" << argument << "\": " << s.message();
    EXPECT_TRUE(all_nan(o_)) << "o was written by a rejected call";
    EXPECT_TRUE(all_nan(lse_)) << "lse was written by a rejected call";
    EXPECT_TRUE(all_nan(vo_)) << "varlen o was written by a rejected call";
    EXPECT_TRUE(all_nan(vlse_)) << "varlen lse was written by a rejected call";
    for (const HostTensor* t : outputs) EXPECT_TRUE(all_nan(*t)) << "an output was written by a rejected call";
    expect_valid_call_works();
  }

  /// A valid call on the same thread, into fresh outputs, succeeds and writes them.
  void expect_valid_call_works() const {
    HostTensor o = make_nan(DType::kFloat32, {kB, kSq, kHq, kDv});
    HostTensor lse = make_nan(DType::kFloat32, {kB, kHq, kSq});
    AttentionParams p = batched();
    p.o = o.view;
    p.lse = lse.view;
    const Status s = attnkit::forward(p);
    ASSERT_TRUE(s.is_ok()) << "a valid call after a rejected one failed: " << s.message();
    EXPECT_TRUE(all_finite(o));
    EXPECT_TRUE(all_finite(lse));
  }

  /// `p` is accepted; it runs into fresh outputs shaped like its own, and O holds no NaN.
  void expect_accepted(AttentionParams p) const {
    HostTensor o = nan_like(p.o);
    HostTensor lse = nan_like(p.lse);
    p.o = o.view;
    if (p.lse.present()) p.lse = lse.view;
    const Status s = attnkit::forward(p);
    EXPECT_TRUE(s.is_ok()) << s.message();
    for (int64_t i = 0; i < o.numel(); ++i) ASSERT_FALSE(std::isnan(o.get(i))) << "o[" << i << "] is NaN";
  }

  static HostTensor nan_like(const TensorView& t) {
    HostTensor h;
    const int64_t* s = t.shape;
    switch (t.rank) {
      case 1: h.reset(t.dtype, {s[0]}); break;
      case 2: h.reset(t.dtype, {s[0], s[1]}); break;
      case 3: h.reset(t.dtype, {s[0], s[1], s[2]}); break;
      case 4: h.reset(t.dtype, {s[0], s[1], s[2], s[3]}); break;
      default: h.reset(DType::kFloat32, {1}); break;
    }
    attnkit_test::fill_nan(h);
    return h;
  }

  HostTensor q_, k_, v_, o_, lse_;
  HostTensor vq_, vk_, vv_, vo_, vlse_, cu_q_, cu_k_;
  HostTensor head_values_;
  HostTensor kv_count_, kv_index_, rect_r_, rect_c_, gate_;
};

}  // namespace attnkit_test::validation
