// Definitions behind merge_launch.hpp: the <<<>>> launches of merge_states_kernel and the
// cudaGetLastError check after each. Nothing but launches here; the host logic lives in
// merge_device.cu.
#include "cuda/merge/merge_launch.hpp"

#include <string>

#include "cuda/merge/merge_kernel.cuh"

namespace attnkit::cuda_backend {
namespace {

template <int kCapacity>
Status launch(dim3 grid, bool gate_bf16, const MergeArgs<kCapacity>& args, const FwdParams& gate, cudaStream_t stream) {
  const auto kernel = gate_bf16 ? &merge_states_kernel<kCapacity, true> : &merge_states_kernel<kCapacity, false>;
  kernel<<<grid, kMergeThreads, 0, stream>>>(args, gate);
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::ok();
  return Status(StatusCode::kCudaError, std::string("launch of merge_states_kernel: ") + cudaGetErrorString(err));
}

}  // namespace

Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeFewParts>& args, const FwdParams& gate,
                           cudaStream_t stream) {
  return launch(grid, gate_bf16, args, gate, stream);
}

Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeMaxParts>& args, const FwdParams& gate,
                           cudaStream_t stream) {
  return launch(grid, gate_bf16, args, gate, stream);
}

}  // namespace attnkit::cuda_backend
