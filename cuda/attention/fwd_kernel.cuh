// The forward kernel (FlashAttention-2 style, mma.sync m16n8k16, sm_80+). One CTA owns
// kBlockM query rows of one (sequence, head); each warp owns 16 of them. Q stays in
// shared memory; K and V tiles stream through one shared buffer each with cp.async, the
// copy of V[n] overlapping Q * K[n]^T and the copy of K[n+1] overlapping softmax and
// P * V[n] (FA2's schedule: two tiles in flight with 3 tiles of shared memory).
#pragma once

#include <cstdint>

#include "cuda/attention/epilogue.cuh"
#include "cuda/attention/kernel_traits.cuh"
#include "cuda/attention/mainloop.cuh"
#include "cuda/core/cp_async.cuh"
#include "cuda/core/fp8_tile.cuh"
#include "cuda/core/math.cuh"
#include "cuda/core/vec_types.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/block_info.cuh"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/key_tiles.cuh"
#include "cuda/variant/online_softmax.cuh"
#include "cuda/variant/score_tile.cuh"

namespace attnkit::cuda_backend {

/// \brief Grid (ceil(max Sq / kBlockM), Hq, B), kNumThreads threads, Traits::kSmemBytes of
/// dynamic shared memory.
template <class Traits>
__global__ void __launch_bounds__(Traits::kNumThreads, Traits::kMinCtasPerSm) fwd_kernel(const __grid_constant__ FwdParams p) {
  using Elem = typename cuda_core::Half16<Traits::kIsBf16>::Scalar;
  constexpr int kBlockM = Traits::kBlockM;
  constexpr int kBlockN = Traits::kBlockN;

  extern __shared__ uint4 smem_buffer[];  // uint4: 16-byte aligned for cp.async / ldmatrix
  Elem* s_q = reinterpret_cast<Elem*>(smem_buffer);  // (kBlockM, kHeadDim), swizzled
  Elem* s_k = s_q + Traits::kSmemQElems;              // (kBlockN, kHeadDim), swizzled
  Elem* s_v = s_k + Traits::kSmemKVElems;             // (kBlockN, kHeadDim), swizzled
  uint8_t* s_k8 = reinterpret_cast<uint8_t*>(s_v + Traits::kSmemKVElems);  // FP8 cache: (kBlockN, kHeadDim) raw
  uint8_t* s_v8 = s_k8 + Traits::kSmemFp8Bytes / 2;                          // FP8 cache: (kBlockN, kHeadDim) raw

  // Causal CTAs of the last query blocks do the most work: launch them first.
  const int m_block = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const BlockInfo info(p, b);
  const int m0 = m_block * kBlockM;
  if (m0 >= info.seqlen_q) return;  // varlen: this sequence is shorter than the longest
  const int m_last = min(m0 + kBlockM, info.seqlen_q) - 1;
  const int kv_head = h / p.group;
  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;

  const AttentionVariant variant(p, h, info.seqlen_q, info.seqlen_k);
  KvTileSchedule<kBlockN> schedule(p, variant.visibility, b, h, m0, m_last);

  const Elem* g_q = static_cast<const Elem*>(p.q) + info.q_offset(p.q_stride, b, m0, h);

  OnlineSoftmax<Traits::kNTilesS, Traits::kNTilesO> softmax;
  float acc_o[Traits::kNTilesO][4];
#pragma unroll
  for (int nt = 0; nt < Traits::kNTilesO; ++nt) {
    acc_o[nt][0] = acc_o[nt][1] = acc_o[nt][2] = acc_o[nt][3] = 0.0f;
  }

  // Warp w's (16, kBlockN) logits of kv tile n0 / kBlockN: S = Q K^T from shared memory, then
  // the variant's logit hook (cuda/variant/score_tile.cuh).
  auto scores = [&](int n0, float (&s)[Traits::kNTilesS][4]) {
    gemm_qk<Traits>(s, s_q, s_k, warp, lane);
    score_tile<kBlockN>(variant, s, m0, m_last, n0, m0 + warp * 16 + lane / 4, n0 + 2 * (lane % 4));
  };

  int tile = schedule.next();
  if constexpr (!Traits::kKvFp8) {
    const Elem* g_k = static_cast<const Elem*>(p.k) + info.k_offset(p.k_stride, b, 0, kv_head);
    const Elem* g_v = static_cast<const Elem*>(p.v) + info.k_offset(p.v_stride, b, 0, kv_head);
    if (tile >= 0) {
      load_tile<Traits, kBlockM>(s_q, g_q, p.q_stride.row, info.seqlen_q - m0, tid);
      load_tile<Traits, kBlockN>(s_k, g_k + tile * kBlockN * p.k_stride.row, p.k_stride.row,
                                 info.seqlen_k - tile * kBlockN, tid);
      cuda_core::cp_async_commit();
    }
    while (tile >= 0) {
      const int next = schedule.next();
      const int n0 = tile * kBlockN;
      cuda_core::cp_async_wait<0>();  // K[tile] (and Q) have landed ...
      __syncthreads();                // ... for every thread, and nobody still reads s_v
      load_tile<Traits, kBlockN>(s_v, g_v + n0 * p.v_stride.row, p.v_stride.row, info.seqlen_k - n0, tid);
      cuda_core::cp_async_commit();

      float s[Traits::kNTilesS][4];  // (16, kBlockN) logits of this warp
      scores(n0, s);

      cuda_core::cp_async_wait<0>();  // V[tile] has landed ...
      __syncthreads();                // ... and every warp is done reading s_k
      if (next >= 0) {
        load_tile<Traits, kBlockN>(s_k, g_k + next * kBlockN * p.k_stride.row, p.k_stride.row,
                                   info.seqlen_k - next * kBlockN, tid);
        cuda_core::cp_async_commit();
      }

      softmax.update(s, acc_o);
      gemm_pv<Traits>(acc_o, s, s_v, lane);
      tile = next;
    }
  } else {
    // FP8 cache: tile n's raw K and V bytes are staged while tile n - 1 computes, then
    // converted exactly into the 16-bit tiles (scales: the variant's logits and output).
    const uint8_t* g_k8 = static_cast<const uint8_t*>(p.k) + info.k_offset(p.k_stride, b, 0, kv_head);
    const uint8_t* g_v8 = static_cast<const uint8_t*>(p.v) + info.k_offset(p.v_stride, b, 0, kv_head);
    auto stage = [&](int t) {
      load_fp8_tile<Traits, kBlockN>(s_k8, g_k8 + t * kBlockN * p.k_stride.row, p.k_stride.row,
                                     info.seqlen_k - t * kBlockN, tid);
      load_fp8_tile<Traits, kBlockN>(s_v8, g_v8 + t * kBlockN * p.v_stride.row, p.v_stride.row,
                                     info.seqlen_k - t * kBlockN, tid);
    };
    if (tile >= 0) {
      load_tile<Traits, kBlockM>(s_q, g_q, p.q_stride.row, info.seqlen_q - m0, tid);
      stage(tile);
      cuda_core::cp_async_commit();
    }
    while (tile >= 0) {
      const int next = schedule.next();
      cuda_core::cp_async_wait<0>();  // the staged tile (and Q) have landed ...
      __syncthreads();                // ... for every thread, and every warp is done with the last tile
      cuda_core::convert_fp8_tile<kBlockN, Traits::kHeadDim, Traits::kNumThreads, Traits::kIsBf16>(s_k, s_k8, p.kv_e5m2, tid);
      cuda_core::convert_fp8_tile<kBlockN, Traits::kHeadDim, Traits::kNumThreads, Traits::kIsBf16>(s_v, s_v8, p.kv_e5m2, tid);
      __syncthreads();  // the 16-bit tiles are complete, and the staging buffers are free
      if (next >= 0) {
        stage(next);  // overlaps this tile's compute
        cuda_core::cp_async_commit();
      }
      float s[Traits::kNTilesS][4];
      scores(tile * kBlockN, s);
      softmax.update(s, acc_o);
      gemm_pv<Traits>(acc_o, s, s_v, lane);
      tile = next;
    }
  }

  const RowFinal rows[2] = {variant.finalize(softmax.state(0)), variant.finalize(softmax.state(1))};
  write_output<Traits>(p, info, b, h, m0 + warp * 16, acc_o, rows);
}

}  // namespace attnkit::cuda_backend
