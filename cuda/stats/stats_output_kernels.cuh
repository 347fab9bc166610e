// The output writers of attention_stats (SPEC 7): from the statistics pass's contiguous
// float32 workspaces to each requested output through its strides (colmean = colsum /
// colcount, blockmean with the actual tail sizes, zeros for entries of no sequence), exactly
// as host/reference/stats.cpp defines them. Launched by stats_kernel_launch.cu.
#pragma once

#include "cuda/variant/block_info.cuh"
#include "cuda/stats/stats_params.hpp"

namespace attnkit::cuda_backend {

__device__ __forceinline__ void store_column(const ColumnArgs& a, int64_t off_sum, int64_t off_count,
                                             int64_t off_mean, float sum, int count) {
  if (a.sum.maybe_data) static_cast<float*>(a.sum.maybe_data)[off_sum] = sum;
  if (a.count.maybe_data) static_cast<int32_t*>(a.count.maybe_data)[off_count] = count;
  if (a.mean.maybe_data) {
    static_cast<float*>(a.mean.maybe_data)[off_mean] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
  }
}

__device__ __forceinline__ int64_t column_offset(const OutView& v, bool varlen, int b, int h, int64_t row) {
  return varlen ? h * v.stride[0] + row * v.stride[1] : b * v.stride[0] + h * v.stride[1] + row * v.stride[2];
}

/// Grid (key chunks, Hq, B): keys of sequence b.
__global__ void write_columns_kernel(const FwdParams p, const ColumnArgs a) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int j = blockIdx.x * kOutputThreads + threadIdx.x;
  const BlockInfo info(p, b);
  if (j >= info.seqlen_k) return;
  const int64_t ws = (static_cast<int64_t>(b) * p.hq + h) * a.max_sk + j;
  const int64_t row = a.varlen ? info.k_row_start + j : j;
  store_column(a, column_offset(a.sum, a.varlen, b, h, row), column_offset(a.count, a.varlen, b, h, row),
               column_offset(a.mean, a.varlen, b, h, row), a.ws_sum[ws], a.ws_count[ws]);
}

/// Grid (entry chunks, Hq, B) over [NQB, NKB]: entries past a shorter sequence's blocks are 0.
__global__ void write_blocks_kernel(const FwdParams p, const BlockArgs a) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kOutputThreads + threadIdx.x;
  if (e >= static_cast<int64_t>(a.nqb) * a.nkb) return;
  const int qb = static_cast<int>(e / a.nkb), kb = static_cast<int>(e % a.nkb);
  const BlockInfo info(p, b);
  const int rows = min(a.block_q, info.seqlen_q - qb * a.block_q);
  const int keys = min(a.block_k, info.seqlen_k - kb * a.block_k);
  const bool inside = rows > 0 && keys > 0;
  const float mass = inside ? a.ws_mass[(static_cast<int64_t>(b) * p.hq + h) * a.nqb * a.nkb + e] : 0.0f;
  if (a.mass.maybe_data) {
    static_cast<float*>(a.mass.maybe_data)[b * a.mass.stride[0] + h * a.mass.stride[1] + qb * a.mass.stride[2] +
                                           kb * a.mass.stride[3]] = mass;
  }
  if (a.mean.maybe_data) {
    const float mean = inside ? static_cast<float>(static_cast<double>(mass) /
                                                   (static_cast<double>(rows) * static_cast<double>(keys)))
                              : 0.0f;
    static_cast<float*>(a.mean.maybe_data)[b * a.mean.stride[0] + h * a.mean.stride[1] + qb * a.mean.stride[2] +
                                           kb * a.mean.stride[3]] = mean;
  }
}

}  // namespace attnkit::cuda_backend
