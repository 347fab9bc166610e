// The two passes behind every statistics-based GPU path (SPEC 7; attention_stats, ACT,
// SparseD): the LSE pass and the statistics pass, on CUDA cores with float accumulation.
// The LSE comes from a dedicated pass rather than a forward call: it needs no O scratch,
// skips P.V, and takes a key range (SparseD's generation pass restricts the softmax to keys
// j >= g, which the forward kernel cannot express). Both passes recompute logits tile by
// tile; the attention matrix is never stored. Launched by stats_kernel_launch.cu.
#pragma once

#include "cuda/core/smem_access.cuh"
#include "cuda/stats/stats_device.cuh"
#include "cuda/stats/stats_params.hpp"

namespace attnkit::cuda_backend {

// ---------------------------------------------------------------------------------------
// LSE pass: one CTA per (64 query rows, h, b). Thread (r, g) = (tid % 64, tid / 64) keeps an
// online (max, sum) of row r over keys g, g + 4, ... of every staged chunk; the four
// partial states are merged with the learned sink at the end.
// ---------------------------------------------------------------------------------------
template <bool kIsBf16>
__global__ void __launch_bounds__(kStatsThreads) lse_kernel(const FwdParams p, int d, int restrict_from) {
  const int b = blockIdx.z, h = blockIdx.y, m0 = blockIdx.x * kLseRows;
  const BlockInfo info(p, b);
  if (m0 >= info.seqlen_q) return;
  LseSmem& s = *reinterpret_cast<LseSmem*>(stats_shared_memory());
  float* s_qt = reinterpret_cast<float*>(&s + 1);  // (d, kLseRows): transposed, lanes read consecutive rows
  float* s_k = s_qt + d * kLseRows;                 // (kKeyChunk, d): one key per thread group, broadcast
  const int tid = threadIdx.x, r = tid % kLseRows, grp = tid / kLseRows;
  const int kvh = h / p.group;
  const int m_last = min(m0 + kLseRows, info.seqlen_q) - 1;
  for (int e = tid; e < kLseRows * d; e += kStatsThreads) {
    const int row = e / d, x = e % d, i = m0 + row;
    cuda_core::st_shared(&s_qt[x * kLseRows + row],
                         i <= m_last ? load_half<kIsBf16>(p.q, info.q_offset(p.q_stride, b, i, h) + x) : 0.0f);
  }
  const AttentionVariant variant(p, h, info.seqlen_q, info.seqlen_k);
  const BlockMaskRow mask = p.maybe_kv_count != nullptr ? AttentionVariant::mask_row(p, b, h, m0 / p.mask_block_q)
                                                        : BlockMaskRow();
  const int i = m0 + r;
  SoftmaxState state;  // this thread group's keys of row i (log2 units)
  for_each_key_range(variant, mask, m0, m_last, restrict_from, [&](int a, int e) {
    for (int j0 = a; j0 < e; j0 += kKeyChunk) {
      __syncthreads();
      for (int idx = tid; idx < kKeyChunk * d; idx += kStatsThreads) {
        const int jj = idx / d, x = idx % d, j = j0 + jj;
        cuda_core::st_shared(&s_k[idx], j < e ? load_half<kIsBf16>(p.k, info.k_offset(p.k_stride, b, j, kvh) + x) : 0.0f);
      }
      __syncthreads();
      for (int jj = grp; jj < kKeyChunk; jj += kStatsGroups) {
        const int j = j0 + jj;
        if (j >= e || i > m_last || !variant.visible(i, j)) continue;
        float dot = 0.0f;
        for (int x = 0; x < d; ++x) dot += cuda_core::ld_shared(&s_qt[x * kLseRows + r]) * cuda_core::ld_shared(&s_k[jj * d + x]);
        state.update(variant.logit(dot, j));
      }
    }
  });
  cuda_core::st_shared(&s.m[grp][r], state.m);
  cuda_core::st_shared(&s.l[grp][r], state.l);
  __syncthreads();
  if (grp != 0 || i > m_last) return;
  SoftmaxState all;  // the groups' states merged, in a fixed order; the sink joins once
  for (int g = 0; g < kStatsGroups; ++g) {
    all.merge(SoftmaxState{cuda_core::ld_shared(&s.m[g][r]), cuda_core::ld_shared(&s.l[g][r])});
  }
  p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride + (info.q_row_start + i) * p.lse_row_stride] =
      variant.finalize(all).lse;
}

