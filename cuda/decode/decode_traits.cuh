// Compile-time shape of the split-KV decode kernel for one (head dim, dtype).
#pragma once

#include <cstdint>

#include "cuda/core/smem_swizzle.cuh"
#include "cuda/core/vec_types.cuh"

namespace attnkit::cuda_backend {

/// Keys per pipeline stage of every decode instance (the split heuristic counts in them).
inline constexpr int kDecodeKeysPerTile = 64;

/// Split-KV tuning per head dim (tuning as data). Splits are added until the grid fills
/// every SM with `ctas_per_sm` CTAs (or fewer when shared memory allows fewer), but never
/// below `min_keys_per_split` keys per split: a split costs one (D + 2)-float round trip per
/// packed row in the merge, negligible against 256 keys of K and V.
struct DecodeSplitTuning {
  int head_dim;
  int ctas_per_sm;
  int min_keys_per_split;
  int max_splits;
};
inline constexpr DecodeSplitTuning kSplitTuning[] = {
    {64, 4, 256, 64},
    {128, 3, 256, 64},
    {256, 1, 256, 64},  // 144 KB of shared memory per CTA: one per SM
};
static_assert(sizeof(kSplitTuning) / sizeof(kSplitTuning[0]) == 3, "one row per supported head dim");
static_assert(kSplitTuning[0].min_keys_per_split % kDecodeKeysPerTile == 0, "splits are whole key tiles");

inline constexpr DecodeSplitTuning split_tuning(int64_t head_dim) {
  for (const DecodeSplitTuning& t : kSplitTuning) {
    if (t.head_dim == head_dim) return t;
  }
  return kSplitTuning[0];
}

/// One CTA packs up to kRowsPerCta query rows of one kv head (the Hq / Hkv query heads
/// that share it, times the sequence's Sq rows) into 16-row mma tiles, and walks its
/// split of the keys in tiles of kBlockN. Its 4 warps split each key tile by 16-key
/// steps when the rows fit in fewer than 4 m tiles, so K and V are read from global
/// memory once per (kv head, split) whatever the GQA group.
template <int kHeadDim_, bool kIsBf16_, bool kKvFp8_ = false>
struct DecodeTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr bool kIsBf16 = kIsBf16_;
  static constexpr bool kKvFp8 = kKvFp8_;  // K / V are an FP8 cache (E4M3 or E5M2, a runtime flag)
  using Elem = typename cuda_core::Half16<kIsBf16>::Scalar;
  using Tile = cuda_core::SwizzledTile<kHeadDim>;  // rows of kHeadDim, 16-byte chunks swizzled

  static constexpr int kNumWarps = 4;
  static constexpr int kNumThreads = 32 * kNumWarps;
  // __launch_bounds__' minimum CTAs per SM: 1 leaves registers uncapped. Without it ptxas
  // picked its own caps (128 for d64, 168 for d128 with an FP8 cache) and spilled; shared
  // memory bounds the decode CTAs per SM anyway (docs/resources.md).
  static constexpr int kMinCtasPerSm = 1;
  static constexpr int kBlockN = kDecodeKeysPerTile;  // keys per pipeline stage
  static constexpr int kStepN = 16;   // keys per warp step (one m16n8k16 k-slice of P * V)
  static constexpr int kStepsPerTile = kBlockN / kStepN;
  // 16-bit caches: cp.async double-buffers the K and V tiles. FP8 caches: the raw tile is
  // staged (one buffer, half the bytes) while the previous tile computes, then converted
  // into one 16-bit K and V tile.
  static constexpr int kStages = kKvFp8 ? 1 : 2;
  // d256 keeps two m tiles: four would need 160 KB of shared memory with Q, over sm_80's 163 KB opt-in
  // once the combine scratch is counted, and more registers than 128 threads may hold.
  static constexpr int kMaxMTiles = kHeadDim == 256 ? 2 : 4;
  static constexpr int kRowsPerCta = 16 * kMaxMTiles;
  static constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  static constexpr int kKSteps = kHeadDim / 16;
  static constexpr int kNTilesO = kHeadDim / 8;

  static constexpr int kKvTileElems = kBlockN * kHeadDim;                    // (kBlockN, kHeadDim)
  static constexpr int kSmemKvBytes = 2 * kStages * kKvTileElems * 2;         // K and V stages
  static constexpr int kSmemFp8Bytes = kKvFp8 ? 2 * kKvTileElems : 0;        // staged raw K and V bytes
  static constexpr int kFp8Chunks = kHeadDim / 16;                           // 16-byte chunks of an FP8 row
  static constexpr int kSmemQBytes = kRowsPerCta * kHeadDim * 2;              // (kRowsPerCta, kHeadDim)
  static constexpr int kSmemBytes = kSmemKvBytes + kSmemFp8Bytes + kSmemQBytes;
  // After the main loop the K/V stages hold each warp's (16, kHeadDim) float output and its
  // (m, l) pairs for the cross-warp combine.
  static constexpr int kCombineBytes = kNumWarps * 16 * kHeadDim * 4 + kNumWarps * 16 * 2 * 4;

  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dims 64, 128, 256");
  static_assert(kBlockN % kStepN == 0 && kStepsPerTile == kNumWarps, "a tile is one step per warp at most");
  static_assert(kCombineBytes <= kSmemKvBytes + kSmemFp8Bytes, "the combine scratch reuses the K/V stages");
  static_assert(kNumThreads % kChunks == 0, "loaders cover whole rows per pass");
};

}  // namespace attnkit::cuda_backend
