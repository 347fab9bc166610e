// Emulated twin of cuda/core/smem_access.cuh (tests/emulation): the same loads and stores,
// reported to the race detector first.
#pragma once

#include <cstdint>
#include <cstring>

#include "emu_runtime.hpp"

namespace attnkit::cuda_core {
namespace emu_detail {

inline uint32_t shared_offset(const void* ptr) {
  const unsigned char* base = attnkit_emu::shared_base();
  const unsigned char* p = static_cast<const unsigned char*>(ptr);
  if (p < base || p >= base + attnkit_emu::shared_bytes()) {
    attnkit_emu::report_error("ld_shared / st_shared of a pointer outside the CTA's launched shared memory");
    return UINT32_MAX;
  }
  return static_cast<uint32_t>(p - base);
}

}  // namespace emu_detail

template <class T>
__device__ __forceinline__ T ld_shared(const T* ptr) {
  const uint32_t offset = emu_detail::shared_offset(ptr);
  if (offset == UINT32_MAX) return T{};
  attnkit_emu::smem_read(offset, sizeof(T));
  T value;
  std::memcpy(&value, ptr, sizeof(T));
  return value;
}

template <class T>
__device__ __forceinline__ void st_shared(T* ptr, const T& value) {
  const uint32_t offset = emu_detail::shared_offset(ptr);
  if (offset == UINT32_MAX) return;
  attnkit_emu::smem_write(offset, sizeof(T));
  std::memcpy(ptr, &value, sizeof(T));
}

}  // namespace attnkit::cuda_core
