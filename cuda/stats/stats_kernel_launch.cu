// Definitions behind stats_kernel_launch.hpp: the <<<>>> launches of the statistics and
// ACT kernels. Nothing but launches here; the host logic lives in stats_pass.cu,
// stats_outputs.cu and act.cu.
#include "cuda/stats/stats_kernel_launch.hpp"

#include <string>

#include "cuda/attention/launch_common.hpp"

#include "cuda/stats/act_kernels.cuh"
#include "cuda/stats/stats_kernels.cuh"
#include "cuda/stats/stats_output_kernels.cuh"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
Status launch_lse_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, int d, int restrict_from,
                         cudaStream_t stream) {
  const auto kernel = is_bf16 ? &lse_kernel<true> : &lse_kernel<false>;
  if (Status s = set_max_dynamic_smem(kernel, shape.smem_bytes, "lse_kernel"); !s) return s;
  kernel<<<shape.grid, kStatsThreads, shape.smem_bytes, stream>>>(p, d, restrict_from);
  return check_launch("lse_kernel");
}

Status launch_stats_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const StatsArgs& a,
                           cudaStream_t stream) {
  const auto kernel = is_bf16 ? &stats_kernel<true> : &stats_kernel<false>;
  if (Status s = set_max_dynamic_smem(kernel, shape.smem_bytes, "stats_kernel"); !s) return s;
  kernel<<<shape.grid, kStatsThreads, shape.smem_bytes, stream>>>(p, a);
  return check_launch("stats_kernel");
}

Status launch_write_columns_kernel(dim3 grid, const FwdParams& p, const ColumnArgs& a, cudaStream_t stream) {
  write_columns_kernel<<<grid, kOutputThreads, 0, stream>>>(p, a);
  return check_launch("write_columns_kernel");
}

Status launch_write_blocks_kernel(dim3 grid, const FwdParams& p, const BlockArgs& a, cudaStream_t stream) {
  write_blocks_kernel<<<grid, kOutputThreads, 0, stream>>>(p, a);
  return check_launch("write_blocks_kernel");
}

Status launch_detect_kernel(dim3 grid, const FwdParams& p, const DetectArgs& a, cudaStream_t stream) {
  detect_kernel<<<grid, kDetectThreads, sizeof(DetectSmem), stream>>>(p, a);
  return check_launch("detect_kernel");
}

Status launch_calibrate_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const CalibrateArgs& a,
                               cudaStream_t stream) {
  const auto kernel = is_bf16 ? &calibrate_kernel<true> : &calibrate_kernel<false>;
  kernel<<<grid, kCalibrateWarps * 32, 0, stream>>>(p, a);
  return check_launch("calibrate_kernel");
}

Status launch_forward_call(const AttentionParams& params) { return forward(params); }

}  // namespace attnkit::cuda_backend
