// Argument blocks, thread counts and shared memory layouts of the statistics and ACT
// kernels (SPEC 7): what the host logic (stats_pass.cu, stats_outputs.cu, act.cu) fills in,
// the launch functions (stats_kernel_launch.hpp) pass on and the kernels (*.cuh) read.
// Plain C++, so that the host logic and the CPU emulation (tests/emulation) see exactly
// the layouts the kernels use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/variant/fwd_params.hpp"
#include "cuda/core/block_scan.cuh"

namespace attnkit::cuda_backend {

// ---- LSE and statistics passes (stats_kernels.cuh) ------------------------------------
inline constexpr int kStatsThreads = 256;
inline constexpr int kLseRows = 64;   // query rows per CTA of the LSE pass (one mask query block)
inline constexpr int kKeyChunk = 16;  // keys staged in shared memory per LSE step
inline constexpr int kTileKeys = 64;  // keys per CTA of the statistics pass (one mask key block)
inline constexpr int kRowChunk = 16;  // query rows staged per statistics step
inline constexpr int kStatsGroups = kStatsThreads / 64;  // thread groups splitting keys (LSE) or rows (stats)
static_assert(kLseRows == 64 && kTileKeys == 64, "threads map to (row | key) = tid % 64");

/// Shared memory of one LSE-pass CTA: the per-group partial softmax states, followed by the
/// (d, kLseRows) transposed Q tile and the (kKeyChunk, d) staged keys, float.
struct LseSmem {
  float m[kStatsGroups][kLseRows];
  float l[kStatsGroups][kLseRows];
};

/// Shared memory of one statistics-pass CTA: the staged rows' LSE and the per-group column
/// partials, followed by the (d, kTileKeys) transposed key tile and the (kRowChunk, d)
/// staged query rows, float.
struct StatsSmem {
  float lse[kRowChunk];
  float sum[kStatsGroups][kTileKeys];
  int count[kStatsGroups][kTileKeys];
};
static_assert(sizeof(LseSmem) % 16 == 0 && sizeof(StatsSmem) % 16 == 0, "the float tiles after them stay aligned");

/// \brief Dynamic shared memory of the LSE pass for head dim d.
inline size_t lse_smem_bytes(int64_t d) {
  return sizeof(LseSmem) + static_cast<size_t>((kLseRows + kKeyChunk) * d) * sizeof(float);
}

/// \brief Dynamic shared memory of the statistics pass for head dim d.
inline size_t stats_smem_bytes(int64_t d) {
  return sizeof(StatsSmem) + static_cast<size_t>((kTileKeys + kRowChunk) * d) * sizeof(float);
}

/// What one statistics pass writes (workspaces, contiguous float32 / int32).
struct StatsArgs {
  int d;
  int restrict_from;
  int max_sk;
  float* col_sum;
  int32_t* col_count;
  int block_q, block_k, nqb, nkb;
  float* block_mass;
};

// ---- Output writers of attention_stats (stats_output_kernels.cuh) ---------------------
inline constexpr int kOutputThreads = 256;

/// One optional strided output: batched [B, Hq, X] / varlen [Hq, total] or [B, Hq, NQB, NKB].
struct OutView {
  void* maybe_data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
};

struct ColumnArgs {
  OutView sum, count, mean;
  const float* ws_sum;
  const int32_t* ws_count;
  int max_sk;
  bool varlen;
};

struct BlockArgs {
  OutView mass, mean;
  const float* ws_mass;
  int block_q, block_k, nqb, nkb;
};

// ---- ACT (act_kernels.cuh) --------------------------------------------------------------
inline constexpr int kDetectThreads = 256;
inline constexpr int kCalibrateWarps = 8;  // query rows per CTA of the calibration kernel

/// Shared memory of one detect CTA: the scratch of its block scans and reductions.
struct DetectSmem {
  cuda_core::BlockScanScratch<kDetectThreads> scan;
};

struct DetectArgs {
  const float* col_sum;  // [B, Hq, max_sk]
  const int32_t* col_count;
  int max_sk;
  float theta;
  bool keep_first_sink;
  int max_sinks;
  const uint8_t* maybe_head_mask;
  int64_t head_mask_stride;
  int32_t* count;  // [B, Hq]
  int64_t count_stride[2];
  int32_t* index;  // [B, Hq, K]
  int64_t index_stride[3];
  int index_k;
};

struct CalibrateArgs {
  float beta;
  const uint8_t* maybe_head_mask;
  int64_t head_mask_stride;
  const int32_t* count;  // [B, Hq]
  int64_t count_stride[2];
  const int32_t* index;  // [B, Hq, K]
  int64_t index_stride[3];
  int index_k;
  int d, dv;
  // The forward's O before any rounding (act.cu's scratch), float32, batched [B, Sq, Hq, Dv]
  // or varlen [total_q, Hq, Dv]; the kernel writes the calibrated rows to p.o in Q's dtype.
  const float* o_float;
  RowStrides o_float_stride;
};

}  // namespace attnkit::cuda_backend
