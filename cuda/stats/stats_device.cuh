// Device helpers shared by the statistics, ACT and planner kernels: their shared memory,
// 16-bit loads, and the key ranges a block of query rows may see. Logits, visibility,
// block masks, the sink and the output transforms are the device variant's
// (cuda/variant/attention_variant.cuh), as in the prefill and decode kernels.
#pragma once

#include <cstdint>

#include "cuda/core/vec_types.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/block_info.cuh"
#include "cuda/variant/block_mask_row.cuh"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief The dynamic shared memory of every statistics, ACT and planner kernel; each
/// kernel lays out its own struct (stats_params.hpp, planner_params.hpp) at the front.
/// Kernels declare no static __shared__ arrays: the CPU emulation (tests/emulation) backs
/// this one array with a buffer, where a static one would become a per-thread local.
__device__ __forceinline__ unsigned char* stats_shared_memory() {
  extern __shared__ __align__(16) unsigned char stats_smem[];
  return stats_smem;
}

/// \brief One element of Q/K/V (fp16 or bf16) as float.
template <bool kIsBf16>
__device__ __forceinline__ float load_half(const void* base, int64_t offset) {
  using Elem = typename cuda_core::Half16<kIsBf16>::Scalar;
  return cuda_core::Half16<kIsBf16>::to_float(static_cast<const Elem*>(base)[offset]);
}

/// \brief Calls fn(begin, end) for the key ranges rows [m0, m_last] may see among keys >=
/// key_lo: the variant's visible keys (at most two ranges: sink tokens, then the window) cut
/// by the used entries of the block-mask row `mask` (the caller guarantees the rows lie in
/// one mask query block). Uniform over a CTA.
template <class Fn>
__device__ void for_each_key_range(const AttentionVariant& variant, const BlockMaskRow& mask, int m0, int m_last,
                                   int key_lo, Fn&& fn) {
  const VisibleKeys keys = variant.keys(m0, m_last);
  const int r_begin[2] = {key_lo, keys.begin > key_lo ? keys.begin : key_lo};
  const int r_end[2] = {keys.sink_end, keys.end};
  for (int r = 0; r < 2; ++r) {
    if (r_begin[r] >= r_end[r]) continue;
    if (!mask.present()) {
      fn(r_begin[r], r_end[r]);
      continue;
    }
    BlockMaskRow row = mask;
    for (int kb = row.next_used(); kb >= 0; kb = row.next_used()) {
      const int a = kb * row.block_k > r_begin[r] ? kb * row.block_k : r_begin[r];
      const int e = (kb + 1) * row.block_k < r_end[r] ? (kb + 1) * row.block_k : r_end[r];
      if (a < e) fn(a, e);
    }
  }
}

}  // namespace attnkit::cuda_backend
