// The launches of the statistics and ACT kernels: each runs one kernel with the grid and
// dynamic shared memory the host logic (stats_pass.cu, stats_outputs.cu, act.cu) decided,
// and checks the launch. They are the only functions that hold a <<<>>> launch
// (stats_kernel_launch.cu), so that the CPU emulation (tests/emulation) compiles the host
// logic and the kernels unchanged and re-implements just these.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "attnkit/attention.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/stats/stats_params.hpp"

namespace attnkit::cuda_backend {

/// Grid and dynamic shared memory of one launch (threads per CTA are the kernel's constant).
struct LaunchShape {
  dim3 grid;
  size_t smem_bytes = 0;
};

/// \brief lse_kernel (kStatsThreads threads); raises the dynamic shared memory limit first.
Status launch_lse_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, int d, int restrict_from,
                         cudaStream_t stream);

/// \brief stats_kernel (kStatsThreads threads); raises the dynamic shared memory limit first.
Status launch_stats_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const StatsArgs& a,
                           cudaStream_t stream);

/// \brief write_columns_kernel (kOutputThreads threads, no shared memory).
Status launch_write_columns_kernel(dim3 grid, const FwdParams& p, const ColumnArgs& a, cudaStream_t stream);

/// \brief write_blocks_kernel (kOutputThreads threads, no shared memory).
Status launch_write_blocks_kernel(dim3 grid, const FwdParams& p, const BlockArgs& a, cudaStream_t stream);

/// \brief detect_kernel (kDetectThreads threads, a DetectSmem of shared memory).
Status launch_detect_kernel(dim3 grid, const FwdParams& p, const DetectArgs& a, cudaStream_t stream);

/// \brief calibrate_kernel (kCalibrateWarps warps, no shared memory).
Status launch_calibrate_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const CalibrateArgs& a,
                               cudaStream_t stream);

/// \brief The forward call inside rectified_attention: attnkit::forward (the emulation runs
/// the emulated forward kernel instead). act_forward calls the prefill launcher directly
/// (cuda/attention/launch.hpp run_forward_params, for its float32 O).
Status launch_forward_call(const AttentionParams& params);

}  // namespace attnkit::cuda_backend
