// Tile shapes of the forward kernel. Tuning is data: one constexpr row per
// (arch class, head dim); the kernel, the launcher and select_kernel read only this table.
#pragma once

#include "cuda/core/smem_swizzle.cuh"

namespace attnkit::cuda_backend {

/// Kernel families. Only the mma.sync family exists today; it also runs on sm_90.
enum class ArchClass : int { kSm80 = 80 };

struct TileConfig {
  ArchClass arch;
  int head_dim;
  int block_m;          // query rows per CTA: 16 per warp
  int block_n;          // keys per main-loop step
  int warps;
  int min_ctas_per_sm;  // __launch_bounds__' second argument: caps registers at 64K / (CTAs x threads)
};

// Block masks: a CTA's rows must lie in one mask row and a kv tile in one mask block
// (supports_block_mask in cuda/variant/key_tiles.cuh); select_kernel checks the row it
// picks, so rows may differ. Shared memory is Q (block_m, D) + K and V (block_n, D) tiles of
// 16-bit elements. Registers, spills and CTAs per SM of each row: docs/resources.md.
inline constexpr TileConfig kTileTable[] = {
    // d64: uncapped it needs ~200 registers (2 CTAs per SM, FlashAttention-2's occupancy);
    // capped at 168 for 3 CTAs per SM, ptxas spills.
    {ArchClass::kSm80, /*head_dim=*/64, /*block_m=*/64, /*block_n=*/64, /*warps=*/4, /*min_ctas_per_sm=*/2},
    {ArchClass::kSm80, /*head_dim=*/128, /*block_m=*/64, /*block_n=*/64, /*warps=*/4, /*min_ctas_per_sm=*/1},
    // d256: (16, 256) fp32 output accumulators per warp are 128 registers per lane, so warps
    // stay at 16 rows and the CTA at 4 warps; 32-key steps halve S's registers (16 per lane)
    // and the K / V tiles (64 KB of shared memory in all).
    {ArchClass::kSm80, /*head_dim=*/256, /*block_m=*/64, /*block_n=*/32, /*warps=*/4, /*min_ctas_per_sm=*/1},
};

/// \brief The table row for (arch, head dim); a missing row fails to compile.
constexpr TileConfig tile_config(ArchClass arch, int head_dim) {
  for (const TileConfig& c : kTileTable) {
    if (c.arch == arch && c.head_dim == head_dim) return c;
  }
  return TileConfig{arch, 0, 0, 0, 0, 0};
}

/// \brief Compile-time shapes of one kernel instance.
template <int kHeadDim_, bool kIsBf16_, bool kKvFp8_ = false, ArchClass kArch_ = ArchClass::kSm80>
struct KernelTraits {
  static constexpr bool kKvFp8 = kKvFp8_;  // K / V are an FP8 cache: staged raw, converted in shared memory
  static constexpr TileConfig kConfig = tile_config(kArch_, kHeadDim_);
  static_assert(kConfig.head_dim == kHeadDim_, "no tile table row for this head dim");

  static constexpr bool kIsBf16 = kIsBf16_;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockM = kConfig.block_m;
  static constexpr int kBlockN = kConfig.block_n;
  static constexpr int kNumWarps = kConfig.warps;
  static constexpr int kNumThreads = kNumWarps * 32;

  static constexpr int kMinCtasPerSm = kConfig.min_ctas_per_sm;

  static_assert(kBlockM == 16 * kNumWarps, "each warp owns 16 query rows");
  static_assert(kBlockN % 16 == 0, "P * V takes k16 steps of keys; S pairs n8 tiles");
  static_assert(kHeadDim % 64 == 0, "the smem swizzle needs rows of >= 8 16-byte chunks");

  static constexpr int kNTilesS = kBlockN / 8;     // n8 tiles of S per warp
  static constexpr int kNTilesO = kHeadDim / 8;    // n8 tiles of O per warp
  static constexpr int kKStepsQK = kHeadDim / 16;  // k16 steps of Q * K^T
  static constexpr int kKStepsPV = kBlockN / 16;   // k16 steps of P * V

  using QTile = cuda_core::SwizzledTile<kHeadDim>;   // (kBlockM, kHeadDim)
  using KVTile = cuda_core::SwizzledTile<kHeadDim>;  // (kBlockN, kHeadDim)
  static constexpr int kSmemQElems = kBlockM * kHeadDim;
  static constexpr int kSmemKVElems = kBlockN * kHeadDim;
  static constexpr int kSmemFp8Bytes = kKvFp8 ? 2 * kSmemKVElems : 0;  // raw K and V bytes of one tile
  static constexpr int kSmemBytes = (kSmemQElems + 2 * kSmemKVElems) * 2 + kSmemFp8Bytes;

  // Each thread copies whole 16-byte chunks; tiles must split evenly over the CTA.
  static constexpr int kChunksPerRow = kHeadDim / 8;
  static_assert((kBlockM * kChunksPerRow) % kNumThreads == 0, "Q tile must split over threads");
  static_assert((kBlockN * kChunksPerRow) % kNumThreads == 0, "K/V tile must split over threads");
  static_assert((kBlockN * kHeadDim / 16) % kNumThreads == 0, "an FP8 K/V tile must split over threads");
  static_assert(kSmemBytes <= 160 * 1024, "must fit sm_80's 163 KB opt-in shared memory");
};

}  // namespace attnkit::cuda_backend
