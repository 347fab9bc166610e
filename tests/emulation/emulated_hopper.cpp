// Compiles the Hopper family's kernel (cuda/hopper/hopper_kernel.cuh) with the host compiler
// and defines its launcher functions (hopper_launch.hpp) on top of attnkit_emu::run_grid, in
// the emulation's namespace cuda_backend_emu, where cuda/attention/launch.cu's select_kernel
// (compiled by emulated_forward.cpp with ATTNKIT_WITH_HOPPER) finds them. The wgmma, TMA,
// mbarrier and warpgroup wrappers are the twins of shadow/cuda/core. Nothing under cuda/ is edited.
#include <algorithm>
#include <cmath>
#include <string>

#include "emu_runtime.hpp"
#include "emulated_forward.hpp"

#define __launch_bounds__(...)
#define __expf(x) expf(x)
using std::max;
using std::min;

#define cuda_backend cuda_backend_emu
#include "cuda/hopper/hopper_kernel.cuh"
#include "cuda/hopper/hopper_launch.hpp"

namespace attnkit::cuda_backend {

// What hopper_fwd_kernel declares as `extern __shared__ __align__(1024) uint8_t
// hopper_smem[]`: sm_90's 227 KB of opt-in shared memory.
constexpr size_t kHopperSharedCapacity = 227 * 1024;
alignas(1024) uint8_t hopper_smem[kHopperSharedCapacity];

template <int kHeadDim, bool kIsBf16, int kBlockN>
Status launch_hopper(const HopperFwdParams& params, int grid_m, cudaStream_t) {
  using Traits = HopperTraits<kHeadDim, kIsBf16, kBlockN>;
  attnkit_emu::set_shared_memory(hopper_smem, sizeof(hopper_smem));
  attnkit_emu::LaunchConfig config;
  config.grid = dim3(static_cast<unsigned>(grid_m), static_cast<unsigned>(params.p.hq),
                     static_cast<unsigned>(params.p.batch));
  config.threads = Traits::kNumThreads;
  config.smem_bytes = Traits::kSmemBytes;
  const std::string error = attnkit_emu::run_grid(config, [&params] { hopper_fwd_kernel<Traits>(params); });
  if (!error.empty()) return Status(StatusCode::kInternal, "emulated hopper_fwd_kernel: " + error);
  return Status::ok();
}

/// The emulated library holds an sm_90a image only while attnkit_emu::g_sm90a_image is set
/// (the Hopper suites set it); otherwise the query fails as on a build without the family.
template <int kHeadDim, bool kIsBf16, int kBlockN>
cudaError_t hopper_kernel_attributes(cudaFuncAttributes*) {
  return attnkit_emu::g_sm90a_image ? cudaSuccess : cudaErrorNoKernelImageForDevice;
}

template <int kHeadDim, bool kIsBf16, int kBlockN>
int hopper_smem_bytes() {
  return HopperTraits<kHeadDim, kIsBf16, kBlockN>::kSmemBytes;
}

#define ATTNKIT_EMULATE_HOPPER(kHeadDim, kIsBf16, kBlockN)                                                \
  template Status launch_hopper<kHeadDim, kIsBf16, kBlockN>(const HopperFwdParams&, int, cudaStream_t); \
  template cudaError_t hopper_kernel_attributes<kHeadDim, kIsBf16, kBlockN>(cudaFuncAttributes*);       \
  template int hopper_smem_bytes<kHeadDim, kIsBf16, kBlockN>();
ATTNKIT_EMULATE_HOPPER(64, true, 128)
ATTNKIT_EMULATE_HOPPER(64, false, 128)
ATTNKIT_EMULATE_HOPPER(64, true, 64)
ATTNKIT_EMULATE_HOPPER(64, false, 64)
ATTNKIT_EMULATE_HOPPER(128, true, 128)
ATTNKIT_EMULATE_HOPPER(128, false, 128)
ATTNKIT_EMULATE_HOPPER(128, true, 64)
ATTNKIT_EMULATE_HOPPER(128, false, 64)
ATTNKIT_EMULATE_HOPPER(256, true, 64)
ATTNKIT_EMULATE_HOPPER(256, false, 64)
#undef ATTNKIT_EMULATE_HOPPER

}  // namespace attnkit::cuda_backend

#undef cuda_backend
