// One test per validation rule of SPEC 10 as implemented in host/validate.cpp: each
// breaks one thing in a valid baseline call and checks that forward() returns
// kInvalidArgument, that the message names the argument, that O and LSE still hold
// their NaN sentinel, and that a valid call on the same thread still works.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"

namespace {

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

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Batched baseline: B = 2, Sq = 5, Sk = 7, Hq = 4, Hkv = 2 (GQA), D = 8, Dv = 6 (Dv != D
// so that swapped head dims are caught).
constexpr int64_t kB = 2, kSq = 5, kSk = 7, kHq = 4, kHkv = 2, kD = 8, kDv = 6;
// Varlen baseline: cu_seqlens_q = {0, 3, 7}, cu_seqlens_k = {0, 4, 9}.
constexpr int64_t kTotalQ = 7, kTotalK = 9;
// Block mask and rectification: 2 x 2 blocks, so NQB = ceil(5 / 2) = 3, NKB = ceil(7 / 2) = 4.
constexpr int kBlock = 2;
constexpr int64_t kNqb = 3, kNkb = 4, kMaxKv = 2;
constexpr int64_t kHm = 2;  // mask heads: a divisor of Hq

bool all_nan(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t.get(i))) return false;
  return true;
}

bool all_finite(const HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.get(i))) return false;
  return true;
}

HostTensor make_f32(std::initializer_list<int64_t> shape, std::initializer_list<float> values) {
  HostTensor t(DType::kFloat32, shape);
  int64_t i = 0;
  for (float v : values) t.ptr<float>()[i++] = v;
  return t;
}

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

// ---- the baselines themselves are valid --------------------------------------

TEST_F(ValidationTest, BaselinesAreAccepted) {
  for (const AttentionParams& p : {batched(), varlen(), masked(), rectified()}) expect_accepted(p);
  AttentionParams p = batched();
  p.gate.g = gate_.view;
  expect_accepted(p);
}

// ---- required tensors, rank, dtype ---------------------------------------------

TEST_F(ValidationTest, RequiredTensorsAbsent) {
  for (auto [field, name] : {std::pair{&AttentionParams::q, "q: required"}, {&AttentionParams::k, "k: required"},
                             {&AttentionParams::v, "v: required"}, {&AttentionParams::o, "o: required"}}) {
    AttentionParams p = batched();
    p.*field = TensorView{};
    expect_rejected(p, name);
  }
}

TEST_F(ValidationTest, RankAboveFour) {
  AttentionParams p = batched();
  p.q = TensorView::strided(q_.view.data, DType::kFloat32, {kB, kSq, kHq, kD}, {1, 1, 1});  // mismatched lengths
  expect_rejected(p, "q: expected rank 1 to 4");
}

TEST_F(ValidationTest, RankDoesNotMatchLayout) {
  AttentionParams p = batched();
  p.k = TensorView::contiguous(k_.view.data, DType::kFloat32, {kB * kSk, kHkv, kD});  // varlen rank, no cu_seqlens
  expect_rejected(p, "k: expected rank 4");
  AttentionParams pv = varlen();
  pv.q = TensorView::contiguous(vq_.view.data, DType::kFloat32, {1, kTotalQ, kHq, kD});
  expect_rejected(pv, "q: expected rank 3");
}

TEST_F(ValidationTest, QDtypeNotFloating) {
  AttentionParams p = batched();
  p.q.dtype = DType::kInt32;
  expect_rejected(p, "q: expected dtype float32, float16 or bfloat16");
}

TEST_F(ValidationTest, KvDtypeDiffersFromQ) {
  AttentionParams p = batched();
  p.k.dtype = DType::kFloat16;
  expect_rejected(p, "k: expected dtype float32");
  p = batched();
  p.v.dtype = DType::kBFloat16;
  expect_rejected(p, "v: expected dtype float32");
}

// ---- structural rules of every tensor --------------------------------------------

