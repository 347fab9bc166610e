// Warp-level tensor-core matrix multiply (mma.sync), sm_80 and newer.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief D += A * B for one m16n8k16 tile with 16-bit inputs and fp32 accumulation.
/// `kIsBf16` picks bf16 (true) or fp16 (false) inputs. Fragment layouts are the PTX ISA's
/// (lane = 4 * group + thread_in_group): a[4] holds A rows {g, g+8} x cols {2t, 2t+1, 2t+8,
/// 2t+9}; b[2] holds B rows {2t, 2t+1, 2t+8, 2t+9} x col g; d[4] holds D rows {g, g+8} x
/// cols {2t, 2t+1}.
template <bool kIsBf16>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4],
                                             const uint32_t (&b)[2]) {
  if constexpr (kIsBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

}  // namespace attnkit::cuda_core
