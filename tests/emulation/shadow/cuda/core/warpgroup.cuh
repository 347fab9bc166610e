// Emulated twin of cuda/core/warpgroup.cuh (tests/emulation). setmaxnreg has no effect here
// but stays a .sync.aligned warpgroup instruction: all 128 threads of the warpgroup must
// execute it with the same count (a divergent call deadlocks, a different count is an
// error). elect_one_sync is a warp collective electing lane 0; the named barriers count
// threads and join the clocks of their participants (attnkit_emu::named_barrier).
#pragma once

#include <cstdint>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

/// \brief setmaxnreg.inc.sync.aligned (warpgroup collective; no effect in emulation).
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0, "setmaxnreg takes 24-256, a multiple of 8");
  attnkit_emu::warpgroup_sync("setmaxnreg_inc", kRegs);
}

/// \brief setmaxnreg.dec.sync.aligned (warpgroup collective; no effect in emulation).
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0, "setmaxnreg takes 24-256, a multiple of 8");
  attnkit_emu::warpgroup_sync("setmaxnreg_dec", kRegs);
}

/// \brief True in exactly one lane (lane 0) of the full warp.
__device__ __forceinline__ bool elect_one_sync() {
  attnkit_emu::warp_exchange();
  return attnkit_emu::lane() == 0;
}

/// \brief bar.sync id, threads.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) { attnkit_emu::named_barrier(id, threads, true); }

/// \brief bar.arrive id, threads.
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  attnkit_emu::named_barrier(id, threads, false);
}

}  // namespace attnkit::cuda_core
