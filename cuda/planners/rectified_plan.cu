// Rectified SpaAttn on the GPU (SPEC 8): the calling sequence of rectified_plan and
// rectified_attention around rectified_kernels.cuh's pooling and plan kernels (launched
// through planner_kernel_launch.hpp).
#include <cuda_runtime.h>

#include "cuda/attention/launch_common.hpp"
#include "cuda/planners/planner_kernel_launch.hpp"
#include "cuda/planners/planners_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {

Status rectified_plan_device(const detail::Problem& pr, const AttentionParams& params, const RectifiedOptions& options,
                             const RectifiedPlan& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const int64_t bn = options.block_size, s_len = pr.max_sq, st = options.text_tokens, sv = s_len - st;
  const int64_t nb = (sv + bn - 1) / bn, nqb = (s_len + bn - 1) / bn;
  const size_t smem = plan_smem_bytes(nb, st);
  detail::DeviceInfo device;
  if (Status s = current_device_info(&device); !s) return s;
  if (smem > static_cast<size_t>(device.smem_optin)) {
    return Status(StatusCode::kNotSupported, "rectified_plan: " + std::to_string(nb) + " vision blocks and " +
                                                 std::to_string(st) +
                                                 " text tokens exceed the CUDA planner's shared memory");
  }
  if (pr.batch == 0 || pr.hq == 0 || nqb == 0) return Status::ok();
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  const FwdParams p = make_stats_params(pr, params);
  const int64_t heads = pr.batch * pr.hq;
  DeviceScratch pooled(stream);
  const int64_t qk = heads * nb * pr.d, v = heads * nb * pr.dv;
  if (Status s = pooled.allocate(sizeof(float) * (4 * qk + v), false, "pooled blocks"); !s) return s;
  PlanArgs a{};
  a.pooled.qbar = pooled.as<float>();
  a.pooled.dq = a.pooled.qbar + qk;
  a.pooled.kbar = a.pooled.dq + qk;
  a.pooled.dk = a.pooled.kbar + qk;
  a.pooled.vbar = a.pooled.dk + qk;
  a.d = static_cast<int>(pr.d);
  a.dv = static_cast<int>(pr.dv);
  a.sv = static_cast<int>(sv);
  a.st = static_cast<int>(st);
  a.bn = static_cast<int>(bn);
  a.nb = static_cast<int>(nb);
  a.nqb = static_cast<int>(nqb);
  a.scale = pr.scale;
  a.top_k = options.top_k;
  a.tau = options.tau;
  a.gapr = options.gapr;
  if (options.forced.present()) {
    const TensorView& f = options.forced;
    a.maybe_forced = static_cast<const uint8_t*>(f.data);
    for (int d = 0; d < 4; ++d) a.forced_stride[d] = f.stride[d];
    a.forced_batch = static_cast<int>(f.shape[0]);
    a.forced_group = static_cast<int>(pr.hq / f.shape[1]);
  }
  a.count = static_cast<int32_t*>(out.mask.kv_count.data);
  for (int d = 0; d < 3; ++d) a.count_stride[d] = out.mask.kv_count.stride[d];
  a.index = static_cast<int32_t*>(out.mask.kv_index.data);
  for (int d = 0; d < 4; ++d) a.index_stride[d] = out.mask.kv_index.stride[d];
  a.index_width = static_cast<int>(out.mask.kv_index.shape[3]);
  a.r = static_cast<float*>(out.rectify.r.data);
  for (int d = 0; d < 3; ++d) a.r_stride[d] = out.rectify.r.stride[d];
  a.c = static_cast<float*>(out.rectify.c.data);
  for (int d = 0; d < 4; ++d) a.c_stride[d] = out.rectify.c.stride[d];

  const bool is_bf16 = pr.dtype == DType::kBFloat16;
  if (nb > 0) {
    const dim3 pool_grid(static_cast<unsigned>(nb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
    if (Status s = launch_pool_kernel(pool_grid, is_bf16, p, a, stream); !s) return s;
  }
  LaunchShape plan;
  plan.grid = dim3(static_cast<unsigned>(nqb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  plan.smem_bytes = smem;
  return launch_plan_kernel(plan, is_bf16, p, a, stream);
}

Status rectified_attention_device(const detail::Problem& pr, const AttentionParams& params,
                                  const RectifiedOptions& options, const RectifiedPlan& workspace) {
  // Step 6's call, checked before anything is planned: validate fully, then launch.
  AttentionParams sparse = params;
  sparse.block_mask = workspace.mask;
  sparse.rectify = workspace.rectify;
  std::string why;
  if (!is_supported(sparse, &why)) {
    return Status(StatusCode::kNotSupported, "rectified_attention: the CUDA forward kernel cannot run the planned call: " + why);
  }
  if (Status s = rectified_plan_device(pr, params, options, workspace); !s) return s;
  return launch_forward_call(sparse);
}

}  // namespace attnkit::cuda_backend
