// Host stand-ins for the CUDA runtime calls the real launchers make (tests/emulation): an
// H100-like device for the device queries, and host memory for the stream-ordered
// allocations and copies, so that cuda/*/…_launch.cu runs unchanged on the emulator.
//
// Include after <cuda_runtime.h> (emu_runtime.hpp includes it) and before the launcher
// source: the macros below rename the runtime calls for the rest of the translation unit.
// Every emulated launch is synchronous, so "async" is simply "now".
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace attnkit_emu::cuda_api {

/// The device every emulated query describes: an H100 SXM (sm_90, 132 SMs, 227 KB
/// opt-in shared memory per block), which the decode split heuristics are tuned for.
inline constexpr int kMajor = 9;
inline constexpr int kMinor = 0;
inline constexpr int kSms = 132;
inline constexpr int kSmemOptin = 232448;
inline constexpr int kSmemPerSm = 233472;

inline cudaError_t get_device(int* device) {
  *device = 0;
  return cudaSuccess;
}

inline cudaError_t device_get_attribute(int* value, cudaDeviceAttr attribute, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  switch (attribute) {
    case cudaDevAttrComputeCapabilityMajor: *value = kMajor; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = kMinor; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = kSms; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = kSmemOptin; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = kSmemPerSm; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 48 * 1024; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; return cudaSuccess;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; return cudaSuccess;
    case cudaDevAttrWarpSize: *value = 32; return cudaSuccess;
    default: return cudaErrorInvalidValue;
  }
}

/// \brief Host memory, 256-byte aligned like cudaMalloc's, filled with 0xff bytes (NaN in
/// every float type), so that a kernel reading workspace nobody wrote sees NaN.
inline cudaError_t malloc_async(void** ptr, size_t bytes, cudaStream_t) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  *ptr = std::aligned_alloc(256, rounded == 0 ? 256 : rounded);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  std::memset(*ptr, 0xff, rounded == 0 ? 256 : rounded);
  return cudaSuccess;
}

inline cudaError_t free_async(void* ptr, cudaStream_t) {
  std::free(ptr);
  return cudaSuccess;
}

inline cudaError_t memset_async(void* ptr, int value, size_t bytes, cudaStream_t = nullptr) {
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

inline cudaError_t memcpy_async(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t = nullptr) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

inline cudaError_t stream_synchronize(cudaStream_t) { return cudaSuccess; }

}  // namespace attnkit_emu::cuda_api

#define cudaGetDevice ::attnkit_emu::cuda_api::get_device
#define cudaDeviceGetAttribute ::attnkit_emu::cuda_api::device_get_attribute
#define cudaMallocAsync ::attnkit_emu::cuda_api::malloc_async
#define cudaFreeAsync ::attnkit_emu::cuda_api::free_async
#define cudaMemsetAsync ::attnkit_emu::cuda_api::memset_async
#define cudaMemcpyAsync ::attnkit_emu::cuda_api::memcpy_async
#define cudaStreamSynchronize ::attnkit_emu::cuda_api::stream_synchronize
