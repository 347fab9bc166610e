// The CUDA dispatch rule (SPEC 9), written once for the library (host/dispatch.cpp, over the
// real cuda_backend) and for the CPU emulation of the kernels (tests/emulation, over the
// emulated launchers), so that emulated calls take exactly the path real calls take.
#pragma once

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"

namespace attnkit::detail {

/// \brief Few query rows per sequence (decoding, speculative verification) or a paged cache
/// go to the split-KV decode kernel; everything else, and few-row calls the decode kernel
/// refuses, to the prefill kernel. A paged cache has no other kernel. `Cuda` provides
/// select_decode_kernel and select_prefill_kernel (the backend's functions).
template <class Cuda>
Status select_cuda_kernel(const Problem& pr, const AttentionParams& p, KernelChoice* choice) {
  if (pr.paged || pr.max_sq <= kDecodeMaxQueryRows) {
    Status s = Cuda::select_decode_kernel(pr, p, choice);
    if (s || pr.paged) return s;
  }
  return Cuda::select_prefill_kernel(pr, p, choice);
}

/// \brief Runs a choice of select_cuda_kernel on its family's launcher; `workspace` holds
/// workspace_bytes(pr, choice) bytes (null when that is 0).
template <class Cuda>
Status run_cuda_kernel(const Problem& pr, const AttentionParams& p, const KernelChoice& choice, void* workspace) {
  if (choice.family == KernelFamily::kDecode) return Cuda::run_decode(pr, p, choice, workspace);
  return Cuda::run_forward(pr, p, choice);
}

}  // namespace attnkit::detail
