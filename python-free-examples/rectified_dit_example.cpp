// A small video-DiT attention layer with Rectified SpaAttn (SPEC 8): 4 frames of 128
// vision tokens plus 64 text tokens; pooled selection with the first frame forced, GAPR,
// then block-sparse attention with rectification. Runs on the GPU when present, else on
// the CPU backend, and says which.
#include <cstdio>

#include "example_backend.hpp"

int main() {
  using attnkit::DType;
  constexpr int64_t kBatch = 1, kVision = 512, kText = 64, kSeq = kVision + kText, kHeads = 4, kDim = 64;
  constexpr int64_t kBlock = 128, kNb = kVision / kBlock, kNqb = (kSeq + kBlock - 1) / kBlock;
  std::printf("rectified_dit_example: running on the %s backend\n", example::use_gpu() ? "CUDA" : "CPU");
  example::Buffer q(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), k(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}),
      v(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), o(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim});
  q.fill_bf16(11);
  k.fill_bf16(12);
  v.fill_bf16(13);
  example::Buffer forced(DType::kUInt8, {1, 1, kNb, kNb});
  {
    auto* f = const_cast<uint8_t*>(forced.read<uint8_t>());
    for (int64_t i = 0; i < kNb; ++i) f[i * kNb] = 1;  // every query block sees the first frame
    forced.upload();
  }
  example::Buffer kv_count(DType::kInt32, {kBatch, kHeads, kNqb}), kv_index(DType::kInt32, {kBatch, kHeads, kNqb, kNqb}),
      r(DType::kFloat32, {kBatch, kHeads, kNqb}), c(DType::kFloat32, {kBatch, kHeads, kNqb, kDim});
  attnkit::AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.o = o.view;
  attnkit::RectifiedOptions options;
  options.block_size = static_cast<int>(kBlock);
  options.text_tokens = kText;
  options.top_k = 2;
  options.forced = forced.view;
  attnkit::RectifiedPlan workspace;
  workspace.mask.block_q = workspace.mask.block_k = workspace.rectify.block_q = static_cast<int>(kBlock);
  workspace.mask.kv_count = kv_count.view;
  workspace.mask.kv_index = kv_index.view;
  workspace.rectify.r = r.view;
  workspace.rectify.c = c.view;
  if (!example::check(attnkit::rectified_attention(p, options, workspace), "rectified_attention")) return 1;
  const int32_t* counts = kv_count.read<int32_t>();
  const float* rs = r.read<float>();
  for (int64_t i = 0; i < kNqb; ++i) {
    std::printf("  head 0, query block %lld: %d key blocks, R = %.3f\n", static_cast<long long>(i), counts[i], rs[i]);
  }
  std::printf("rectified_dit_example: ok\n");
  return 0;
}