TEST_F(ValidationTest, NegativeShape) {
  AttentionParams p = batched();
  p.k.shape[1] = -1;
  expect_rejected(p, "k.shape[1]");
}

TEST_F(ValidationTest, NegativeStride) {
  AttentionParams p = batched();
  p.v.stride[0] = -p.v.stride[0];
  expect_rejected(p, "v.stride[0]");
}

TEST_F(ValidationTest, LastDimensionNotContiguous) {
  AttentionParams p = batched();
  p.q.stride[3] = 2;
  expect_rejected(p, "q.stride[3]");
}

TEST_F(ValidationTest, NullDataForNonEmptyTensor) {
  AttentionParams p = batched();
  p.k.data = nullptr;
  expect_rejected(p, "k: data is null");
}

TEST_F(ValidationTest, DeviceMismatch) {
  AttentionParams p = batched();
  p.v.device = DeviceKind::kCuda;
  expect_rejected(p, "v: lives on a CUDA device");
}

// ---- shapes ---------------------------------------------------------------------

TEST_F(ValidationTest, ZeroHeadsOrHeadDims) {
  AttentionParams p = batched();
  p.q.shape[2] = 0;
  expect_rejected(p, "q: expected Hq > 0");
  p = batched();
  p.k.shape[2] = 0;
  expect_rejected(p, "k: expected Hkv > 0");
  p = batched();
  p.q.shape[3] = 0;
  expect_rejected(p, "q: expected head dim D > 0");
  p = batched();
  p.v.shape[3] = 0;
  expect_rejected(p, "v: expected head dim Dv > 0");
}

TEST_F(ValidationTest, KHeadDimDiffersFromQ) {
  AttentionParams p = batched();
  p.k.shape[3] = kD - 1;
  expect_rejected(p, "k.shape[3]");
}

TEST_F(ValidationTest, HqNotMultipleOfHkv) {
  Rng rng(/*seed=*/1);
  HostTensor k3 = make_normal(DType::kFloat32, {kB, kSk, 3, kD}, rng);
  HostTensor v3 = make_normal(DType::kFloat32, {kB, kSk, 3, kDv}, rng);
  AttentionParams p = batched();
  p.k = k3.view;
  p.v = v3.view;
  expect_rejected(p, "k: Hq = 4 is not a multiple of Hkv = 3");
}

TEST_F(ValidationTest, VHeadsDifferFromK) {
  AttentionParams p = batched();
  p.v.shape[2] = 1;
  expect_rejected(p, "v.shape[2]");
}

TEST_F(ValidationTest, VLeadingDimensionsDifferFromK) {
  AttentionParams p = batched();
  p.v.shape[1] = kSk - 1;
  expect_rejected(p, "v: expected the same leading dimensions as k");
}

TEST_F(ValidationTest, KBatchDiffersFromQ) {
  AttentionParams p = batched();
  p.k.shape[0] = 1;
  p.v.shape[0] = 1;
  expect_rejected(p, "k.shape[0]");
}

// ---- varlen cu_seqlens ------------------------------------------------------------

TEST_F(ValidationTest, CuSeqlensBothOrNeither) {
  AttentionParams p = varlen();
  p.cu_seqlens_k = TensorView{};
  expect_rejected(p, "cu_seqlens_k");
  p = varlen();
  p.cu_seqlens_q = TensorView{};
  expect_rejected(p, "cu_seqlens_q");
}

TEST_F(ValidationTest, CuSeqlensDtype) {
  AttentionParams p = varlen();
  p.cu_seqlens_q.dtype = DType::kFloat32;
  expect_rejected(p, "cu_seqlens_q: expected dtype int32");
}

