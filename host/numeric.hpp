// Host conversions between float and the 16-bit float formats (round to nearest even),
// and typed loads / stores of one element as double. Used by the CPU reference and tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "attnkit/tensor.hpp"

namespace attnkit::detail {

/// \brief float -> IEEE binary16 bits, round to nearest even (overflow to inf, NaN kept).
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    // Scale so the half subnormal quantum (2^-24) becomes 1, then round to nearest even.
    const float scaled = std::fabs(f) * 16777216.0f;
    float r = std::nearbyint(scaled);  // default rounding mode is nearest-even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(r));
  }
  const uint32_t mant = abs & 0x007fffffu;
  const int32_t exp = static_cast<int32_t>(abs >> 23) - 127 + 15;
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into exponent correctly
  return static_cast<uint16_t>(sign | h);
}

/// \brief IEEE binary16 bits -> float (exact).
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  uint32_t x;
  if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  std::memcpy(&f, &x, 4);
  return f;
}

/// \brief float -> bfloat16 bits, round to nearest even (NaN kept quiet).
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

/// \brief bfloat16 bits -> float (exact).
inline float bf16_bits_to_float(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

/// \brief Element `offset` of a host tensor as double (floating dtypes and int32).
inline double load_as_double(const TensorView& t, int64_t offset) {
  switch (t.dtype) {
    case DType::kFloat32: return static_cast<const float*>(t.data)[offset];
    case DType::kFloat16: return half_bits_to_float(static_cast<const uint16_t*>(t.data)[offset]);
    case DType::kBFloat16: return bf16_bits_to_float(static_cast<const uint16_t*>(t.data)[offset]);
    case DType::kInt32: return static_cast<const int32_t*>(t.data)[offset];
    case DType::kUInt8: return static_cast<const uint8_t*>(t.data)[offset];
  }
  return 0.0;
}

/// \brief Stores `value` into element `offset` of a host tensor, rounding once to its dtype.
inline void store_from_double(const TensorView& t, int64_t offset, double value) {
  const float f = static_cast<float>(value);
  switch (t.dtype) {
    case DType::kFloat32: static_cast<float*>(t.data)[offset] = f; break;
    case DType::kFloat16: static_cast<uint16_t*>(t.data)[offset] = float_to_half_bits(f); break;
    case DType::kBFloat16: static_cast<uint16_t*>(t.data)[offset] = float_to_bf16_bits(f); break;
    case DType::kInt32: static_cast<int32_t*>(t.data)[offset] = static_cast<int32_t>(value); break;
    case DType::kUInt8: static_cast<uint8_t*>(t.data)[offset] = value != 0.0 ? 1 : 0; break;
  }
}

}  // namespace attnkit::detail
