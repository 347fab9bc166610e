// GPU test helpers: a fixture that skips without a device, owning device buffers, and
// copies of HostTensor views to and from the device (same shape and strides).
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "attnkit/tensor.hpp"
#include "common/test_tensors.hpp"

namespace attnkit_test {

/// \brief "" when a CUDA device is usable, else why not (the CUDA error string).
inline std::string cuda_device_problem() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return cudaGetErrorString(err);
  if (count == 0) return "cudaGetDeviceCount returned 0";
  return "";
}

/// Every GPU test derives from this: without a device the test is skipped, not failed.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = cuda_device_problem();
    if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

/// Same for parameterized suites.
template <class Param>
class CudaTestWithParam : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const std::string why = cuda_device_problem();
    if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

#define ATTNKIT_CUDA_OK(expr)                                                   \
  do {                                                                          \
    const cudaError_t attnkit_err_ = (expr);                                    \
    ASSERT_EQ(attnkit_err_, cudaSuccess) << #expr << ": " << cudaGetErrorString(attnkit_err_); \
  } while (0)

/// An owning device allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) { allocate(bytes); }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) { other.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(ptr_, other.ptr_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  cudaError_t allocate(size_t bytes) {
    bytes_ = bytes;
    return cudaMalloc(&ptr_, bytes > 0 ? bytes : 1);
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

/// A device copy of a host tensor's whole storage, and the same view on the device.
struct DeviceTensor {
  DeviceBuffer buffer;
  attnkit::TensorView view;
};

/// \brief Copies `host.bytes` to the device; `view` (a view into host.bytes, default the
/// tensor's own) is rebased onto the copy with the same byte offset, shape and strides.
inline DeviceTensor to_device(const HostTensor& host, const attnkit::TensorView* view = nullptr) {
  DeviceTensor d;
  const attnkit::TensorView& v = view != nullptr ? *view : host.view;
  if (d.buffer.allocate(host.bytes.size()) != cudaSuccess ||
      cudaMemcpy(d.buffer.get(), host.bytes.data(), host.bytes.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
    ADD_FAILURE() << "to_device: cudaMalloc/cudaMemcpy failed";
    return d;
  }
  d.view = v;
  const ptrdiff_t offset = static_cast<const unsigned char*>(v.data) - host.bytes.data();
  d.view.data = static_cast<unsigned char*>(d.buffer.get()) + offset;
  d.view.device = attnkit::DeviceKind::kCuda;
  return d;
}

/// \brief Copies a device tensor's whole storage back into `host` (same size).
inline void to_host(const DeviceTensor& d, HostTensor* host) {
  const cudaError_t err = cudaMemcpy(host->bytes.data(), d.buffer.get(), host->bytes.size(), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) ADD_FAILURE() << "to_host: " << cudaGetErrorString(err);
}

/// \brief A view of `t`'s storage with explicit shape and strides (elements) and an
/// element offset (for strided / packed layouts).
inline attnkit::TensorView strided_view(HostTensor& t, int64_t offset, std::initializer_list<int64_t> shape,
                                        std::initializer_list<int64_t> strides, attnkit::DType dtype) {
  return attnkit::TensorView::strided(t.bytes.data() + offset * attnkit::dtype_size(dtype), dtype, shape, strides);
}

}  // namespace attnkit_test