TEST_F(ValidationTest, CuSeqlensShape) {
  AttentionParams p = varlen();
  p.cu_seqlens_k = TensorView::contiguous(cu_k_.view.data, DType::kInt32, {1, 3});
  expect_rejected(p, "cu_seqlens_k: expected shape [B + 1]");
  p = varlen();
  p.cu_seqlens_q.shape[0] = 0;
  expect_rejected(p, "cu_seqlens_q: expected shape [B + 1]");
  p = varlen();
  p.cu_seqlens_k.shape[0] = 2;  // B = 1, while cu_seqlens_q says B = 2
  expect_rejected(p, "cu_seqlens_k: expected shape [B + 1] = [3]");
}

TEST_F(ValidationTest, CuSeqlensTensorRules) {
  AttentionParams p = varlen();
  p.cu_seqlens_q.data = nullptr;
  expect_rejected(p, "cu_seqlens_q: data is null");
}

TEST_F(ValidationTest, CuSeqlensFirstNotZero) {
  HostTensor cu = make_int32({3}, {1, 3, 7});
  AttentionParams p = varlen();
  p.cu_seqlens_q = cu.view;
  expect_rejected(p, "cu_seqlens_q[0]");
}

TEST_F(ValidationTest, CuSeqlensDecreasing) {
  HostTensor cu = make_int32({3}, {0, 6, 4});
  AttentionParams p = varlen();
  p.cu_seqlens_k = cu.view;
  expect_rejected(p, "cu_seqlens_k[2]");
}

TEST_F(ValidationTest, CuSeqlensLastBeyondRows) {
  HostTensor cu = make_int32({3}, {0, 3, kTotalQ + 1});
  AttentionParams p = varlen();
  p.cu_seqlens_q = cu.view;
  expect_rejected(p, "cu_seqlens_q[B]");
}

TEST_F(ValidationTest, MaxSeqlenTooSmall) {
  AttentionParams p = varlen();
  p.max_seqlen_q = 3;  // the longest query sequence has 4 rows
  expect_rejected(p, "max_seqlen_q");
  p = varlen();
  p.max_seqlen_k = 4;  // the longest key sequence has 5 rows
  expect_rejected(p, "max_seqlen_k");
  p = varlen();
  p.max_seqlen_q = 4;
  p.max_seqlen_k = 100;  // larger than needed is fine
  expect_accepted(p);
}

TEST_F(ValidationTest, DeviceCuSeqlensNeedMaxSeqlen) {
  // Every tensor claims device memory: the host cannot read cu_seqlens, so the longest
  // sequences must be given. Validation fails before anything is read or launched.
  AttentionParams p = varlen();
  for (TensorView* t : {&p.q, &p.k, &p.v, &p.o, &p.lse, &p.cu_seqlens_q, &p.cu_seqlens_k}) t->device = DeviceKind::kCuda;
  expect_rejected(p, "max_seqlen_q");
}

// ---- options ----------------------------------------------------------------

TEST_F(ValidationTest, ScaleNotFinite) {
  for (float scale : {kNaN, kInf, -kInf}) {
    AttentionParams p = batched();
    p.scale = scale;
    expect_rejected(p, "scale");
  }
}

TEST_F(ValidationTest, WindowAndSinkTokenRanges) {
  AttentionParams p = batched();
  p.window_left = -2;
  expect_rejected(p, "window_left");
  p = batched();
  p.window_right = -2;
  expect_rejected(p, "window_right");
  p = batched();
  p.sink_tokens = -1;
  expect_rejected(p, "sink_tokens");
}

// The three per-head float32 [Hq] arrays share their shape and dtype rules.
TEST_F(ValidationTest, PerHeadArrayShapeAndDtype) {
  HostTensor wrong_shape = make_f32({kHq + 1}, {1, 1, 1, 1, 1});
  HostTensor wrong_rank = make_f32({1, kHq}, {1, 1, 1, 1});
  for (auto [field, name] : {std::pair{&AttentionParams::head_scale, "head_scale"},
                             {&AttentionParams::log_gamma, "log_gamma"},
                             {&AttentionParams::sink_logit, "sink_logit"}}) {
    AttentionParams p = batched();
    p.*field = wrong_shape.view;
    expect_rejected(p, std::string(name) + ": expected shape [Hq]");
    p.*field = wrong_rank.view;
    expect_rejected(p, std::string(name) + ": expected shape [Hq]");
    p.*field = head_values_.view;
    (p.*field).dtype = DType::kInt32;
    expect_rejected(p, std::string(name) + ": expected dtype float32");
  }
}

