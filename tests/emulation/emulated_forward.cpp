// Compiles cuda/attention/fwd_kernel.cuh and cuda/attention/launch.cu with the host
// compiler (emulated_dispatch.cpp routes calls to them as the library's dispatcher does). The PTX wrappers come from shadow/cuda/core (first on the include path); the
// CUDA built-ins from emu_runtime.hpp; the device queries of select_kernel from
// emu_cuda_api.hpp; launch_fwd, which holds the <<<>>> launch, is defined here on top of
// attnkit_emu::run_grid. Nothing under cuda/ is edited.
#include "emulated_forward.hpp"

#include <algorithm>
#include <cmath>

#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include "emu_runtime.hpp"
#include "host/validate.hpp"

// The device-only spellings the host headers of CUDA leave undefined for g++.
#define __launch_bounds__(...)
#define __expf(x) expf(x)  // the intrinsic's approximation error is not emulated
using std::max;            // the kernel's unqualified min / max on int
using std::min;

// Compile the kernel and launcher into their own namespace, so that they can neither
// collide with nor be interposed by the real (GPU) ones inside libattnkit.
#define cuda_backend cuda_backend_emu
#include "emu_cuda_api.hpp"  // select_kernel's device queries (act.cu calls it) see the emulated H100
#include "cuda/attention/fwd_kernel.cuh"
#include "cuda/attention/launch.cu"

namespace attnkit::cuda_backend {

// What fwd_kernel declares as `extern __shared__ uint4 smem_buffer[]`: the largest
// opt-in shared memory kernel_traits.cuh allows.
constexpr size_t kSharedCapacity = 160 * 1024;
alignas(128) uint4 smem_buffer[kSharedCapacity / sizeof(uint4)];

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_fwd(const FwdParams& params, int grid_m, cudaStream_t) {
  using Traits = KernelTraits<kHeadDim, kIsBf16, kKvFp8>;
  attnkit_emu::set_shared_memory(smem_buffer, sizeof(smem_buffer));
  attnkit_emu::LaunchConfig config;
  config.grid = dim3(static_cast<unsigned>(grid_m), static_cast<unsigned>(params.hq),
                     static_cast<unsigned>(params.batch));
  config.threads = Traits::kNumThreads;
  config.smem_bytes = Traits::kSmemBytes;
  const std::string error = attnkit_emu::run_grid(config, [&params] { fwd_kernel<Traits>(params); });
  if (!error.empty()) return Status(StatusCode::kInternal, "emulated fwd_kernel: " + error);
  return Status::ok();
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t fwd_kernel_attributes(cudaFuncAttributes*) {
  return cudaSuccess;
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int fwd_smem_bytes() {
  return KernelTraits<kHeadDim, kIsBf16, kKvFp8>::kSmemBytes;
}

}  // namespace attnkit::cuda_backend

namespace attnkit_emu {

attnkit::Status emulated_forward_float32(const attnkit::AttentionParams& params, float* o) {
  namespace backend = attnkit::cuda_backend;
  attnkit::detail::Problem problem;
  attnkit::Status s = attnkit::detail::validate_attention(params, attnkit::detail::CallKind::kForward, &problem);
  if (!s) return s;
  attnkit::detail::KernelChoice choice;
  if (s = backend::select_kernel(problem, params, &choice); !s) return s;
  backend::FwdParams p = backend::build_fwd_params(problem, params);
  p.o = o;
  p.o_stride.head = problem.dv;
  p.o_stride.row = problem.hq * problem.dv;
  p.o_stride.batch = problem.varlen ? 0 : problem.max_sq * problem.hq * problem.dv;
  p.o_is_float32 = true;
  return backend::run_forward_params(problem, params, p, choice);
}

}  // namespace attnkit_emu

#undef cuda_backend
