// Compiles the merge_states kernel (cuda/merge/merge_kernel.cuh) and its host logic
// (cuda/merge/merge_device.cu) with the host compiler. The device queries of the host logic
// go to emu_cuda_api.hpp; launch_merge_kernel (merge_launch.hpp), which holds the <<<>>>
// launch, is defined here on top of attnkit_emu::run_grid. Nothing under cuda/ is edited.
#include "emulated_merge.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/merge_problem.hpp"
#include "emu_runtime.hpp"
#include "host/validate_merge.hpp"

// The device-only spellings the host headers of CUDA leave undefined for g++.
#define __launch_bounds__(...)
#define __expf(x) expf(x)  // the intrinsic's approximation error is not emulated (gate sigmoid)

// Own namespace, as in emulated_forward.cpp: never collides with the real (GPU) code.
#define cuda_backend cuda_backend_emu
#include "emu_cuda_api.hpp"  // after cuda_runtime.h, before the host logic
#include "cuda/merge/merge_kernel.cuh"
#include "cuda/merge/merge_device.cu"

namespace attnkit::cuda_backend {
namespace {

template <int kCapacity>
Status emulate(dim3 grid, bool gate_bf16, const MergeArgs<kCapacity>& args, const FwdParams& gate) {
  attnkit_emu::LaunchConfig config;
  config.grid = grid;
  config.threads = kMergeThreads;
  config.smem_bytes = 0;
  const std::string error = attnkit_emu::run_grid(config, [&] {
    gate_bf16 ? merge_states_kernel<kCapacity, true>(args, gate) : merge_states_kernel<kCapacity, false>(args, gate);
  });
  if (!error.empty()) return Status(StatusCode::kInternal, "emulated merge_states_kernel: " + error);
  return Status::ok();
}

}  // namespace

// ---- merge_launch.hpp ---------------------------------------------------------------------

Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeFewParts>& args, const FwdParams& gate,
                           cudaStream_t) {
  return emulate(grid, gate_bf16, args, gate);
}

Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeMaxParts>& args, const FwdParams& gate,
                           cudaStream_t) {
  return emulate(grid, gate_bf16, args, gate);
}

}  // namespace attnkit::cuda_backend

namespace attnkit_emu {

attnkit::Status emulated_merge_states(const attnkit::MergeStatesParams& params) {
  attnkit::detail::MergeProblem problem;
  if (attnkit::Status s = attnkit::detail::validate_merge(params, &problem); !s) return s;
  return attnkit::cuda_backend::merge_states_device(problem, params);
}

}  // namespace attnkit_emu

#undef cuda_backend