TEST_F(ValidationTest, HeadScaleValuesMustBeFinite) {
  for (float bad : {kNaN, kInf, -kInf}) {
    HostTensor t = make_f32({kHq}, {1.0f, bad, 1.0f, 1.0f});
    AttentionParams p = batched();
    p.head_scale = t.view;
    expect_rejected(p, "head_scale[1]");
  }
}

TEST_F(ValidationTest, LogGammaAndSinkLogitRejectPlusInfAndNaN) {
  for (auto field : {&AttentionParams::log_gamma, &AttentionParams::sink_logit}) {
    const std::string name = field == &AttentionParams::log_gamma ? "log_gamma" : "sink_logit";
    for (float bad : {kNaN, kInf}) {
      HostTensor t = make_f32({kHq}, {0.0f, 0.0f, bad, 0.0f});
      AttentionParams p = batched();
      p.*field = t.view;
      expect_rejected(p, name + "[2]");
    }
  }
}

TEST_F(ValidationTest, LogGammaAndSinkLogitAcceptMinusInf) {
  HostTensor t = make_f32({kHq}, {0.0f, -kInf, 0.5f, -kInf});
  for (auto field : {&AttentionParams::log_gamma, &AttentionParams::sink_logit}) {
    AttentionParams p = batched();
    p.*field = t.view;
    expect_accepted(p);
  }
}

TEST_F(ValidationTest, BiasRange) {
  AttentionParams p = batched();
  p.log_gamma = head_values_.view;
  p.bias_begin = -1;
  expect_rejected(p, "bias_begin");
  p.bias_begin = 3;
  p.bias_end = 2;
  expect_rejected(p, "bias_end");
}

// ---- block mask ---------------------------------------------------------------

TEST_F(ValidationTest, BlockMaskBlockSizes) {
  AttentionParams p = masked();
  p.block_mask.block_q = 0;
  expect_rejected(p, "block_mask.block_q");
  p = masked();
  p.block_mask.block_k = -128;
  expect_rejected(p, "block_k");
}

TEST_F(ValidationTest, BlockMaskNeedsBothTensors) {
  AttentionParams p = masked();
  p.block_mask.kv_index = TensorView{};
  expect_rejected(p, "block_mask.kv_index");
  p = masked();
  p.block_mask.kv_count = TensorView{};
  expect_rejected(p, "block_mask.kv_count");
}

TEST_F(ValidationTest, BlockMaskTensorRules) {
  AttentionParams p = masked();
  p.block_mask.kv_count.data = nullptr;
  expect_rejected(p, "block_mask.kv_count: data is null");
  p = masked();
  p.block_mask.kv_index.stride[3] = 2;
  expect_rejected(p, "block_mask.kv_index.stride[3]");
}

TEST_F(ValidationTest, BlockMaskDtypes) {
  AttentionParams p = masked();
  p.block_mask.kv_count.dtype = DType::kFloat32;
  expect_rejected(p, "block_mask.kv_count: expected dtype int32");
  p = masked();
  p.block_mask.kv_index.dtype = DType::kUInt8;
  expect_rejected(p, "block_mask.kv_index: expected dtype int32");
}

TEST_F(ValidationTest, BlockMaskCountRank) {
  AttentionParams p = masked();
  p.block_mask.kv_count = TensorView::contiguous(kv_count_.view.data, DType::kInt32, {kHm, kNqb});
  expect_rejected(p, "block_mask.kv_count: expected rank 3");
}

