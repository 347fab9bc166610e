// Warp specialization on sm_90a: register reallocation between warpgroups (setmaxnreg),
// one elected lane per warp (elect.sync), and named barriers among a subset of the CTA's
// warps (bar.sync / bar.arrive with an id and a thread count; id 0 is __syncthreads').
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief setmaxnreg.inc: the executing warpgroup may use up to kRegs registers per thread.
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

/// \brief setmaxnreg.dec: the executing warpgroup gives registers back, keeping kRegs.
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

/// \brief True in exactly one lane of the (full) warp.
__device__ __forceinline__ bool elect_one_sync() {
  uint32_t elected = 0;
  asm volatile(
      "{\n"
      ".reg .b32 lane;\n"
      ".reg .pred p;\n"
      "elect.sync lane|p, 0xffffffff;\n"
      "@p mov.u32 %0, 1;\n"
      "}\n"
      : "+r"(elected));
  return elected != 0;
}

/// \brief bar.sync id, threads: waits until `threads` threads (a multiple of 32) arrived.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/// \brief bar.arrive id, threads: counts this warp's arrival without waiting.
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace attnkit::cuda_core
