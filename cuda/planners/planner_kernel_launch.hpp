// The launches of the planner kernels (SPEC 8), the only functions that hold their <<<>>>
// launches (planner_kernel_launch.cu): the host logic (sparsed_plan.cu, rectified_plan.cu)
// decides grids and shared memory, and the CPU emulation (tests/emulation) re-implements
// just these.
#pragma once

#include <cuda_runtime.h>

#include "attnkit/status.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/planners/planner_params.hpp"
#include "cuda/stats/stats_kernel_launch.hpp"

namespace attnkit::cuda_backend {

/// \brief sparsed_select_kernel (kSelectThreads threads); raises the dynamic shared memory limit first.
Status launch_sparsed_select_kernel(const LaunchShape& shape, const FwdParams& p, const SelectArgs& a,
                                    cudaStream_t stream);

/// \brief pool_kernel (kPoolThreads threads, no shared memory) over a's pooled buffers.
Status launch_pool_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const PlanArgs& a, cudaStream_t stream);

/// \brief plan_kernel (kPlanThreads threads); raises the dynamic shared memory limit first.
Status launch_plan_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const PlanArgs& a,
                          cudaStream_t stream);

}  // namespace attnkit::cuda_backend
