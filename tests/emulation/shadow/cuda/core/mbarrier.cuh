// Emulated twin of cuda/core/mbarrier.cuh (tests/emulation): transaction barriers with phases,
// arrival counts and TMA transaction bytes (attnkit_emu::mbarrier_*). A wait blocks the
// fiber until its phase completes (a phase nobody completes is a reported deadlock); an
// arrival releases the thread's clock into the phase and a successful wait acquires it, for
// the race detector. Arrivals beyond the count while the phase waits for bytes, barriers
// outside shared memory, uses of an uninitialised barrier or of one whose init is not yet
// ordered before the use, and plain accesses to a barrier's 8 bytes are errors.
//
// fence_barrier_init, mbarrier_arrive, mbarrier_arrive_expect_tx and mbarrier_wait know their
// call site (default arguments, as __syncthreads; the real wrappers have no parameters for
// it): the synchronisation mutation test deletes them one site at a time
// (attnkit_emu::g_deleted_barrier), and a deleted call does nothing at all.
#pragma once

#include <cstdint>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

/// \brief mbarrier.init with `count` expected arrivals per phase (one thread, before use).
__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t count) { attnkit_emu::mbarrier_init(bar, count); }

/// \brief fence.mbarrier_init: TMA may complete bytes on the barriers this thread initialised.
__device__ __forceinline__ void fence_barrier_init(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kFenceBarrierInit, file, line)) return;
  attnkit_emu::fence_barrier_init();
}

/// \brief One arrival.
__device__ __forceinline__ void mbarrier_arrive(uint32_t bar, const char* file = __builtin_FILE(),
                                                int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kMbarrierArrive, file, line)) return;
  attnkit_emu::mbarrier_arrive(bar, false, 0);
}

/// \brief One arrival that also expects `bytes` more transaction bytes in this phase (deleted:
/// neither the arrival nor the bytes, as without the line).
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes, const char* file = __builtin_FILE(),
                                                          int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kMbarrierArriveExpectTx, file, line)) return;
  attnkit_emu::mbarrier_arrive(bar, true, bytes);
}

/// \brief Blocks until the phase with parity `parity` has completed (deleted: returns at once;
/// no TMA copy lands and nothing is acquired).
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity, const char* file = __builtin_FILE(),
                                              int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kMbarrierWait, file, line)) return;
  attnkit_emu::mbarrier_wait(bar, parity);
}

}  // namespace attnkit::cuda_core
