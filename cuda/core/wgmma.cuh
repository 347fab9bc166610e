// Warpgroup-level asynchronous tensor-core MMA (wgmma.mma_async), sm_90a only. A
// warpgroup (4 consecutive warps, 128 threads) computes D(64, N) (+)= A(64, 16) * B(16, N)
// with fp32 accumulation; B always comes from shared memory through a matrix descriptor
// (cuda/core/gmma_desc.hpp), A from shared memory too (the _ss form) or from registers (the
// _rs form). The accumulator of thread t (warp w = t / 32 of the warpgroup, g = lane / 4,
// q = lane % 4) is d[N / 8][4]: d[j] holds rows {16 w + g, 16 w + g + 8} x columns
// {8 j + 2 q, 8 j + 2 q + 1} in mma.sync's D order, so the fragment code of the mma.sync
// family (online softmax, epilogue) reads it unchanged. The register A operand a[4] is
// mma.sync's A fragment of the warp's 16 rows.
//
// Ordering (PTX ISA, "Asynchronous Warpgroup Level Matrix Multiply-Accumulate"): wgmma_fence
// before the first wgmma that reads registers written since; the operations issued before
// wgmma_commit form one group; wgmma_wait<N> blocks until at most N groups are pending, and
// only then may the accumulators and the shared memory they read be touched.
//
// Inline asm cannot loop, so the accumulator operand lists are macros (one per N), shared by
// the SS and RS forms.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

// Building blocks: the accumulator registers as asm text (%0 .. %N/2-1) and as "+f" operands
// (d[j][e], row-major), for N = 64, 128, 256 (32, 64, 128 values per thread).
#define ATTNKIT_WGMMA_REGS_32 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define ATTNKIT_WGMMA_REGS_64 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define ATTNKIT_WGMMA_REGS_128 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define ATTNKIT_WGMMA_TILE(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])
#define ATTNKIT_WGMMA_OUT_8                                                                                  \
  ATTNKIT_WGMMA_TILE(0), ATTNKIT_WGMMA_TILE(1), ATTNKIT_WGMMA_TILE(2), ATTNKIT_WGMMA_TILE(3), ATTNKIT_WGMMA_TILE(4), \
      ATTNKIT_WGMMA_TILE(5), ATTNKIT_WGMMA_TILE(6), ATTNKIT_WGMMA_TILE(7)
#define ATTNKIT_WGMMA_OUT_16                                                                                    \
  ATTNKIT_WGMMA_OUT_8, ATTNKIT_WGMMA_TILE(8), ATTNKIT_WGMMA_TILE(9), ATTNKIT_WGMMA_TILE(10), ATTNKIT_WGMMA_TILE(11), \
      ATTNKIT_WGMMA_TILE(12), ATTNKIT_WGMMA_TILE(13), ATTNKIT_WGMMA_TILE(14), ATTNKIT_WGMMA_TILE(15)
#define ATTNKIT_WGMMA_OUT_32                                                                                       \
  ATTNKIT_WGMMA_OUT_16, ATTNKIT_WGMMA_TILE(16), ATTNKIT_WGMMA_TILE(17), ATTNKIT_WGMMA_TILE(18), ATTNKIT_WGMMA_TILE(19), \
      ATTNKIT_WGMMA_TILE(20), ATTNKIT_WGMMA_TILE(21), ATTNKIT_WGMMA_TILE(22), ATTNKIT_WGMMA_TILE(23), ATTNKIT_WGMMA_TILE(24), \
      ATTNKIT_WGMMA_TILE(25), ATTNKIT_WGMMA_TILE(26), ATTNKIT_WGMMA_TILE(27), ATTNKIT_WGMMA_TILE(28), ATTNKIT_WGMMA_TILE(29), \
      ATTNKIT_WGMMA_TILE(30), ATTNKIT_WGMMA_TILE(31)

// One wgmma of m64 n N k16 on TYPE ("bf16" / "f16"); REGS / OUTS are the accumulators above (a
// list macro is substituted once, never forwarded to another macro, where its commas would split
// arguments), A / B / P the operand numbers of A, B and `accumulate`.
// A and B from shared memory, both K-major (scale-a, scale-b 1, no transpose).
#define ATTNKIT_WGMMA_SS(N, TYPE, REGS, OUTS, A, B, P)                                                    \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #P ", 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" REGS "}, %" #A ", %" #B \
               ", p, 1, 1, 0, 0;\n}\n"                                                                     \
               : OUTS                                                                                        \
               : "l"(a_desc), "l"(b_desc), "r"(accumulate))
// A from registers (a[4], operands A .. A + 3), B MN-major (transposed).
#define ATTNKIT_WGMMA_RS_TB(N, TYPE, REGS, OUTS, A, A1, A2, A3, B, P)                                     \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #P ", 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" REGS "}, {%" #A ", %" #A1 \
               ", %" #A2 ", %" #A3 "}, %" #B ", p, 1, 1, 1;\n}\n"                                          \
               : OUTS                                                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(accumulate))

