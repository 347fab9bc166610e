// Tensor Memory Accelerator loads (cp.async.bulk.tensor), sm_90: one thread copies a box of
// a tensor described by a CUtensorMap (cuda/core/tensor_map.hpp encodes it on the host)
// into shared memory, swizzled as the map says, and signals completion to an mbarrier
// (complete_tx of the box's bytes). Elements outside the tensor are filled with zeros.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief Loads the box at coordinates (c0 innermost .. c3) of the 4-d map `tensor_map` (the
/// address of a __grid_constant__ kernel parameter) into `smem` and completes its bytes on
/// `bar`.
__device__ __forceinline__ void tma_load_4d(uint32_t smem, const void* tensor_map, uint32_t bar, int c0, int c1,
                                            int c2, int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(smem),
      "l"(reinterpret_cast<uint64_t>(tensor_map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}

/// \brief Brings a tensor map into the descriptor cache ahead of its first use.
__device__ __forceinline__ void tma_prefetch_descriptor(const void* tensor_map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tensor_map)) : "memory");
}

}  // namespace attnkit::cuda_core
