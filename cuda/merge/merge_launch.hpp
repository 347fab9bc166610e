// The launch of the merge_states kernel: one <<<>>> per part capacity, kept apart from the
// host logic (merge_device.cu) so that the CPU emulation (tests/emulation) compiles that
// logic and the kernel unchanged and re-implements just these.
#pragma once

#include <cuda_runtime.h>

#include "attnkit/status.hpp"
#include "cuda/merge/merge_params.hpp"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief merge_states_kernel for up to kMergeFewParts parts (kMergeThreads threads, no
/// shared memory); `gate_bf16` picks the instance whose 16-bit gate is bf16. Checks the launch.
Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeFewParts>& args, const FwdParams& gate,
                           cudaStream_t stream);

/// \brief The same for up to kMergeMaxParts parts (a larger kernel argument block).
Status launch_merge_kernel(dim3 grid, bool gate_bf16, const MergeArgs<kMergeMaxParts>& args, const FwdParams& gate,
                           cudaStream_t stream);

}  // namespace attnkit::cuda_backend
