// Shared by the examples: bf16 conversion and a buffer that lives on
// the GPU when one is present (ATTNKIT_EXAMPLE_CUDA and a usable device) and in host
// memory otherwise, so each example runs on whichever backend it finds and says which.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "attnkit/attention.hpp"

#ifdef ATTNKIT_EXAMPLE_CUDA
#include <cuda_runtime.h>
#endif

namespace example {

inline uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

inline float from_bf16(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

/// \brief True when the examples run on the GPU.
inline bool use_gpu() {
#ifdef ATTNKIT_EXAMPLE_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return false;
#endif
}

inline attnkit::DeviceKind where() { return use_gpu() ? attnkit::DeviceKind::kCuda : attnkit::DeviceKind::kHost; }

/// Bytes on the chosen side; `view` describes them.
class Buffer {
 public:
  Buffer(attnkit::DType dtype, std::initializer_list<int64_t> shape) {
    view = attnkit::TensorView::contiguous(nullptr, dtype, shape, where());
    bytes_ = static_cast<size_t>(view.numel()) * attnkit::dtype_size(dtype);
    host_.assign(bytes_ > 0 ? bytes_ : 1, 0);
#ifdef ATTNKIT_EXAMPLE_CUDA
    if (use_gpu()) {
      cudaMalloc(&device_, host_.size());
      cudaMemset(device_, 0, host_.size());
      view.data = device_;
      return;
    }
#endif
    view.data = host_.data();
  }
  ~Buffer() {
#ifdef ATTNKIT_EXAMPLE_CUDA
    if (device_ != nullptr) cudaFree(device_);
#endif
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  /// \brief Fills with bf16 normal noise (seeded).
  void fill_bf16(uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist;
    auto* p = reinterpret_cast<uint16_t*>(host_.data());
    for (size_t i = 0; i < bytes_ / 2; ++i) p[i] = to_bf16(dist(gen));
    upload();
  }
  /// \brief The host copy (downloaded from the GPU first when on the device).
  template <class T>
  const T* read() {
#ifdef ATTNKIT_EXAMPLE_CUDA
    if (device_ != nullptr) cudaMemcpy(host_.data(), device_, bytes_, cudaMemcpyDeviceToHost);
#endif
    return reinterpret_cast<const T*>(host_.data());
  }
  void upload() {
#ifdef ATTNKIT_EXAMPLE_CUDA
    if (device_ != nullptr) cudaMemcpy(device_, host_.data(), bytes_, cudaMemcpyHostToDevice);
#endif
  }

  attnkit::TensorView view;

 private:
  std::vector<unsigned char> host_;
  size_t bytes_ = 0;
  void* device_ = nullptr;
};

inline bool check(const attnkit::Status& s, const char* what) {
  if (s.is_ok()) return true;
  std::fprintf(stderr, "%s failed: %s\n", what, s.message().c_str());
  return false;
}

}  // namespace example
