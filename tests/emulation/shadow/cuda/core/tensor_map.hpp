// Emulated twin of cuda/core/tensor_map.hpp (tests/emulation): the same API, with no driver.
// encode_tensor_map refuses what tensor_map_unsupported refuses and otherwise keeps the spec
// (behind a magic tag) in the map's 128 opaque bytes, for the TMA twin (shadow tma.cuh) to
// decode. tensor_map_unsupported is a copy of the real header's and must stay identical.
// The functions are `static`: libattnkit (linked into the emulation tests) holds the real
// header's inline functions under the same names, and the linker must not pick those.
#pragma once

#include <cuda.h>  // CUtensorMap (types only)
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "emu_runtime.hpp"

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

/// \brief "" when TMA can describe `spec` (16-byte aligned base and strides, strides below
/// 2^40, dims below 2^32, box extents 1-256, inner box 128 bytes), else why not.
static inline std::string tensor_map_unsupported(const TensorMapSpec& s) {
  if (reinterpret_cast<uintptr_t>(s.base) % 16 != 0) return "the base address is not 16-byte aligned";
  for (int i = 0; i < kTensorMapRank - 1; ++i) {
    if (s.strides[i] % 16 != 0) return "a stride is not a multiple of 16 bytes";
    if (s.strides[i] >= (uint64_t{1} << 40)) return "a stride is 2^40 bytes or more";
  }
  for (int i = 0; i < kTensorMapRank; ++i) {
    if (s.dims[i] == 0 || s.dims[i] > 0xffffffffull) return "an extent is 0 or 2^32 or more";
    if (s.box[i] == 0 || s.box[i] > 256) return "a box extent is outside 1-256";
  }
  if (s.box[0] * 2 != 128) return "the inner box is not 128 bytes";
  return "";
}

namespace emu_detail {

inline constexpr uint64_t kTensorMapMagic = 0x3170616d5f756d65ull;  // "emu_map1"

struct StoredTensorMap {
  uint64_t magic;
  TensorMapSpec spec;
};
static_assert(sizeof(StoredTensorMap) <= sizeof(CUtensorMap), "the spec must fit the map's opaque bytes");

/// \brief The spec encode_tensor_map stored in `map`; false when it holds none.
static inline bool decode_tensor_map(const void* map, TensorMapSpec* spec) {
  StoredTensorMap stored;
  std::memcpy(&stored, map, sizeof(stored));
  if (stored.magic != kTensorMapMagic) return false;
  *spec = stored.spec;
  return true;
}

}  // namespace emu_detail

/// \brief Stores `spec` into *out; cudaErrorInvalidValue (reason in *why) when the driver
/// would refuse it.
static inline cudaError_t encode_tensor_map(const TensorMapSpec& spec, CUtensorMap* out, std::string* why) {
  const std::string unsupported = tensor_map_unsupported(spec);
  if (!unsupported.empty()) {
    *why = "cuTensorMapEncodeTiled (emulated) refuses the map: " + unsupported;
    return cudaErrorInvalidValue;
  }
  const emu_detail::StoredTensorMap stored{emu_detail::kTensorMapMagic, spec};
  std::memset(out, 0, sizeof(*out));
  std::memcpy(out, &stored, sizeof(stored));
  return cudaSuccess;
}

}  // namespace attnkit::cuda_core
