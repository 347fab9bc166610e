// Plain shared-memory loads and stores that are not ldmatrix / cp.async (the decode
// kernel's cross-warp combine, for example). On the GPU they are ordinary accesses; they
// carry a name so that the CPU emulation's race detector (tests/emulation) sees every
// shared-memory access of a kernel, and so catches a missing __syncthreads around them.
#pragma once

namespace attnkit::cuda_core {

/// \brief *ptr, ptr in shared memory.
template <class T>
__device__ __forceinline__ T ld_shared(const T* ptr) {
  return *ptr;
}

/// \brief *ptr = value, ptr in shared memory.
template <class T>
__device__ __forceinline__ void st_shared(T* ptr, const T& value) {
  *ptr = value;
}

}  // namespace attnkit::cuda_core