/// \brief wgmma.fence: orders earlier register writes before the next wgmma reads them.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }

/// \brief wgmma.commit_group: closes the group of wgmma issued since the last commit.
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }

/// \brief wgmma.wait_group kPending: at most kPending groups still in flight afterwards.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}

/// \brief Keeps the compiler from moving accumulator reads / writes across a wgmma wait
/// (CUTLASS's warpgroup_fence_operand): an empty asm that "modifies" the register.
__device__ __forceinline__ void wgmma_fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

template <int kRows, int kCols>
__device__ __forceinline__ void wgmma_fence_operands(float (&d)[kRows][kCols]) {
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
#pragma unroll
    for (int j = 0; j < kCols; ++j) wgmma_fence_operand(d[i][j]);
  }
}

/// \brief d (+)= A * B, m64 n kN k16, A and B in shared memory, both K-major (S = Q K^T).
/// accumulate == 0 overwrites d.
template <int kN, bool kIsBf16>
__device__ __forceinline__ void wgmma_ss(float (&d)[kN / 8][4], uint64_t a_desc, uint64_t b_desc, int accumulate) {
  static_assert(kN == 64 || kN == 128, "the S = Q K^T shapes of the Hopper family");
  if constexpr (kN == 64) {
    if constexpr (kIsBf16) { ATTNKIT_WGMMA_SS(64, "bf16", ATTNKIT_WGMMA_REGS_32, ATTNKIT_WGMMA_OUT_8, 32, 33, 34); } else { ATTNKIT_WGMMA_SS(64, "f16", ATTNKIT_WGMMA_REGS_32, ATTNKIT_WGMMA_OUT_8, 32, 33, 34); }
  } else {
    if constexpr (kIsBf16) { ATTNKIT_WGMMA_SS(128, "bf16", ATTNKIT_WGMMA_REGS_64, ATTNKIT_WGMMA_OUT_16, 64, 65, 66); } else { ATTNKIT_WGMMA_SS(128, "f16", ATTNKIT_WGMMA_REGS_64, ATTNKIT_WGMMA_OUT_16, 64, 65, 66); }
  }
}

/// \brief d (+)= A * B, m64 n kN k16, A in registers (mma.sync A fragments of the warp's 16
/// rows), B in shared memory MN-major (transposed: O += P V with V stored key-major rows).
template <int kN, bool kIsBf16>
__device__ __forceinline__ void wgmma_rs_tb(float (&d)[kN / 8][4], const uint32_t (&a)[4], uint64_t b_desc,
                                            int accumulate) {
  static_assert(kN == 64 || kN == 128 || kN == 256, "the O += P V shapes of the Hopper family");
  if constexpr (kN == 64) {
    if constexpr (kIsBf16) { ATTNKIT_WGMMA_RS_TB(64, "bf16", ATTNKIT_WGMMA_REGS_32, ATTNKIT_WGMMA_OUT_8, 32, 33, 34, 35, 36, 37); } else { ATTNKIT_WGMMA_RS_TB(64, "f16", ATTNKIT_WGMMA_REGS_32, ATTNKIT_WGMMA_OUT_8, 32, 33, 34, 35, 36, 37); }
  } else if constexpr (kN == 128) {
    if constexpr (kIsBf16) { ATTNKIT_WGMMA_RS_TB(128, "bf16", ATTNKIT_WGMMA_REGS_64, ATTNKIT_WGMMA_OUT_16, 64, 65, 66, 67, 68, 69); } else { ATTNKIT_WGMMA_RS_TB(128, "f16", ATTNKIT_WGMMA_REGS_64, ATTNKIT_WGMMA_OUT_16, 64, 65, 66, 67, 68, 69); }
  } else {
    if constexpr (kIsBf16) { ATTNKIT_WGMMA_RS_TB(256, "bf16", ATTNKIT_WGMMA_REGS_128, ATTNKIT_WGMMA_OUT_32, 128, 129, 130, 131, 132, 133); } else { ATTNKIT_WGMMA_RS_TB(256, "f16", ATTNKIT_WGMMA_REGS_128, ATTNKIT_WGMMA_OUT_32, 128, 129, 130, 131, 132, 133); }
  }
}

}  // namespace attnkit::cuda_core

#undef ATTNKIT_WGMMA_RS_TB
#undef ATTNKIT_WGMMA_SS
#undef ATTNKIT_WGMMA_OUT_32
#undef ATTNKIT_WGMMA_OUT_16
#undef ATTNKIT_WGMMA_OUT_8
#undef ATTNKIT_WGMMA_TILE
#undef ATTNKIT_WGMMA_REGS_128
#undef ATTNKIT_WGMMA_REGS_64
#undef ATTNKIT_WGMMA_REGS_32
