// Host conversions between float and the 16-bit and 8-bit float formats (round to nearest
// even), and typed loads / stores of one element as double. Used by the CPU reference and tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

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

// ---- FP8 (OCP 8-bit floating point, the two formats of an FP8 KV cache) ----------
//
// E4M3 ("e4m3fn"): 1 sign, 4 exponent (bias 7), 3 mantissa bits; subnormals; no infinities;
// S.1111.111 is NaN, so the largest finite value is S.1111.110 = 448.
// E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; subnormals; IEEE-style infinities
// (S.11111.00) and NaNs (S.11111.xx, xx != 0); the largest finite value is 57344.

/// The shape of one FP8 format (the encoder and decoder below are written once over it).
struct Fp8Format {
  int mantissa_bits;
  int bias;
  bool has_inf;      ///< E5M2: the all-ones exponent holds inf / NaN; E4M3: only S.1111.111 is NaN
  double max_finite;
};
inline constexpr Fp8Format kFp8E4M3{/*mantissa_bits=*/3, /*bias=*/7, /*has_inf=*/false, /*max_finite=*/448.0};
inline constexpr Fp8Format kFp8E5M2{/*mantissa_bits=*/2, /*bias=*/15, /*has_inf=*/true, /*max_finite=*/57344.0};

/// \brief FP8 bits -> double (exact: every FP8 value is a double).
inline double fp8_bits_to_double(uint8_t bits, const Fp8Format& f) {
  const int exp_bits = 7 - f.mantissa_bits;
  const int exp_max = (1 << exp_bits) - 1;
  const int mant_max = (1 << f.mantissa_bits) - 1;
  const bool negative = (bits & 0x80u) != 0;
  const int e = (bits >> f.mantissa_bits) & exp_max;
  const int m = bits & mant_max;
  double magnitude;
  if (f.has_inf && e == exp_max) {
    magnitude = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else if (!f.has_inf && e == exp_max && m == mant_max) {
    magnitude = std::numeric_limits<double>::quiet_NaN();
  } else if (e == 0) {  // subnormal: m * 2^(1 - bias - mantissa_bits)
    magnitude = std::ldexp(static_cast<double>(m), 1 - f.bias - f.mantissa_bits);
  } else {              // normal: (2^mantissa_bits + m) * 2^(e - bias - mantissa_bits)
    magnitude = std::ldexp(static_cast<double>((1 << f.mantissa_bits) + m), e - f.bias - f.mantissa_bits);
  }
  return negative ? -magnitude : magnitude;
}

/// \brief double -> FP8 bits, round to nearest even, "satfinite": a finite value beyond
/// the largest finite one (after rounding) becomes +-max_finite (E4M3 +-448, E5M2
/// +-57344). NaN becomes 0x7f (NaN in both formats). Infinities: E5M2 keeps them
/// (S.11111.00); E4M3 has none and saturates them to +-448, as CUDA's __NV_SATFINITE
/// conversions do. The sign of zero is kept.
inline uint8_t double_to_fp8_bits(double x, const Fp8Format& f) {
  if (std::isnan(x)) return 0x7fu;
  const uint8_t sign = std::signbit(x) ? 0x80u : 0x00u;
  const int exp_bits = 7 - f.mantissa_bits;
  const double a = std::fabs(x);
  if (std::isinf(a) && f.has_inf) return static_cast<uint8_t>(sign | (((1 << exp_bits) - 1) << f.mantissa_bits));
  const int min_exp = 1 - f.bias;  // exponent of the smallest normal
  double r;                        // |x| rounded to the format, before saturation
  if (a == 0.0 || std::isinf(a)) {
    r = a;
  } else {
    // The quantum (spacing of representable values) at |x|: 2^(max(E, min_exp) - mantissa_bits)
    // with E = floor(log2 |x|). Scaling by a power of two is exact, so nearbyint (nearest
    // even in the default rounding mode) rounds exactly once.
    int e2 = 0;
    (void)std::frexp(a, &e2);  // a = f * 2^e2 with f in [0.5, 1): E = e2 - 1
    const int quantum_exp = (e2 - 1 > min_exp ? e2 - 1 : min_exp) - f.mantissa_bits;
    r = std::ldexp(std::nearbyint(std::ldexp(a, -quantum_exp)), quantum_exp);
  }
  if (r > f.max_finite) r = f.max_finite;  // satfinite (also E4M3's infinities)
  if (r == 0.0) return sign;
  int e2 = 0;
  const double frac = std::frexp(r, &e2);  // r = frac * 2^e2
  const int e = e2 - 1;                    // r = 1.m * 2^e for normals
  if (e < min_exp) {                       // subnormal: r = m * 2^(min_exp - mantissa_bits)
    const int m = static_cast<int>(std::ldexp(r, f.mantissa_bits - min_exp));
    return static_cast<uint8_t>(sign | m);
  }
  const int m = static_cast<int>(std::ldexp(frac * 2.0 - 1.0, f.mantissa_bits));
  return static_cast<uint8_t>(sign | ((e + f.bias) << f.mantissa_bits) | m);
}

/// \brief OCP FP8 E4M3 bits -> float (exact).
inline float fp8_e4m3_bits_to_float(uint8_t bits) { return static_cast<float>(fp8_bits_to_double(bits, kFp8E4M3)); }
/// \brief OCP FP8 E5M2 bits -> float (exact).
inline float fp8_e5m2_bits_to_float(uint8_t bits) { return static_cast<float>(fp8_bits_to_double(bits, kFp8E5M2)); }
/// \brief float -> OCP FP8 E4M3 bits: nearest even, saturating to +-448 (inf too), NaN -> 0x7f.
inline uint8_t float_to_fp8_e4m3_bits(float f) { return double_to_fp8_bits(f, kFp8E4M3); }
/// \brief float -> OCP FP8 E5M2 bits: nearest even, finite overflow saturating to +-57344,
/// inf kept, NaN -> 0x7f.
inline uint8_t float_to_fp8_e5m2_bits(float f) { return double_to_fp8_bits(f, kFp8E5M2); }

/// \brief Element `offset` of a host tensor as double (floating dtypes, float8 included, and int32).
inline double load_as_double(const TensorView& t, int64_t offset) {
  switch (t.dtype) {
    case DType::kFloat32: return static_cast<const float*>(t.data)[offset];
    case DType::kFloat16: return half_bits_to_float(static_cast<const uint16_t*>(t.data)[offset]);
    case DType::kBFloat16: return bf16_bits_to_float(static_cast<const uint16_t*>(t.data)[offset]);
    case DType::kInt32: return static_cast<const int32_t*>(t.data)[offset];
    case DType::kUInt8: return static_cast<const uint8_t*>(t.data)[offset];
    case DType::kFloat8E4M3: return fp8_bits_to_double(static_cast<const uint8_t*>(t.data)[offset], kFp8E4M3);
    case DType::kFloat8E5M2: return fp8_bits_to_double(static_cast<const uint8_t*>(t.data)[offset], kFp8E5M2);
  }
  return 0.0;
}

/// \brief Stores `value` into element `offset` of a host tensor, rounding once to its dtype
/// (the 16-bit types via float; the FP8 types directly from double, saturating).
inline void store_from_double(const TensorView& t, int64_t offset, double value) {
  const float f = static_cast<float>(value);
  switch (t.dtype) {
    case DType::kFloat32: static_cast<float*>(t.data)[offset] = f; break;
    case DType::kFloat16: static_cast<uint16_t*>(t.data)[offset] = float_to_half_bits(f); break;
    case DType::kBFloat16: static_cast<uint16_t*>(t.data)[offset] = float_to_bf16_bits(f); break;
    case DType::kInt32: static_cast<int32_t*>(t.data)[offset] = static_cast<int32_t>(value); break;
    case DType::kUInt8: static_cast<uint8_t*>(t.data)[offset] = value != 0.0 ? 1 : 0; break;
    case DType::kFloat8E4M3: static_cast<uint8_t*>(t.data)[offset] = double_to_fp8_bits(value, kFp8E4M3); break;
    case DType::kFloat8E5M2: static_cast<uint8_t*>(t.data)[offset] = double_to_fp8_bits(value, kFp8E5M2); break;
  }
}

}  // namespace attnkit::detail
