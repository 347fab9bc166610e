// What a TMA tensor map describes (the parameters of cuTensorMapEncodeTiled this library uses:
// 4-d, 16-bit elements, 128-byte swizzle) and the driver's rules for them, host-only and pure:
// shared by the real encoder (tensor_map.hpp) and the emulator's twin, so both refuse alike.
#pragma once

#include <cstdint>
#include <string>

namespace attnkit::cuda_core {

inline constexpr int kTensorMapRank = 4;

/// What cuTensorMapEncodeTiled is given. Innermost dimension first; strides in bytes of
/// dimensions 1..3 (dimension 0 is contiguous); the box's inner extent is 64 elements (128
/// bytes, the swizzle span); elements outside dims read as zeros.
struct TensorMapSpec {
  const void* base = nullptr;
  bool is_bf16 = true;
  uint64_t dims[kTensorMapRank] = {1, 1, 1, 1};
  uint64_t strides[kTensorMapRank - 1] = {0, 0, 0};
  uint32_t box[kTensorMapRank] = {1, 1, 1, 1};
};

/// \brief "" when TMA can describe `spec` (the driver's rules: 16-byte aligned base, strides
/// multiples of 16 bytes below 2^40, extents 1 to 2^32, box extents 1-256; and this library's
/// inner box of 128 bytes, the swizzle span), else why not.
inline std::string tensor_map_unsupported(const TensorMapSpec& s) {
  if (reinterpret_cast<uintptr_t>(s.base) % 16 != 0) return "the base address is not 16-byte aligned";
  for (int i = 0; i < kTensorMapRank - 1; ++i) {
    if (s.strides[i] % 16 != 0) return "a stride is not a multiple of 16 bytes";
    if (s.strides[i] >= (uint64_t{1} << 40)) return "a stride is 2^40 bytes or more";
  }
  for (int i = 0; i < kTensorMapRank; ++i) {
    if (s.dims[i] == 0 || s.dims[i] > (uint64_t{1} << 32)) return "an extent is 0 or above 2^32";
    if (s.box[i] == 0 || s.box[i] > 256) return "a box extent is outside 1-256";
  }
  if (s.box[0] * 2 != 128) return "the inner box is not 128 bytes";
  return "";
}

}  // namespace attnkit::cuda_core