TEST_F(ValidationTest, BlockMaskBatchBroadcast) {
  HostTensor count = make_int32({kB + 1, kHm, kNqb}, std::vector<int32_t>((kB + 1) * kHm * kNqb, 0));
  HostTensor index = make_int32({kB + 1, kHm, kNqb, kMaxKv}, {});
  AttentionParams p = masked();
  p.block_mask.kv_count = count.view;
  p.block_mask.kv_index = index.view;
  expect_rejected(p, "block_mask.kv_count.shape[0]");
}

TEST_F(ValidationTest, BlockMaskHeadsMustDivideHq) {
  HostTensor count = make_int32({1, 3, kNqb}, std::vector<int32_t>(3 * kNqb, 0));
  HostTensor index = make_int32({1, 3, kNqb, kMaxKv}, {});
  AttentionParams p = masked();
  p.block_mask.kv_count = count.view;
  p.block_mask.kv_index = index.view;
  expect_rejected(p, "block_mask.kv_count.shape[1]");
}

TEST_F(ValidationTest, BlockMaskQueryBlocks) {
  HostTensor count = make_int32({1, kHm, kNqb - 1}, std::vector<int32_t>(kHm * (kNqb - 1), 0));
  HostTensor index = make_int32({1, kHm, kNqb - 1, kMaxKv}, {});
  AttentionParams p = masked();
  p.block_mask.kv_count = count.view;
  p.block_mask.kv_index = index.view;
  expect_rejected(p, "block_mask.kv_count.shape[2]");
}

TEST_F(ValidationTest, BlockMaskIndexShape) {
  // max_kv above NKB.
  HostTensor wide = make_int32({1, kHm, kNqb, kNkb + 1}, {});
  AttentionParams p = masked();
  p.block_mask.kv_index = wide.view;
  expect_rejected(p, "block_mask.kv_index: expected shape");
  // Heads differ from kv_count's.
  HostTensor one_head = make_int32({1, 1, kNqb, kMaxKv}, {});
  p = masked();
  p.block_mask.kv_index = one_head.view;
  expect_rejected(p, "block_mask.kv_index: expected shape");
  // Rank 3.
  p = masked();
  p.block_mask.kv_index = TensorView::contiguous(kv_index_.view.data, DType::kInt32, {kHm, kNqb, kMaxKv});
  expect_rejected(p, "block_mask.kv_index: expected shape");
}

TEST_F(ValidationTest, BlockMaskCountOutOfRange) {
  for (int32_t bad : {-1, static_cast<int32_t>(kMaxKv + 1)}) {
    HostTensor count = make_int32({1, kHm, kNqb}, {2, 2, 2, 2, 2, bad});
    AttentionParams p = masked();
    p.block_mask.kv_count = count.view;
    expect_rejected(p, "block_mask.kv_count[0, 1, 2]");
  }
}

TEST_F(ValidationTest, BlockMaskIndexOutOfRange) {
  for (int32_t bad : {-1, static_cast<int32_t>(kNkb)}) {
    HostTensor index = make_int32({1, kHm, kNqb, kMaxKv}, {0, 2, 0, 2, 0, bad, 0, 2, 0, 2, 0, 2});
    AttentionParams p = masked();
    p.block_mask.kv_index = index.view;
    expect_rejected(p, "block_mask.kv_index[0, 0, 2][1]");
  }
}

TEST_F(ValidationTest, BlockMaskIndexNotAscending) {
  HostTensor index = make_int32({1, kHm, kNqb, kMaxKv}, {0, 2, 0, 2, 0, 2, 3, 1, 0, 2, 0, 2});
  AttentionParams p = masked();
  p.block_mask.kv_index = index.view;
  expect_rejected(p, "block_mask.kv_index[0, 1, 0][1]");
}

TEST_F(ValidationTest, BlockMaskIndexDuplicates) {
  HostTensor index = make_int32({1, kHm, kNqb, kMaxKv}, {0, 2, 0, 2, 0, 2, 0, 2, 1, 1, 0, 2});
  AttentionParams p = masked();
  p.block_mask.kv_index = index.view;
  expect_rejected(p, "block_mask.kv_index[0, 1, 1][1]");
}

