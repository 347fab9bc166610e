// FP8 (OCP E4M3 "fn" and E5M2) -> 16-bit float conversion for KV caches, exact: every FP8
// value is representable in float16 and in bfloat16. Plain integer code (no PTX), so the
// CPU emulation runs it unchanged; a kernel converts a staged FP8 tile once per key tile.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief The float32 bits of one FP8 value. E4M3: bias 7, no infinities, S.1111.111 is NaN.
/// E5M2: bias 15, exponent 31 is infinity (mantissa 0) or NaN.
__host__ __device__ __forceinline__ uint32_t fp8_to_float_bits(uint32_t b, bool e5m2) {
  const uint32_t sign = (b & 0x80u) << 24;
  const int mbits = e5m2 ? 2 : 3;
  const int bias = e5m2 ? 15 : 7;
  const uint32_t e = (b & 0x7fu) >> mbits;
  uint32_t m = b & ((1u << mbits) - 1u);
  if (e5m2 && e == 31) return sign | 0x7f800000u | (m << 21);       // inf / NaN
  if (!e5m2 && e == 15 && m == 7) return sign | 0x7fc00000u;        // NaN
  if (e == 0) {
    if (m == 0) return sign;                                        // +-0
    int exp = 1 - bias;                                             // subnormal: m * 2^(1 - bias - mbits)
    while ((m & (1u << mbits)) == 0) {
      m <<= 1;
      --exp;
    }
    m &= (1u << mbits) - 1u;
    return sign | (static_cast<uint32_t>(exp + 127) << 23) | (m << (23 - mbits));
  }
  return sign | (static_cast<uint32_t>(static_cast<int>(e) - bias + 127) << 23) | (m << (23 - mbits));
}

/// \brief One FP8 value as the 16-bit bits of float16 or bfloat16 (exact).
template <bool kIsBf16>
__host__ __device__ __forceinline__ uint32_t fp8_to_b16_bits(uint32_t b, bool e5m2) {
  if constexpr (kIsBf16) {
    return fp8_to_float_bits(b, e5m2) >> 16;  // <= 3 mantissa bits: the upper half is exact
  } else {
    if (e5m2) return (b & 0xffu) << 8;  // E5M2 is the upper byte of a float16
    const uint32_t f = fp8_to_float_bits(b, false);
    const uint32_t sign = (f >> 16) & 0x8000u;
    if ((f & 0x7fffffffu) == 0) return sign;
    if ((f & 0x7f800000u) == 0x7f800000u) return sign | 0x7e00u;  // NaN
    // |x| >= 2^-9: always a normal float16 (exponent -9 .. 8).
    const uint32_t exp = ((f >> 23) & 0xffu) - 127 + 15;
    return sign | (exp << 10) | ((f >> 13) & 0x3ffu);
  }
}

/// \brief 8 FP8 values (two 32-bit words, lowest byte first) as 8 16-bit values packed in
/// four 32-bit words (element 2k in the low half of word k), ready for a 16-byte store.
template <bool kIsBf16>
__host__ __device__ __forceinline__ void fp8x8_to_b16x8(uint32_t lo, uint32_t hi, bool e5m2, uint32_t (&out)[4]) {
  const uint32_t words[2] = {lo, hi};
#pragma unroll
  for (int w = 0; w < 2; ++w) {
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const uint32_t a = (words[w] >> (16 * k)) & 0xffu;
      const uint32_t b = (words[w] >> (16 * k + 8)) & 0xffu;
      out[2 * w + k] = fp8_to_b16_bits<kIsBf16>(a, e5m2) | (fp8_to_b16_bits<kIsBf16>(b, e5m2) << 16);
    }
  }
}

}  // namespace attnkit::cuda_core
