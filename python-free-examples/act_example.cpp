// ACT (attention sink calibration, SPEC 7): detect each head's secondary sinks from the
// column means, then run the calibrated forward, reusing the sets for a second call.
// Runs on the GPU when present, else on the CPU backend, and says which.
#include <cstdio>

#include "example_backend.hpp"

int main() {
  using attnkit::DType;
  constexpr int64_t kBatch = 1, kSeq = 256, kHeads = 4, kDim = 64;
  std::printf("act_example: running on the %s backend\n", example::use_gpu() ? "CUDA" : "CPU");
  example::Buffer q(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), k(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}),
      v(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim}), o(DType::kBFloat16, {kBatch, kSeq, kHeads, kDim});
  q.fill_bf16(1);
  k.fill_bf16(2);
  v.fill_bf16(3);
  example::Buffer count(DType::kInt32, {kBatch, kHeads}), index(DType::kInt32, {kBatch, kHeads, 64});
  attnkit::AttentionParams p;
  p.q = q.view;
  p.k = k.view;
  p.v = v.view;
  p.o = o.view;
  p.causal = true;
  attnkit::ActOptions options;  // theta 0.1, beta 0.4, keep the primary sink, <= 64 sinks
  options.theta = 0.05f;
  attnkit::SinkSets sets{count.view, index.view};
  if (!example::check(attnkit::act_forward(p, options, &sets), "act_forward")) return 1;
  const int32_t* c = count.read<int32_t>();
  for (int64_t h = 0; h < kHeads; ++h) std::printf("  head %lld: %d calibrated sink(s)\n", static_cast<long long>(h), c[h]);
  // A later call (next step, same layer) reuses the detected sets.
  if (!example::check(attnkit::act_forward_with_sets(p, options, sets), "act_forward_with_sets")) return 1;
  std::printf("act_example: ok\n");
  return 0;
}