TEST_F(ValidationTest, BlockMaskEntriesAfterCountAreIgnored) {
  HostTensor count = make_int32({1, kHm, kNqb}, {1, 1, 1, 0, 0, 0});
  HostTensor index = make_int32({1, kHm, kNqb, kMaxKv}, {0, -7, 1, 99, 3, 3, -1, -1, 5, 5, 2, 1});
  AttentionParams p = masked();
  p.block_mask.kv_count = count.view;
  p.block_mask.kv_index = index.view;
  expect_accepted(p);
}

// ---- rectification --------------------------------------------------------------

TEST_F(ValidationTest, RectifyBlockQPositive) {
  AttentionParams p = rectified();
  p.rectify.block_q = 0;
  expect_rejected(p, "rectify.block_q");
}

TEST_F(ValidationTest, RectifyBlockQMatchesMask) {
  // block_q = 4 gives NQB = 2; the r and c shapes are right for it, only the mask disagrees.
  Rng rng(/*seed=*/2);
  HostTensor r = make_normal(DType::kFloat32, {kB, kHq, 2}, rng);
  HostTensor c = make_normal(DType::kFloat32, {kB, kHq, 2, kDv}, rng);
  AttentionParams p = masked();
  p.rectify.r = r.view;
  p.rectify.c = c.view;
  p.rectify.block_q = 4;
  expect_rejected(p, "rectify.block_q");
}

TEST_F(ValidationTest, RectifyRShapeAndDtype) {
  HostTensor r = make_nan(DType::kFloat32, {kB, kHq, kNqb + 1});
  AttentionParams p = rectified();
  p.rectify.r = r.view;
  expect_rejected(p, "rectify.r: expected shape [B, Hq, NQB]");
  p = rectified();
  p.rectify.r.dtype = DType::kInt32;
  expect_rejected(p, "rectify.r: expected dtype float32");
}

TEST_F(ValidationTest, RectifyCRequiredWithShapeAndDtype) {
  AttentionParams p = rectified();
  p.rectify.c = TensorView{};
  expect_rejected(p, "rectify.c");
  p = rectified();
  p.rectify.c.shape[3] = kDv - 1;
  expect_rejected(p, "rectify.c: expected shape [B, Hq, NQB, Dv]");
  p = rectified();
  p.rectify.c.dtype = DType::kFloat16;
  expect_rejected(p, "rectify.c: expected dtype float32");
}

// ---- gate -----------------------------------------------------------------------

TEST_F(ValidationTest, GateDtype) {
  AttentionParams p = batched();
  p.gate.g = gate_.view;
  p.gate.g.dtype = DType::kFloat16;  // neither Q's float32 nor float32
  expect_rejected(p, "gate.g: expected dtype");
  p.gate.g.dtype = DType::kInt32;
  expect_rejected(p, "gate.g: expected dtype");
}

TEST_F(ValidationTest, GateActivation) {
  AttentionParams p = batched();
  p.gate.g = gate_.view;
  p.gate.activation = static_cast<GateActivation>(7);
  expect_rejected(p, "gate.activation");
}

TEST_F(ValidationTest, GateTensorRules) {
  AttentionParams p = batched();
  p.gate.g = gate_.view;
  p.gate.g.stride[2] = 3;
  expect_rejected(p, "gate.g.stride[2]");
}

TEST_F(ValidationTest, GateShape) {
  Rng rng(/*seed=*/3);
  HostTensor wrong_heads = make_normal(DType::kFloat32, {kB, kSq, kHq - 1}, rng);
  HostTensor wrong_dv = make_normal(DType::kFloat32, {kB, kSq, kHq, kD}, rng);  // D, not Dv
  HostTensor rank2 = make_normal(DType::kFloat32, {kB * kSq, kHq}, rng);
  for (const HostTensor* g : {&wrong_heads, &wrong_dv, &rank2}) {
    AttentionParams p = batched();
    p.gate.g = g->view;
    expect_rejected(p, "gate.g: expected shape [B, Sq, Hq]");
  }
  // Varlen gates drop the batch dimension: a batched-shaped gate is rejected.
  AttentionParams p = varlen();
  p.gate.g = gate_.view;
  expect_rejected(p, "gate.g: expected shape [total_q, Hq]");
}

