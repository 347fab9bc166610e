// Block-wide integer scan and reductions for the statistics and planner kernels: warp
// shuffles inside each warp, one shared int per warp across warps. A hand-written stand-in
// for the three cub::BlockScan / BlockReduce calls those kernels made, small enough to read
// and free of CUB's internals, so that the CPU emulation (tests/emulation) compiles it too.
// Every function is a block-wide collective: all kThreads threads must call it, and it ends
// with __syncthreads, so the scratch can be reused by the next call at once.
#pragma once

#include "cuda/core/smem_access.cuh"

namespace attnkit::cuda_core {

/// Shared scratch of one block collective (place it in the kernel's shared memory layout).
template <int kThreads>
struct BlockScanScratch {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps, at most 32 of them");
  static constexpr int kWarps = kThreads / 32;
  int warp_total[kWarps];
};

/// \brief Inclusive sum over the lanes of a warp (lane l gets x_0 + ... + x_l).
__device__ __forceinline__ int warp_inclusive_sum(int x) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const int y = __shfl_up_sync(0xffffffffu, x, offset);
    if (lane >= offset) x += y;
  }
  return x;
}

/// \brief Exclusive prefix sum of `value` in thread order; `*total` gets the block's sum
/// (every thread). Integer sums, so the result is exactly cub::BlockScan::ExclusiveSum's.
template <int kThreads>
__device__ __forceinline__ int block_exclusive_sum(BlockScanScratch<kThreads>& scratch, int value, int* total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int inclusive = warp_inclusive_sum(value);
  if (lane == 31) st_shared(&scratch.warp_total[warp], inclusive);
  __syncthreads();
  int before = 0, sum = 0;
#pragma unroll
  for (int w = 0; w < BlockScanScratch<kThreads>::kWarps; ++w) {
    const int t = ld_shared(&scratch.warp_total[w]);
    before += w < warp ? t : 0;
    sum += t;
  }
  __syncthreads();  // the scratch is free again
  *total = sum;
  return before + inclusive - value;
}

/// \brief `op` (associative, commutative) over `value` of every thread; every thread gets it.
template <int kThreads, class Op>
__device__ __forceinline__ int block_all_reduce(BlockScanScratch<kThreads>& scratch, int value, Op op) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  if (lane == 0) st_shared(&scratch.warp_total[warp], value);
  __syncthreads();
  int result = ld_shared(&scratch.warp_total[0]);
#pragma unroll
  for (int w = 1; w < BlockScanScratch<kThreads>::kWarps; ++w) result = op(result, ld_shared(&scratch.warp_total[w]));
  __syncthreads();
  return result;
}

/// \brief Sum of `value` over the block, in every thread.
template <int kThreads>
__device__ __forceinline__ int block_sum(BlockScanScratch<kThreads>& scratch, int value) {
  return block_all_reduce(scratch, value, [](int x, int y) { return x + y; });
}

/// \brief Minimum of `value` over the block, in every thread.
template <int kThreads>
__device__ __forceinline__ int block_min(BlockScanScratch<kThreads>& scratch, int value) {
  return block_all_reduce(scratch, value, [](int x, int y) { return x < y ? x : y; });
}

}  // namespace attnkit::cuda_core
