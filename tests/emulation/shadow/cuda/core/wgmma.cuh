// Emulated twin of cuda/core/wgmma.cuh (tests/emulation): wgmma.mma_async m64nNk16 with fp32
// accumulation as a warpgroup collective (all 128 threads of threads 128 k .. 128 k + 127),
// asynchronous as the hardware is: the issue computes the result into pending storage and
// poisons the accumulators with NaN, and only the wgmma_wait that completes the group writes
// them, so an accumulator read before its wait is NaN. Shared-memory operands are decoded
// from their descriptors (attnkit_emu::gmma_element_address: the canonical K-major /
// MN-major layouts, the swizzle on the absolute address) and count as reads of the
// warpgroup's asynchronous agent from the issue to the wait that completes them. Products of
// 16-bit inputs are exact in fp32; the sum is taken in k order (the hardware's internal order
// and rounding are not emulated). A wgmma needs a wgmma_fence since the thread's start or
// its last landing wgmma_wait.
//
// wgmma_fence and wgmma_wait know their call site (default arguments, as __syncthreads; the
// real wrappers have none): the synchronisation mutation test deletes them one site at a
// time (attnkit_emu::g_deleted_barrier), and a deleted call is not executed at all.
// wgmma_commit has no site (attnkit_emu::SyncCall says why).
#pragma once

#include <cstdint>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

/// \brief wgmma.fence.sync.aligned (warpgroup collective).
__device__ __forceinline__ void wgmma_fence(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kWgmmaFence, file, line)) return;
  attnkit_emu::wgmma_fence();
}

/// \brief wgmma.commit_group.sync.aligned (warpgroup collective).
__device__ __forceinline__ void wgmma_commit() { attnkit_emu::wgmma_commit(); }

/// \brief wgmma.wait_group.sync.aligned kPending (warpgroup collective): the accumulators of
/// all but the kPending newest committed groups hold their results afterwards.
template <int kPending>
__device__ __forceinline__ void wgmma_wait(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (attnkit_emu::sync_site_deleted(attnkit_emu::SyncCall::kWgmmaWait, file, line)) return;
  attnkit_emu::wgmma_wait(kPending);
}

/// \brief A compiler barrier on the real hardware; nothing to emulate.
__device__ __forceinline__ void wgmma_fence_operand(float&) {}

template <int kRows, int kCols>
__device__ __forceinline__ void wgmma_fence_operands(float (&d)[kRows][kCols]) {
  for (int i = 0; i < kRows; ++i) {
    for (int j = 0; j < kCols; ++j) wgmma_fence_operand(d[i][j]);
  }
}

/// \brief d (+)= A * B, m64 n kN k16, A and B in shared memory, both K-major.
template <int kN, bool kIsBf16>
__device__ __forceinline__ void wgmma_ss(float (&d)[kN / 8][4], uint64_t a_desc, uint64_t b_desc, int accumulate) {
  static_assert(kN == 64 || kN == 128, "the S = Q K^T shapes of the Hopper family");
  attnkit_emu::wgmma_issue(&d[0][0], kN, kIsBf16, nullptr, a_desc, b_desc, /*b_mn_major=*/false, accumulate);
}

/// \brief d (+)= A * B, m64 n kN k16, A in registers (mma.sync A fragments of the warp's 16
/// rows), B in shared memory MN-major.
template <int kN, bool kIsBf16>
__device__ __forceinline__ void wgmma_rs_tb(float (&d)[kN / 8][4], const uint32_t (&a)[4], uint64_t b_desc,
                                            int accumulate) {
  static_assert(kN == 64 || kN == 128 || kN == 256, "the O += P V shapes of the Hopper family");
  attnkit_emu::wgmma_issue(&d[0][0], kN, kIsBf16, a, 0, b_desc, /*b_mn_major=*/true, accumulate);
}

}  // namespace attnkit::cuda_core
