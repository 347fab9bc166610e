// merge_states on the GPU: (O_i, LSE_i) of one query set over disjoint key sets -> (O, LSE)
// of the union, plus the learned sink once and the output gate (docs/api.md, "Merging
// attention states"). CUDA cores, no shared memory: the work is one pass over the parts'
// O rows, so the kernel is bound by memory and each lane streams 16-byte chunks.
//
// Layout: a group of lanes_per_pair lanes per (row, head) pair, pairs in head-fastest order
// so that a warp's groups cover neighbouring heads of one row (contiguous in O). Every lane
// of a group computes the row's max and sum itself from the LSEs (cached loads), then
// combines its own chunks of 8 columns. The softmax is in natural units rather than the
// base-2 state of cuda/variant/online_softmax.cuh: the parts arrive as natural-log LSEs, and
// keeping them so makes the merged max exactly one of the inputs (no log2e round trip), so
// merging one part returns its LSE bit for bit and a sink-only row returns sigma exactly,
// even for |sigma| near FLT_MAX.
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda/core/vec_types.cuh"
#include "cuda/merge/merge_params.hpp"
#include "cuda/variant/output_transform.cuh"

namespace attnkit::cuda_backend {

/// \brief Element offset of (b, s, h) through (batch, row, head) strides.
__device__ __forceinline__ int64_t merge_offset(const RowStrides& st, int64_t b, int64_t s, int64_t h) {
  return b * st.batch + s * st.row + h * st.head;
}

/// \brief The 16 bits of x rounded to fp16 / bf16 (round to nearest even).
template <bool kIsBf16>
__device__ __forceinline__ uint16_t float_to_half_bits(float x) {
  typename cuda_core::Half16<kIsBf16>::Scalar h = cuda_core::Half16<kIsBf16>::from_float(x);
  return *reinterpret_cast<uint16_t*>(&h);
}

/// \brief Columns [0, cols) of one chunk (cols <= kMergeChunk) of `dtype` elements at
/// base + offset, as float; a full chunk of a 16-byte aligned view loads as one uint4
/// (fp16 / bf16) or two float4 (fp32). Columns past `cols` read as 0.
__device__ __forceinline__ void load_chunk(float (&x)[kMergeChunk], const void* base, DType dtype, bool vec,
                                           int64_t offset, int cols) {
  const bool full = vec && cols == kMergeChunk;
  if (dtype == DType::kFloat32) {
    const float* p = static_cast<const float*>(base) + offset;
    if (full) {
      const float4 lo = reinterpret_cast<const float4*>(p)[0];
      const float4 hi = reinterpret_cast<const float4*>(p)[1];
      x[0] = lo.x, x[1] = lo.y, x[2] = lo.z, x[3] = lo.w;
      x[4] = hi.x, x[5] = hi.y, x[6] = hi.z, x[7] = hi.w;
      return;
    }
#pragma unroll
    for (int c = 0; c < kMergeChunk; ++c) x[c] = c < cols ? p[c] : 0.0f;
    return;
  }
  const uint16_t* p = static_cast<const uint16_t*>(base) + offset;
  uint16_t bits[kMergeChunk];
  if (full) {
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {  // little endian: the lower address is the low half
      bits[2 * w] = static_cast<uint16_t>(words[w] & 0xffffu);
      bits[2 * w + 1] = static_cast<uint16_t>(words[w] >> 16);
    }
  } else {
#pragma unroll
    for (int c = 0; c < kMergeChunk; ++c) bits[c] = c < cols ? p[c] : uint16_t{0};
  }
  const bool bf16 = dtype == DType::kBFloat16;
#pragma unroll
  for (int c = 0; c < kMergeChunk; ++c) {
    x[c] = bf16 ? cuda_core::half_bits_to_float<true>(bits[c]) : cuda_core::half_bits_to_float<false>(bits[c]);
  }
}

/// \brief Rounds columns [0, cols) of x once to `dtype` and stores them at base + offset
/// (one 16-byte store for a full chunk of an aligned view).
__device__ __forceinline__ void store_chunk(void* base, DType dtype, bool vec, int64_t offset, int cols,
                                            const float (&x)[kMergeChunk]) {
  const bool full = vec && cols == kMergeChunk;
  if (dtype == DType::kFloat32) {
    float* p = static_cast<float*>(base) + offset;
    if (full) {
      reinterpret_cast<float4*>(p)[0] = make_float4(x[0], x[1], x[2], x[3]);
      reinterpret_cast<float4*>(p)[1] = make_float4(x[4], x[5], x[6], x[7]);
      return;
    }
#pragma unroll
    for (int c = 0; c < kMergeChunk; ++c) {
      if (c < cols) p[c] = x[c];
    }
    return;
  }
  const bool bf16 = dtype == DType::kBFloat16;
  uint16_t bits[kMergeChunk];
#pragma unroll
  for (int c = 0; c < kMergeChunk; ++c) bits[c] = bf16 ? float_to_half_bits<true>(x[c]) : float_to_half_bits<false>(x[c]);
  uint16_t* p = static_cast<uint16_t*>(base) + offset;
  if (full) {
    uint32_t words[4];
#pragma unroll
    for (int w = 0; w < 4; ++w) words[w] = static_cast<uint32_t>(bits[2 * w]) | (static_cast<uint32_t>(bits[2 * w + 1]) << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
    return;
  }
#pragma unroll
  for (int c = 0; c < kMergeChunk; ++c) {
    if (c < cols) p[c] = bits[c];
  }
}

/// The merged softmax of one (row, head): m >= every term (max of the finite-or-NaN part
/// LSEs and sigma), inv_z = 1 / Z (0 when every term is -inf) and the natural-log LSE.
struct MergedRow {
  float m;
  float inv_z;
  float lse;
};

/// \brief One pass over the parts' LSEs with sigma as the first term: the running sum z is
/// kept relative to the running max m, so no exp ever sees a positive argument (a sink of
/// 3.4e38 included) and a part at -inf is skipped. A NaN LSE loses every comparison and
/// reaches z through its exp, so NaN inputs give NaN rows (never a silent 0).
template <int kCapacity>
__device__ __forceinline__ MergedRow merge_row_softmax(const MergeArgs<kCapacity>& a, int64_t b, int64_t s, int64_t h) {
  const float sigma = a.maybe_sink != nullptr ? a.maybe_sink[h * a.sink_stride] : -INFINITY;
  float m = sigma;
  float z = sigma == -INFINITY ? 0.0f : 1.0f;
  for (int i = 0; i < a.num_parts; ++i) {
    const MergePart& part = a.parts[i];
    const float x = part.lse[merge_offset(part.lse_stride, b, s, h)];
    if (x == -INFINITY) continue;
    if (x > m) {
      z = z * expf(m - x) + 1.0f;  // m = -inf (nothing yet): expf(-inf) = 0
      m = x;
    } else {
      z += expf(x - m);
    }
  }
  MergedRow r;
  r.m = m;
  r.inv_z = z == 0.0f ? 0.0f : 1.0f / z;
  r.lse = z == 0.0f ? -INFINITY : m + logf(z);
  return r;
}

/// \brief Combines this lane's chunks of (b, s, h): O = sum_i exp(LSE_i - m) / Z * O_i, the
/// gate, one rounding. Each chunk of every part is read before the same chunk of O is
/// written, by this lane alone, so O may be exactly one part's view.
template <int kCapacity, bool kGateBf16>
__device__ __forceinline__ void merge_row_output(const MergeArgs<kCapacity>& a, const FwdParams& gate_params,
                                                 const MergedRow& r, int64_t b, int64_t s, int64_t h,
                                                 int lane_in_pair) {
  const int64_t gate_row = gate_params.maybe_gate != nullptr ? merge_offset(gate_params.gate_stride, b, s, h) : 0;
  const OutputGate<kGateBf16> gate(gate_params, gate_row);
  const int64_t o_row = merge_offset(a.o_stride, b, s, h);
  for (int c0 = lane_in_pair * kMergeChunk; c0 < a.dv; c0 += a.lanes_per_pair * kMergeChunk) {
    const int cols = a.dv - c0 < kMergeChunk ? a.dv - c0 : kMergeChunk;
    float acc[kMergeChunk] = {};
    for (int i = 0; i < a.num_parts; ++i) {
      const MergePart& part = a.parts[i];
      const float x = part.lse[merge_offset(part.lse_stride, b, s, h)];
      if (x == -INFINITY) continue;  // contributes nothing; its O is never read
      const float w = expf(x - r.m) * r.inv_z;
      float v[kMergeChunk];
      load_chunk(v, part.o, part.dtype, part.vec, merge_offset(part.o_stride, b, s, h) + c0, cols);
#pragma unroll
      for (int c = 0; c < kMergeChunk; ++c) acc[c] += w * v[c];
    }
#pragma unroll
    for (int c = 0; c < kMergeChunk; ++c) {
      if (c < cols) acc[c] = gate.apply(c0 + c, acc[c]);  // an elementwise gate has Dv columns only
    }
    store_chunk(a.o, a.o_dtype, a.o_vec, o_row + c0, cols, acc);
  }
}

/// Grid-stride over (row, head) pairs, 32 / lanes_per_pair per warp and step. The loop
/// bounds are uniform over a warp, so every lane reaches the __syncwarp that separates the
/// reads of the part LSEs from the write of the merged LSE (lse may be exactly the view
/// lse_parts[k], and every lane of a group reads it).
template <int kCapacity, bool kGateBf16>
__global__ void __launch_bounds__(kMergeThreads)
    merge_states_kernel(const __grid_constant__ MergeArgs<kCapacity> a, const __grid_constant__ FwdParams gate) {
  constexpr int kWarps = kMergeThreads / kMergeWarpSize;
  const int lane = threadIdx.x % kMergeWarpSize;
  const int pairs_per_warp = kMergeWarpSize / a.lanes_per_pair;
  const int lane_in_pair = lane % a.lanes_per_pair;
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kMergeWarpSize;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kWarps * pairs_per_warp;
  const int64_t pairs = a.batch * a.seqlen * a.heads;
  for (int64_t first = warp * pairs_per_warp; first < pairs; first += step) {
    const int64_t pair = first + lane / a.lanes_per_pair;
    const bool active = pair < pairs;
    const int64_t row = active ? pair / a.heads : 0;
    const int64_t h = active ? pair % a.heads : 0;
    const int64_t b = row / a.seqlen, s = row % a.seqlen;
    MergedRow r{};
    if (active) {
      r = merge_row_softmax(a, b, s, h);
      merge_row_output<kCapacity, kGateBf16>(a, gate, r, b, s, h, lane_in_pair);
    }
    __syncwarp();
    if (active && lane_in_pair == 0 && a.maybe_lse != nullptr) a.maybe_lse[merge_offset(a.lse_stride, b, s, h)] = r.lse;
  }
}

}  // namespace attnkit::cuda_backend
