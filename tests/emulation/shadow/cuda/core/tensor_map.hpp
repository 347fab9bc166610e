// Emulated twin of cuda/core/tensor_map.hpp (tests/emulation): the same API, with no driver.
// encode_tensor_map refuses what tensor_map_unsupported refuses and otherwise keeps the spec
// (behind a magic tag) in the map's 128 opaque bytes, for the TMA twin (shadow tma.cuh) to
// decode. TensorMapSpec and tensor_map_unsupported are the real ones (tensor_map_spec.hpp).
// The functions are `static`: libattnkit (linked into the emulation tests) holds the real
// header's inline functions under the same names, and the linker must not pick those.
#pragma once

#include <cuda.h>  // CUtensorMap (types only)
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "cuda/core/tensor_map_spec.hpp"  // the real spec and rules (not shadowed)
#include "emu_runtime.hpp"

namespace attnkit::cuda_core {

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