TEST_F(ValidationTest, GateShapesAccepted) {
  Rng rng(/*seed=*/4);
  HostTensor elementwise = make_normal(DType::kFloat32, {kB, kSq, kHq, kDv}, rng);
  HostTensor varlen_gate = make_normal(DType::kFloat32, {kTotalQ, kHq}, rng);
  for (const HostTensor* g : {&gate_, &elementwise}) {
    AttentionParams p = batched();
    p.gate.g = g->view;
    expect_accepted(p);
  }
  AttentionParams p = varlen();
  p.gate.g = varlen_gate.view;
  expect_accepted(p);
}

// ---- outputs ----------------------------------------------------------------------

TEST_F(ValidationTest, OutputTensorRules) {
  AttentionParams p = batched();
  p.o.stride[3] = 2;
  expect_rejected(p, "o.stride[3]");
  p = batched();
  p.o.device = DeviceKind::kCuda;
  expect_rejected(p, "o: lives on a CUDA device");
}

TEST_F(ValidationTest, OutputDtype) {
  HostTensor o16 = make_nan(DType::kFloat16, {kB, kSq, kHq, kDv});
  AttentionParams p = batched();
  p.o = o16.view;
  expect_rejected(p, "o: expected dtype float32", {&o16});
}

TEST_F(ValidationTest, OutputShape) {
  HostTensor o_with_d = make_nan(DType::kFloat32, {kB, kSq, kHq, kD});  // D instead of Dv
  AttentionParams p = batched();
  p.o = o_with_d.view;
  expect_rejected(p, "o: expected shape [B, Sq, Hq, Dv]", {&o_with_d});
  HostTensor o_batched = make_nan(DType::kFloat32, {1, kTotalQ, kHq, kDv});
  p = varlen();
  p.o = o_batched.view;
  expect_rejected(p, "o: expected shape [total_q, Hq, Dv]", {&o_batched});
}

TEST_F(ValidationTest, LseShapeAndDtype) {
  HostTensor lse_bsh = make_nan(DType::kFloat32, {kB, kSq, kHq});  // [B, Sq, Hq] instead of [B, Hq, Sq]
  AttentionParams p = batched();
  p.lse = lse_bsh.view;
  expect_rejected(p, "lse: expected shape [B, Hq, Sq]", {&lse_bsh});
  HostTensor lse16 = make_nan(DType::kFloat16, {kB, kHq, kSq});
  p = batched();
  p.lse = lse16.view;
  expect_rejected(p, "lse: expected dtype float32", {&lse16});
  HostTensor lse_tq = make_nan(DType::kFloat32, {kTotalQ, kHq});  // [total_q, Hq] instead of [Hq, total_q]
  p = varlen();
  p.lse = lse_tq.view;
  expect_rejected(p, "lse: expected shape [Hq, total_q]", {&lse_tq});
}

// ---- is_supported and explain report the same error ---------------------------------

TEST_F(ValidationTest, IsSupportedAndExplainReportTheError) {
  AttentionParams p = varlen();
  HostTensor cu = make_int32({3}, {0, 5, 4});
  p.cu_seqlens_q = cu.view;
  const Status s = attnkit::forward(p);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  std::string why;
  EXPECT_FALSE(attnkit::is_supported(p, &why));
  EXPECT_EQ(why, s.message());
  std::string description;
  const Status e = attnkit::explain(p, &description);
  EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.message(), s.message());
  EXPECT_TRUE(all_nan(vo_));
  expect_valid_call_works();
}

}  // namespace
