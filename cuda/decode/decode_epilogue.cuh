// The end of a decode row, shared by the one-split kernel and the split merge: add the
// learned sink once (SPEC 4), normalise, LSE, then SPEC 6's rectification and gate and one
// rounding to O's dtype. Each call writes one 8-column chunk of one (b, i, h) row.
#pragma once

#include <cstdint>

#include "cuda/attention/variants/gate.cuh"
#include "cuda/attention/variants/rectify.cuh"
#include "cuda/attention/variants/sink.cuh"
#include "cuda/core/math.cuh"
#include "cuda/core/vec_types.cuh"
#include "cuda/decode/decode_params.hpp"
#include "cuda/decode/decode_seq.cuh"

namespace attnkit::cuda_backend {

/// \brief Finalises columns [8 c, 8 c + 8) of row i, head h of sequence b from the
/// unnormalised sum `o` over the visible keys, its running max `m` (log2 units, -inf when
/// no key was seen) and sum `l` of exp2(s - m). The sink joins here, exactly once:
/// m' = max(m, sigma), L = l 2^(m - m') + 2^(sigma - m'). Empty rows give o = 0 and
/// LSE = -inf (sigma with a sink), never NaN. Chunk 0 also writes the LSE.
template <bool kIsBf16>
__device__ __forceinline__ void write_final_chunk(const DecodeParams& p, const DecodeSeq& seq, int b, int i, int h,
                                                  int c, const float (&o)[8], float m, float l) {
  using Pair = typename cuda_core::Half16<kIsBf16>::Pair;
  using Elem = typename cuda_core::Half16<kIsBf16>::Scalar;
  const FwdParams& f = p.fwd;
  const LearnedSink sink(f, h);
  const float m_final = fmaxf(m, sink.logit_log2);
  const float m_use = m_final == cuda_core::neg_inf() ? 0.0f : m_final;  // no key and no sink: keep exp2 finite
  const float keys_scale = cuda_core::exp2_approx(m - m_use);
  const float total = l * keys_scale + cuda_core::exp2_approx(sink.logit_log2 - m_use);
  const float out_scale = total > 0.0f ? keys_scale / total : 0.0f;
  if (c == 0 && f.maybe_lse != nullptr) {
    f.maybe_lse[b * f.lse_batch_stride + h * f.lse_head_stride + (seq.q_row_start + i) * f.lse_row_stride] =
        total > 0.0f ? (m_use + log2f(total)) * cuda_core::kLn2 : cuda_core::neg_inf();
  }
  const Rectify rectify(f, b, h, i);
  const OutputGate<kIsBf16> gate(f, f.maybe_gate != nullptr ? seq.q_offset(f.gate_stride, b, i, h) : 0);
  alignas(16) Pair out[4];  // stored as one uint4
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const int col = 8 * c + 2 * e;
    const float v0 = gate.apply(col, rectify.apply(col, o[2 * e] * out_scale));
    const float v1 = gate.apply(col + 1, rectify.apply(col + 1, o[2 * e + 1] * out_scale));
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

/// \brief Stores one split's unnormalised chunk and, from chunk 0, its (m, l).
template <int kHeadDim>
__device__ __forceinline__ void write_partial_chunk(const DecodeParams& p, int split, int b, int i, int h, int c,
                                                    const float (&o)[8], float m, float l) {
  const int64_t slot = partial_slot(p, split, b, i, h);
  float4* dst = reinterpret_cast<float4*>(p.maybe_partial_o + slot * kHeadDim + 8 * c);
  dst[0] = make_float4(o[0], o[1], o[2], o[3]);
  dst[1] = make_float4(o[4], o[5], o[6], o[7]);
  if (c == 0) {
    p.maybe_partial_ml[2 * slot] = m;
    p.maybe_partial_ml[2 * slot + 1] = l;
  }
}

}  // namespace attnkit::cuda_backend
