// Validation tests (SPEC 10): block mask, rectification, gate, O / LSE, is_supported / explain.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/validation_fixture.hpp"

namespace attnkit_test::validation {
namespace {

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
}  // namespace attnkit_test::validation
