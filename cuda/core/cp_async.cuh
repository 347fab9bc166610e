// Asynchronous global -> shared copies (cp.async), sm_80 and newer.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief Copies 16 bytes from global to shared memory, bypassing L1 (.cg). When `valid`
/// is false nothing is read and the 16 destination bytes are zero-filled (src-size 0), so
/// tiles that run past a sequence hold zeros, never stale data. `gmem` must still be a
/// mapped address (callers pass the tensor's base in that case).
__device__ __forceinline__ void cp_async_16(uint32_t smem_address, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address), "l"(gmem),
               "r"(src_bytes));
}

/// \brief Closes the current group of cp.async copies.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

/// \brief Waits until at most `kPending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

}  // namespace attnkit::cuda_core
