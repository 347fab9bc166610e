// Tile shapes of the Hopper (sm_90a) prefill family. Tuning is data: one row per head dim;
// the kernel, the launcher and select_kernel read only this table.
#pragma once

namespace attnkit::cuda_backend {

struct HopperTileConfig {
  int head_dim;
  int block_m;        // query rows per CTA: 64 per consumer warpgroup
  int block_n;        // keys per pipeline stage
  int stages;         // K and V pipeline depth
  int producer_regs;  // setmaxnreg of the TMA warpgroup
  int consumer_regs;  // setmaxnreg of the two MMA warpgroups (128 x 24 + 256 x 240 <= 64K)
  bool overlap;       // P V of tile n - 1 under tile n's softmax (needs P of a tile kept in registers)
  bool preferred;     // the head dim's default row; the others serve block masks it cannot walk
};

// overlap keeps a second tile's P (kBlockN / 4 registers) live beside S and O: d64 fits in 240
// registers; d128 spilled 96 / 112 bytes with it (nvcc 13.0), d256 (O alone is 128 registers)
// more, so they run without it and rely on the two warpgroups interleaving. FlashAttention-3's published points are d64 192x128, d128 128x128 (causal) / 128x176, d256
// 128x80; block-sparse masks of 64-key blocks need block_n | 64 and two warpgroups of 64 rows
// each, so the rows keep 128 query rows and block_n a power of two. Shared memory is Q
// (block_m, D) + stages x (K + V) (block_n, D), 16-bit: 80 / 160 / 192 KB.
inline constexpr HopperTileConfig kHopperTileTable[] = {
    // head_dim block_m block_n stages producer_regs consumer_regs overlap preferred
    {64, 128, 128, 2, 24, 240, true, true},
    {64, 128, 64, 2, 24, 240, true, false},    // masks of 64-key blocks
    {128, 128, 128, 2, 24, 240, false, true},
    {128, 128, 64, 2, 24, 240, true, false},   // masks of 64-key blocks: S is half as wide, P fits
    {256, 128, 64, 2, 24, 240, false, true},
};

/// \brief The row of (head dim, keys per stage); head_dim 0: none.
constexpr HopperTileConfig hopper_tile_config(int head_dim, int block_n) {
  for (const HopperTileConfig& c : kHopperTileTable) {
    if (c.head_dim == head_dim && c.block_n == block_n) return c;
  }
  return HopperTileConfig{0, 0, 0, 0, 0, 0, false, false};
}

/// \brief The preferred row of a head dim; head_dim 0: none.
constexpr HopperTileConfig hopper_tile_config(int head_dim) {
  for (const HopperTileConfig& c : kHopperTileTable) {
    if (c.head_dim == head_dim && c.preferred) return c;
  }
  return HopperTileConfig{0, 0, 0, 0, 0, 0, false, false};
}

/// \brief Compile-time shapes of one instance.
template <int kHeadDim_, bool kIsBf16_, int kBlockN_ = hopper_tile_config(kHeadDim_).block_n>
struct HopperTraits {
  static constexpr HopperTileConfig kConfig = hopper_tile_config(kHeadDim_, kBlockN_);
  static_assert(kConfig.head_dim == kHeadDim_, "no Hopper tile table row for this (head dim, block_n)");

  static constexpr bool kIsBf16 = kIsBf16_;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockM = kConfig.block_m;
  static constexpr int kBlockN = kConfig.block_n;
  static constexpr int kStages = kConfig.stages;
  static constexpr int kConsumerRows = 64;  // one m64 wgmma per consumer warpgroup
  static constexpr int kConsumers = kBlockM / kConsumerRows;
  static constexpr int kNumThreads = 128 * (1 + kConsumers);  // warpgroup 0 loads, the others compute
  static constexpr int kConsumerThreads = 128 * kConsumers;
  static_assert(kConsumers == 2, "two consumer warpgroups (setmaxnreg budget below)");
  static_assert(128 * kConfig.producer_regs + kConsumerThreads * kConfig.consumer_regs <= 65536, "register file");

  static constexpr int kNTilesS = kBlockN / 8;     // n8 column tiles of S per thread
  static constexpr int kNTilesO = kHeadDim / 8;    // n8 column tiles of O per thread
  static constexpr int kKStepsQK = kHeadDim / 16;  // k16 wgmma steps of Q K^T
  static constexpr int kKStepsPV = kBlockN / 16;   // k16 wgmma steps of P V
  static constexpr int kColBlocks = kHeadDim / 64; // 128-byte swizzle column blocks (one TMA box each)

  // Shared memory: tiles 1024-byte aligned (the swizzle atom), then the mbarriers.
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kKVBytes = kBlockN * kHeadDim * 2;  // one K or V stage
  static constexpr int kQOffset = 0;
  static constexpr int kKOffset = kQOffset + kQBytes;
  static constexpr int kVOffset = kKOffset + kStages * kKVBytes;
  static constexpr int kBarrierOffset = kVOffset + kStages * kKVBytes;
  static constexpr int kNumBarriers = 1 + 4 * kStages;  // Q, then full / empty of K and V per stage
  static constexpr int kScheduleOffset = kBarrierOffset + 8 * kNumBarriers;  // int32 per K stage: its tile
  static constexpr int kSmemBytes = kScheduleOffset + 4 * kStages;
  static_assert(kHeadDim % 64 == 0 && kBlockN % 64 == 0, "whole swizzle atoms");
  static_assert(kSmemBytes <= 227 * 1024, "must fit sm_90's 227 KB opt-in shared memory");
};

}  // namespace attnkit::cuda_backend
