// Device detection: on a machine with a GPU the CUDA tests run; without one they skip,
// and a device call reports "no CUDA device" instead of crashing.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>

#include "attnkit/attention.hpp"
#include "cuda/cuda_test_util.hpp"

namespace attnkit_test {
namespace {

TEST(CudaDevice, DetectsDeviceOrSkips) {
  const std::string why = cuda_device_problem();
  if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  int device = 0;
  ATTNKIT_CUDA_OK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  ATTNKIT_CUDA_OK(cudaGetDeviceProperties(&prop, device));
  RecordProperty("device", prop.name);
  EXPECT_GE(prop.major, 1);
}

TEST(CudaDevice, ForwardWithoutDeviceReportsCudaError) {
  if (cuda_device_problem().empty()) GTEST_SKIP() << "a CUDA device is present: this test covers machines without one";
  // Aligned placeholder addresses: validation never dereferences device pointers, and the
  // kernel must not be reached.
  auto fake = [](uintptr_t addr, std::initializer_list<int64_t> shape) {
    return attnkit::TensorView::contiguous(reinterpret_cast<void*>(addr), attnkit::DType::kBFloat16, shape,
                                           attnkit::DeviceKind::kCuda);
  };
  attnkit::AttentionParams p;
  p.q = fake(0x10000, {1, 64, 2, 64});
  p.k = fake(0x20000, {1, 64, 2, 64});
  p.v = fake(0x30000, {1, 64, 2, 64});
  p.o = fake(0x40000, {1, 64, 2, 64});
  const attnkit::Status s = attnkit::forward(p);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kCudaError) << s.message();
  EXPECT_NE(s.message().find("no CUDA device"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace attnkit_test
