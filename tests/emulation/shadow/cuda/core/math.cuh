// Emulated twin of cuda/core/math.cuh (tests/emulation). Only exp2_approx is PTX; the rest
// is copied verbatim and must stay in step with the real header.
#pragma once

#include <cmath>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

inline constexpr float kLog2e = 1.4426950408889634f;  // log2(e): exp(x) = exp2(x * kLog2e)
inline constexpr float kLn2 = 0.6931471805599453f;    // ln(2): ln(x) = log2(x) * kLn2

/// \brief ex2.approx.ftz.f32: 2^x, denormal results flushed to +0; 2^-inf = +0. (The
/// hardware's 2-ulp approximation error is not emulated.)
__device__ __forceinline__ float exp2_approx(float x) {
  const float y = exp2f(x);
  return std::fpclassify(y) == FP_SUBNORMAL ? 0.0f : y;
}

/// \brief -infinity as a float constant usable in device code.
__device__ __forceinline__ float neg_inf() { return -INFINITY; }

/// \brief Max over the 4 lanes of a quad (lanes 4g .. 4g+3 hold one accumulator row).
__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

/// \brief Sum over the 4 lanes of a quad.
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

}  // namespace attnkit::cuda_core
