// The end of a decode row, shared by the one-split kernel and the split merge: add the
// learned sink once (SPEC 4), normalise, LSE, then SPEC 6's rectification and gate and one
// rounding to O's dtype. Each call writes one 8-column chunk of one (b, i, h) row.
#pragma once

#include <cstdint>

#include "cuda/core/math.cuh"
#include "cuda/core/vec_types.cuh"
#include "cuda/decode/decode_params.hpp"
#include "cuda/decode/decode_seq.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/online_softmax.cuh"

namespace attnkit::cuda_backend {

/// \brief Finalises columns [8 c, 8 c + 8) of row i, head h of sequence b from the
/// unnormalised sum `o` over the visible keys and their softmax state (m in log2 units, -inf
/// when no key was seen). The variant adds the sink here, exactly once, normalises and gives
/// the LSE (the same finalize as the prefill kernel's), then SPEC 6's transforms and one
/// rounding. Empty rows give o = 0 and LSE = -inf (sigma with a sink), never NaN. Chunk 0
/// also writes the LSE.
template <bool kIsBf16>
__device__ __forceinline__ void write_final_chunk(const DecodeParams& p, const DecodeSeq& seq, int b, int i, int h,
                                                  int c, const float (&o)[8], const SoftmaxState& keys) {
  using Pair = typename cuda_core::Half16<kIsBf16>::Pair;
  using Elem = typename cuda_core::Half16<kIsBf16>::Scalar;
  const FwdParams& f = p.fwd;
  const AttentionVariant variant(f, h, seq.seqlen_q, seq.seqlen_k);
  const RowFinal row = variant.finalize(keys);
  if (c == 0 && f.maybe_lse != nullptr) {
    f.maybe_lse[b * f.lse_batch_stride + h * f.lse_head_stride + (seq.q_row_start + i) * f.lse_row_stride] = row.lse;
  }
  const auto transform = AttentionVariant::output<kIsBf16>(f, b, h, i, seq.q_offset(f.gate_stride, b, i, h));
  alignas(16) Pair out[4];  // stored as one uint4
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const int col = 8 * c + 2 * e;
    const float v0 = transform.apply(col, o[2 * e] * row.out_scale);
    const float v1 = transform.apply(col + 1, o[2 * e + 1] * row.out_scale);
    out[e] = cuda_core::Half16<kIsBf16>::pair(v0, v1);
  }
  // O rows are 16-byte aligned (select_decode_kernel checks base and strides).
  Elem* dst = static_cast<Elem*>(f.o) + seq.q_offset(f.o_stride, b, i, h) + 8 * c;
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(out);
}

/// \brief Index of (split, b, i, h) in the split-KV workspace.
__device__ __forceinline__ int64_t partial_slot(const DecodeParams& p, int split, int b, int i, int h) {
  return ((static_cast<int64_t>(split) * p.fwd.batch + b) * p.max_seqlen_q + i) * p.fwd.hq + h;
}

/// \brief Stores one split's unnormalised chunk and, from chunk 0, its softmax state (m, l).
template <int kHeadDim>
__device__ __forceinline__ void write_partial_chunk(const DecodeParams& p, int split, int b, int i, int h, int c,
                                                    const float (&o)[8], const SoftmaxState& keys) {
  const int64_t slot = partial_slot(p, split, b, i, h);
  float4* dst = reinterpret_cast<float4*>(p.maybe_partial_o + slot * kHeadDim + 8 * c);
  dst[0] = make_float4(o[0], o[1], o[2], o[3]);
  dst[1] = make_float4(o[4], o[5], o[6], o[7]);
  if (c == 0) {
    p.maybe_partial_ml[2 * slot] = keys.m;
    p.maybe_partial_ml[2 * slot + 1] = keys.l;
  }
}

}  // namespace attnkit::cuda_backend
