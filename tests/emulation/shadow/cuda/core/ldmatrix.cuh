// Emulated twin of cuda/core/ldmatrix.cuh (tests/emulation): ldmatrix.sync.aligned.m8n8.x4
// (.trans) as a warp collective over the PTX ISA fragment layout. Shared-memory
// "addresses" are byte offsets into the running CTA's emulated shared memory.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

/// \brief Shared-memory address of a generic pointer (checked to lie in the CTA's buffer).
__device__ __forceinline__ uint32_t smem_address(const void* ptr) {
  const unsigned char* base = attnkit_emu::shared_base();
  const unsigned char* p = static_cast<const unsigned char*>(ptr);
  if (p < base || p > base + attnkit_emu::shared_bytes()) {
    attnkit_emu::report_error("smem_address of a pointer outside the CTA's shared memory");
    return 0;
  }
  return static_cast<uint32_t>(p - base);
}

namespace emu_detail {

inline uint16_t load_b16(uint32_t address) {
  if (address % 2 != 0 || address + size_t{2} > attnkit_emu::shared_bytes()) {
    attnkit_emu::report_error("ldmatrix reads outside shared memory at byte " + std::to_string(address));
    return 0;
  }
  attnkit_emu::smem_read(address, sizeof(uint16_t));  // race detector: this lane reads the element
  uint16_t v;
  std::memcpy(&v, attnkit_emu::shared_base() + address, sizeof(v));
  return v;
}

/// Lanes 8 i .. 8 i + 7 give the row addresses of matrix i. Plain: this lane gets (row
/// lane / 4, cols 2 (lane % 4) + {0, 1}); transposed: (rows 2 (lane % 4) + {0, 1}, col
/// lane / 4). The lower column / row goes to the low half of the register.
template <bool kTrans>
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_row_address) {
  if (smem_row_address % 16 != 0) attnkit_emu::report_error("ldmatrix row address is not 16-byte aligned");
  attnkit_emu::warp_slot()[0] = smem_row_address;
  const attnkit_emu::WarpSlots& rows = attnkit_emu::warp_exchange();
  const int lane = attnkit_emu::lane();
  for (int i = 0; i < 4; ++i) {
    uint16_t lo, hi;
    if constexpr (!kTrans) {
      const uint32_t row = rows[8 * i + lane / 4][0];
      lo = load_b16(row + 2 * (2 * (lane % 4)));
      hi = load_b16(row + 2 * (2 * (lane % 4) + 1));
    } else {
      lo = load_b16(rows[8 * i + 2 * (lane % 4)][0] + 2 * (lane / 4));
      hi = load_b16(rows[8 * i + 2 * (lane % 4) + 1][0] + 2 * (lane / 4));
    }
    if (attnkit_emu::g_fault == attnkit_emu::Fault::kLdmatrixSwapHalves) std::swap(lo, hi);
    r[i] = uint32_t{lo} | (uint32_t{hi} << 16);
  }
}

}  // namespace emu_detail

/// \brief ldmatrix.sync.aligned.m8n8.x4.shared.b16.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_row_address) {
  emu_detail::ldmatrix_x4<false>(r, smem_row_address);
}

/// \brief ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t smem_row_address) {
  emu_detail::ldmatrix_x4<true>(r, smem_row_address);
}

}  // namespace attnkit::cuda_core
