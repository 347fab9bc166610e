// Definitions behind planner_kernel_launch.hpp: the <<<>>> launches of the SparseD and
// Rectified SpaAttn kernels. Nothing but launches here.
#include "cuda/planners/planner_kernel_launch.hpp"

#include <string>

#include "cuda/attention/launch_common.hpp"

#include "cuda/planners/rectified_kernels.cuh"
#include "cuda/planners/sparsed_kernels.cuh"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
Status launch_sparsed_select_kernel(const LaunchShape& shape, const FwdParams& p, const SelectArgs& a,
                                    cudaStream_t stream) {
  if (Status s = set_max_dynamic_smem(sparsed_select_kernel, shape.smem_bytes, "sparsed_select_kernel"); !s) return s;
  sparsed_select_kernel<<<shape.grid, kSelectThreads, shape.smem_bytes, stream>>>(p, a);
  return check_launch("sparsed_select_kernel");
}

Status launch_pool_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const PlanArgs& a, cudaStream_t stream) {
  const auto kernel = is_bf16 ? &pool_kernel<true> : &pool_kernel<false>;
  kernel<<<grid, kPoolThreads, 0, stream>>>(p, a.pooled, a.d, a.dv, a.sv, a.bn, a.nb);
  return check_launch("pool_kernel");
}

Status launch_plan_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const PlanArgs& a,
                          cudaStream_t stream) {
  const auto kernel = is_bf16 ? &plan_kernel<true> : &plan_kernel<false>;
  if (Status s = set_max_dynamic_smem(kernel, shape.smem_bytes, "plan_kernel"); !s) return s;
  kernel<<<shape.grid, kPlanThreads, shape.smem_bytes, stream>>>(p, a);
  return check_launch("plan_kernel");
}

}  // namespace attnkit::cuda_backend
