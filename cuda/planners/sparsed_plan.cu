// SparseD on the GPU (SPEC 8): importance = blockmean of the statistics pass, the `keep`
// largest per row (ties: lower kb), and with a generation start g a second statistics
// pass restricted to keys >= g whose generation blocks replace the first choice there.
// The mask is written directly on the device by sparsed_kernels.cuh's select kernel
// (launched through planner_kernel_launch.hpp), rows ascending, unused entries -1.
#include <cuda_runtime.h>

#include "common/sparsed_rule.hpp"
#include "cuda/attention/launch_common.hpp"
#include "cuda/planners/planner_kernel_launch.hpp"
#include "cuda/planners/planners_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {

Status sparsed_plan_device(const detail::Problem& pr, const AttentionParams& params, const SparseDOptions& options,
                           const BlockMask& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const int64_t bs = options.block_size;
  const int64_t nqb = (pr.max_sq + bs - 1) / bs, nkb = (pr.max_sk + bs - 1) / bs;
  const size_t smem = sparsed_select_smem_bytes(nkb);
  detail::DeviceInfo device;
  if (Status s = current_device_info(&device); !s) return s;
  if (smem > static_cast<size_t>(device.smem_optin)) {
    return Status(StatusCode::kNotSupported, "sparsed_plan: " + std::to_string(nkb) +
                                                 " key blocks per row exceed the CUDA planner's shared memory");
  }
  if (pr.batch == 0 || pr.hq == 0 || nqb == 0) return Status::ok();
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  FwdParams p = make_stats_params(pr, params);
  const int64_t g = options.generation_start;
  const size_t mass_bytes = sizeof(float) * pr.batch * pr.hq * nqb * nkb;
  DeviceScratch lse(stream), mass_full(stream), mass_gen(stream);
  if (Status s = lse.allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
  if (Status s = mass_full.allocate(mass_bytes, true, "block masses"); !s) return s;
  if (g >= 0) {
    if (Status s = mass_gen.allocate(mass_bytes, true, "generation block masses"); !s) return s;
  }
  set_scratch_lse(pr, lse.as<float>(), &p);
  StatsPass pass;
  pass.block_q = static_cast<int>(bs);
  pass.block_k = static_cast<int>(bs);
  pass.block_mass = mass_full.as<float>();
  if (Status s = run_lse_pass(pr, p, 0, stream); !s) return s;
  if (Status s = run_stats_pass(pr, p, pass, stream); !s) return s;
  if (g >= 0) {  // the softmax restricted to the generation keys j >= g
    pass.restrict_from = g;
    pass.block_mass = mass_gen.as<float>();
    if (Status s = run_lse_pass(pr, p, g, stream); !s) return s;
    if (Status s = run_stats_pass(pr, p, pass, stream); !s) return s;
  }

  SelectArgs a{};
  a.mass_full = mass_full.as<float>();
  a.mass_gen = g >= 0 ? mass_gen.as<float>() : nullptr;
  a.bs = static_cast<int>(bs);
  a.nqb = static_cast<int>(nqb);
  a.nkb = static_cast<int>(nkb);
  a.gen_start = static_cast<int>(g);
  a.rho = planners::decimal_value(options.rho);
  a.count = static_cast<int32_t*>(out.kv_count.data);
  for (int d = 0; d < 3; ++d) a.count_stride[d] = out.kv_count.stride[d];
  a.index = static_cast<int32_t*>(out.kv_index.data);
  for (int d = 0; d < 4; ++d) a.index_stride[d] = out.kv_index.stride[d];
  a.index_width = static_cast<int>(out.kv_index.shape[3]);
  LaunchShape shape;
  shape.grid = dim3(static_cast<unsigned>(nqb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  shape.smem_bytes = smem;
  return launch_sparsed_select_kernel(shape, p, a, stream);
}

}  // namespace attnkit::cuda_backend
