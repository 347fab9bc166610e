// Launch shape of every kernel for tools/resource-check.sh: threads per CTA and dynamic
// shared memory per CTA, read from the constants the launchers use (kernel_traits.cuh,
// decode_traits.cuh, stats_params.hpp, planner_params.hpp), so the occupancy column of
// docs/resources.md follows the traits. Host-only: it calls no CUDA API, so it runs on a
// machine without a GPU. Prints TSV lines "kernel-glob<TAB>threads<TAB>dynamic smem bytes", with
// "runtime" where the launcher sizes shared memory from the call (head dim, block count).
#include <cstdio>

#include "cuda/attention/kernel_traits.cuh"
#include "cuda/decode/decode_traits.cuh"
#include "cuda/merge/merge_params.hpp"
#include "cuda/planners/planner_params.hpp"
#include "cuda/stats/stats_params.hpp"

namespace {

using namespace attnkit::cuda_backend;

void row(const char* glob, int threads, long long smem) {
  if (smem < 0) {
    std::printf("%s\t%d\truntime\n", glob, threads);
  } else {
    std::printf("%s\t%d\t%lld\n", glob, threads, smem);
  }
}

const char* dtype(bool bf16) { return bf16 ? "bf16" : "fp16"; }

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
void prefill_instance() {
  using T = KernelTraits<kHeadDim, kIsBf16, kKvFp8>;
  char name[64];
  std::snprintf(name, sizeof(name), "fwd_d%d_%s%s", kHeadDim, dtype(kIsBf16), kKvFp8 ? "_fp8kv" : "");
  row(name, T::kNumThreads, T::kSmemBytes);  // launch_template.cuh: <<<grid, kNumThreads, kSmemBytes>>>
}

template <int kHeadDim, bool kIsBf16>
void prefill() {
  prefill_instance<kHeadDim, kIsBf16, false>();
  prefill_instance<kHeadDim, kIsBf16, true>();
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
void decode() {
  using T = DecodeTraits<kHeadDim, kIsBf16, kKvFp8>;
  const char* kv = kKvFp8 ? "_fp8kv" : "";
  char name[64];
  std::snprintf(name, sizeof(name), "decode_split_d%d_%s%s", kHeadDim, dtype(kIsBf16), kv);
  row(name, T::kNumThreads, T::kSmemBytes);
  // decode_launch_template.cuh launches the merge with kMergeThreads = 256, no shared memory
  // (a local constant there, matching the kernel's __launch_bounds__(256)).
  std::snprintf(name, sizeof(name), "decode_merge_d%d_%s%s", kHeadDim, dtype(kIsBf16), kv);
  row(name, 256, 0);
}

template <int kHeadDim, bool kIsBf16>
void decode_both_caches() {
  decode<kHeadDim, kIsBf16, false>();
  decode<kHeadDim, kIsBf16, true>();
}

}  // namespace

int main() {
  prefill<64, true>();
  prefill<64, false>();
  prefill<128, true>();
  prefill<128, false>();
  prefill<256, true>();
  prefill<256, false>();
  decode_both_caches<64, true>();
  decode_both_caches<64, false>();
  decode_both_caches<128, true>();
  decode_both_caches<128, false>();
  decode_both_caches<256, true>();
  decode_both_caches<256, false>();
  // stats_kernel_launch.cu
  row("lse_kernel<*>", kStatsThreads, -1);    // lse_smem_bytes(d)
  row("stats_kernel<*>", kStatsThreads, -1);  // stats_smem_bytes(d)
  row("write_columns_kernel", kOutputThreads, 0);
  row("write_blocks_kernel", kOutputThreads, 0);
  row("detect_kernel", kDetectThreads, static_cast<long long>(sizeof(DetectSmem)));
  row("calibrate_kernel<*>", kCalibrateWarps * 32, 0);
  // planner_kernel_launch.cu
  row("sparsed_select_kernel", kSelectThreads, -1);  // sparsed_select_smem_bytes(nkb)
  row("pool_kernel<*>", kPoolThreads, 0);
  row("plan_kernel<*>", kPlanThreads, -1);  // plan_smem_bytes(nb, st)
  // merge_launch.cu
  row("merge_states_kernel<*>", kMergeThreads, 0);
  // block_mask_ops.cu's kernels use a file-local kThreads: not listed (no occupancy column).
  return 0;
}
