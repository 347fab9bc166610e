// Emulated twin of cuda/core/mma.cuh (tests/emulation): mma.sync.aligned.m16n8k16.row.col
// with fp32 accumulation, as a warp collective over the PTX ISA fragment layouts. Products
// of 16-bit inputs are exact in fp32; the sum is taken in k order (the hardware's
// internal order and rounding are not emulated).
#pragma once

#include <cmath>
#include <cstdint>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {
namespace emu_detail {

/// \brief Element `half` (0 = low) of register `reg` of `lane`'s exchanged slot.
template <bool kIsBf16>
inline float fragment(const attnkit_emu::WarpSlots& all, int lane, int reg, int half) {
  return attnkit_emu::b16_to_float(static_cast<uint16_t>(all[lane][reg] >> (16 * half)), kIsBf16);
}

}  // namespace emu_detail

/// \brief D += A * B for one m16n8k16 tile, lane = 4 g + t: a[4] holds A (rows {g, g+8}) x
/// (k {2t, 2t+1} in a[0] / a[1], k {2t+8, 2t+9} in a[2] / a[3]); b[2] holds B (k {2t, 2t+1}
/// in b[0], {2t+8, 2t+9} in b[1]) x (col g); d[4] holds D rows {g, g, g+8, g+8} x cols
/// {2t, 2t+1, 2t, 2t+1}.
template <bool kIsBf16>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  uint32_t* slot = attnkit_emu::warp_slot();
  for (int i = 0; i < 4; ++i) slot[i] = a[i];
  slot[4] = b[0];
  slot[5] = b[1];
  const attnkit_emu::WarpSlots& all = attnkit_emu::warp_exchange();
  const bool swap_a = attnkit_emu::g_fault == attnkit_emu::Fault::kMmaSwapAHalves;
  const int lane = attnkit_emu::lane();
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2);
    const int col = 2 * t + e % 2;
    float acc = d[e];
    for (int k = 0; k < 16; ++k) {
      int a_reg = row / 8 + 2 * (k / 8);  // A(row, k): lane 4 (row % 8) + (k % 8) / 2
      if (swap_a && (a_reg == 1 || a_reg == 2)) a_reg = 3 - a_reg;
      const float x = emu_detail::fragment<kIsBf16>(all, 4 * (row % 8) + (k % 8) / 2, a_reg, k % 2);
      const float y = emu_detail::fragment<kIsBf16>(all, 4 * col + (k % 8) / 2, 4 + k / 8, k % 2);  // B(k, col)
      acc += x * y;
    }
    d[e] = acc;
  }
}

}  // namespace attnkit::cuda_core
