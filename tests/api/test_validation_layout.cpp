// Validation tests (SPEC 10): required tensors, ranks, dtypes, shapes, strides, devices, cu_seqlens.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "api/validation_fixture.hpp"

namespace attnkit_test::validation {
namespace {

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

}  // namespace
}  // namespace attnkit_test::validation
