// SparseD's denoising loop (SPEC 8): dense steps, the pattern built once at the schedule's
// build step, then block-sparse steps with the cached mask. Runs on the GPU when present,
// else on the CPU backend, and says which.
#include <cstdio>

#include "example_backend.hpp"

int main() {
  using attnkit::DType;
  constexpr int64_t kBatch = 1, kSeq = 512, kHeads = 4, kDim = 64, kBlock = 64, kNb = kSeq / kBlock;
  std::printf("sparsed_loop_example: running on the %s backend\n", example::use_gpu() ? "CUDA" : "CPU");
  example::Buffer q(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), k(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}),
      v(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), o(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim});
  example::Buffer kv_count(DType::kInt32, {kBatch, kHeads, kNb}), kv_index(DType::kInt32, {kBatch, kHeads, kNb, kNb});
  attnkit::AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.o = o.view;
  attnkit::BlockMask cached;  // one cache per layer
  cached.block_q = cached.block_k = static_cast<int>(kBlock);
  cached.kv_count = kv_count.view;
  cached.kv_index = kv_index.view;
  attnkit::SparseDOptions options;
  options.block_size = static_cast<int>(kBlock);
  options.rho = 0.5f;  // short context
  const attnkit::SparseDSchedule schedule{/*total_steps=*/10, /*skip=*/0.2};
  for (int step = 0; step < schedule.total_steps; ++step) {
    q.fill_bf16(100 + step);  // the denoiser's activations change every step
    k.fill_bf16(200 + step);
    v.fill_bf16(300 + step);
    attnkit::AttentionParams call = p;
    const attnkit::SparseDStep kind = schedule.step_kind(step);
    if (kind == attnkit::SparseDStep::kBuildPattern) {
      if (!example::check(attnkit::sparsed_plan(p, options, cached), "sparsed_plan")) return 1;
    } else if (kind == attnkit::SparseDStep::kSparse) {
      call.block_mask = cached;
    }
    if (!example::check(attnkit::forward(call), "forward")) return 1;
    std::printf("  step %d: %s\n", step,
                kind == attnkit::SparseDStep::kDense ? "dense"
                : kind == attnkit::SparseDStep::kBuildPattern ? "dense + build pattern" : "block-sparse");
  }
  const int32_t* counts = kv_count.read<int32_t>();
  std::printf("  head 0, query block 0 keeps %d of %lld key blocks\nsparsed_loop_example: ok\n", counts[0],
              static_cast<long long>(kNb));
  return 0;
}
