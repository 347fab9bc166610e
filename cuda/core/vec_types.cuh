// 16-bit element types and their conversions, keyed by one bool (bf16 or fp16).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace attnkit::cuda_core {

template <bool kIsBf16>
struct Half16;

template <>
struct Half16<true> {
  using Scalar = __nv_bfloat16;
  using Pair = __nv_bfloat162;
  __device__ __forceinline__ static float to_float(Scalar x) { return __bfloat162float(x); }
  __device__ __forceinline__ static Scalar from_float(float x) { return __float2bfloat16_rn(x); }
  __device__ __forceinline__ static Pair pair(float a, float b) { return __floats2bfloat162_rn(a, b); }
};

template <>
struct Half16<false> {
  using Scalar = __half;
  using Pair = __half2;
  __device__ __forceinline__ static float to_float(Scalar x) { return __half2float(x); }
  __device__ __forceinline__ static Scalar from_float(float x) { return __float2half_rn(x); }
  __device__ __forceinline__ static Pair pair(float a, float b) { return __floats2half2_rn(a, b); }
};

/// \brief Rounds (a, b) to two 16-bit values packed in one register (a in the low half),
/// the layout mma.sync's A operand wants.
template <bool kIsBf16>
__device__ __forceinline__ uint32_t pack_pair(float a, float b) {
  typename Half16<kIsBf16>::Pair p = Half16<kIsBf16>::pair(a, b);
  return *reinterpret_cast<uint32_t*>(&p);
}

/// \brief Reads one 16-bit element as float from raw bits.
template <bool kIsBf16>
__device__ __forceinline__ float half_bits_to_float(uint16_t bits) {
  typename Half16<kIsBf16>::Scalar x;
  *reinterpret_cast<uint16_t*>(&x) = bits;
  return Half16<kIsBf16>::to_float(x);
}

}  // namespace attnkit::cuda_core
