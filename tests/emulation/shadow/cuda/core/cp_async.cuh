// Emulated twin of cuda/core/cp_async.cuh (tests/emulation): same names and contracts.
// A copy is queued on the issuing thread and lands only when its group is waited for, so
// shared memory read before the wait still holds the NaN poison or the previous tile.
#pragma once

#include <cstdint>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

/// \brief cp.async.cg of 16 bytes; `valid` false zero-fills the destination (src-size 0).
__device__ __forceinline__ void cp_async_16(uint32_t smem_address, const void* gmem, bool valid) {
  attnkit_emu::cp_async_issue(smem_address, gmem, valid);
}

/// \brief cp.async.commit_group.
__device__ __forceinline__ void cp_async_commit() { attnkit_emu::cp_async_commit(); }

/// \brief cp.async.wait_group kPending.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  attnkit_emu::cp_async_wait(kPending);
}

}  // namespace attnkit::cuda_core