// ---------------------------------------------------------------------------------------
// Statistics pass: one CTA per (64 keys, h, b) walks every query row that may see its
// keys, 16 rows at a time. Thread (key, group) = (tid % 64, tid / 64) handles rows group,
// group + 4, ... of each chunk; a CTA owns its columns, so they need no atomics.
// ---------------------------------------------------------------------------------------
template <bool kIsBf16>
__global__ void __launch_bounds__(kStatsThreads) stats_kernel(const FwdParams p, const StatsArgs a) {
  const int b = blockIdx.z, h = blockIdx.y, j0 = blockIdx.x * kTileKeys;
  const BlockInfo info(p, b);
  if (j0 >= info.seqlen_k) return;  // no key of this sequence: its workspace columns are unused
  const int d = a.d;
  StatsSmem& s = *reinterpret_cast<StatsSmem*>(stats_shared_memory());
  float* s_kt = reinterpret_cast<float*>(&s + 1);  // (d, kTileKeys): transposed, lanes read consecutive keys
  float* s_q = s_kt + d * kTileKeys;                // (kRowChunk, d): one row per thread group, broadcast
  const int tid = threadIdx.x, jj = tid % kTileKeys, grp = tid / kTileKeys;
  const int kvh = h / p.group;
  const int j = j0 + jj;
  const int j_last = min(j0 + kTileKeys, info.seqlen_k) - 1;
  for (int e = tid; e < kTileKeys * d; e += kStatsThreads) {
    const int key = e / d, x = e % d, jk = j0 + key;
    cuda_core::st_shared(&s_kt[x * kTileKeys + key],
                         jk <= j_last ? load_half<kIsBf16>(p.k, info.k_offset(p.k_stride, b, jk, kvh) + x) : 0.0f);
  }
  const AttentionVariant variant(p, h, info.seqlen_q, info.seqlen_k);
  const VisibilityMask& vis = variant.visibility;

  // Rows that may see a key of the tile (SPEC 2): causal / window_right bound them below,
  // window_left above (unless the tile holds sink tokens).
  int i_lo = 0, i_hi = info.seqlen_q;
  if (p.causal || p.window_right >= 0) {
    const int reach = p.causal ? (p.window_right >= 0 ? min(0, p.window_right) : 0) : p.window_right;
    i_lo = max(0, j0 - reach - vis.offset);
  }
  if (p.window_left >= 0 && j0 >= p.sink_tokens) i_hi = min(i_hi, j_last + p.window_left - vis.offset + 1);
  if (j_last < a.restrict_from) i_hi = 0;
  i_lo = i_lo / kRowChunk * kRowChunk;  // chunks never straddle a mask query block (64 or 128)

  const int64_t head = static_cast<int64_t>(b) * p.hq + h;
  float colsum = 0.0f;
  int colcount = 0;
  int cur_qb = -1;
  float mass = 0.0f;
  auto flush = [&]() {
    if (a.block_mass != nullptr && cur_qb >= 0 && mass != 0.0f) {
      atomicAdd(a.block_mass + (head * a.nqb + cur_qb) * a.nkb + j / a.block_k, mass);
    }
  };
  int mask_qb = -1;
  bool listed = true;
  for (int c0 = i_lo; c0 < i_hi; c0 += kRowChunk) {
    if (p.maybe_kv_count != nullptr && c0 / p.mask_block_q != mask_qb) {
      mask_qb = c0 / p.mask_block_q;
      listed = AttentionVariant::mask_row(p, b, h, mask_qb).lists(j0 / p.mask_block_k);
    }
    if (!listed) continue;
    __syncthreads();
    for (int e = tid; e < kRowChunk * d; e += kStatsThreads) {
      const int row = e / d, x = e % d, i = c0 + row;
      cuda_core::st_shared(&s_q[e], i < i_hi ? load_half<kIsBf16>(p.q, info.q_offset(p.q_stride, b, i, h) + x) : 0.0f);
    }
    if (tid < kRowChunk && c0 + tid < i_hi) {
      cuda_core::st_shared(&s.lse[tid], to_log2(p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride +
                                       (info.q_row_start + c0 + tid) * p.lse_row_stride]));  // log2 units
    }
    __syncthreads();
    for (int rr = grp; rr < kRowChunk; rr += kStatsGroups) {
      const int i = c0 + rr;
      if (i >= i_hi || j > j_last || j < a.restrict_from || !variant.visible(i, j)) continue;
      float dot = 0.0f;
      for (int x = 0; x < d; ++x) dot += cuda_core::ld_shared(&s_q[rr * d + x]) * cuda_core::ld_shared(&s_kt[x * kTileKeys + jj]);
      const float lse = cuda_core::ld_shared(&s.lse[rr]);
      // A visible key with a -inf logit is still seen (p = 0); a row without keys has p = 0.
      const float pij = lse == -INFINITY ? 0.0f : cuda_core::exp2_approx(variant.logit(dot, j) - lse);
      colsum += pij;
      ++colcount;
      if (a.block_mass != nullptr) {
        const int qb = i / a.block_q;
        if (qb != cur_qb) {
          flush();
          cur_qb = qb;
          mass = 0.0f;
        }
        mass += pij;
      }
    }
  }
  flush();
  cuda_core::st_shared(&s.sum[grp][jj], colsum);
  cuda_core::st_shared(&s.count[grp][jj], colcount);
  __syncthreads();
  if (grp != 0 || j > j_last) return;
  float sum = 0.0f;
  int cnt = 0;
  for (int g = 0; g < kStatsGroups; ++g) {  // fixed order: the columns are deterministic
    sum += cuda_core::ld_shared(&s.sum[g][jj]);
    cnt += cuda_core::ld_shared(&s.count[g][jj]);
  }
  if (a.col_sum != nullptr) a.col_sum[head * a.max_sk + j] = sum;
  if (a.col_count != nullptr) a.col_count[head * a.max_sk + j] = cnt;
}

}  // namespace attnkit::cuda_backend
