// attnkit: a non-owning strided view of a tensor in host or device memory.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace attnkit {

/// \brief Element types. Q, K, V and O share one of the floating types; auxiliary
/// inputs are float32; indices are int32; boolean matrices are uint8 (0 / nonzero).
enum class DType : int {
  kFloat32 = 0,
  kFloat16 = 1,
  kBFloat16 = 2,
  kInt32 = 3,
  kUInt8 = 4,
  kFloat8E4M3 = 5,  ///< OCP FP8 E4M3 ("e4m3fn": bias 7, no infinities, NaN = S.1111.111); K/V caches only
  kFloat8E5M2 = 6,  ///< OCP FP8 E5M2 (bias 15, IEEE-like infinities and NaNs); K/V caches only
};

/// \brief Where a tensor's memory lives. All tensors of one call live on one side.
enum class DeviceKind : int {
  kHost = 0,
  kCuda = 1,
};

inline constexpr int kMaxRank = 4;

/// \brief Size in bytes of one element of `dtype`.
constexpr int dtype_size(DType dtype) {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16 ? 2
         : dtype == DType::kUInt8 || dtype == DType::kFloat8E4M3 || dtype == DType::kFloat8E5M2 ? 1
                                                                                                 : 4;
}

/// \brief Printable name of `dtype` ("float32", "float16", ...).
const char* dtype_name(DType dtype);

/// \brief A non-owning view: base pointer, dtype, shape and int64 strides counted in
/// elements. A view with rank 0 is "absent" (used for optional arguments).
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int rank = 0;
  int64_t shape[kMaxRank] = {0, 0, 0, 0};
  int64_t stride[kMaxRank] = {0, 0, 0, 0};
  DeviceKind device = DeviceKind::kHost;

  /// \brief True when the argument was given (rank > 0).
  bool present() const { return rank > 0; }

  /// \brief Number of elements (product of the shape).
  int64_t numel() const {
    if (rank <= 0 || rank > kMaxRank) return 0;
    for (int i = 0; i < rank; ++i) {
      if (shape[i] <= 0) return 0;
    }
    uint64_t n = 1;  // unsigned: a product past 2^63 wraps instead of being undefined
    for (int i = 0; i < rank; ++i) n *= static_cast<uint64_t>(shape[i]);
    return static_cast<int64_t>(n);  // validation rejects shapes whose count overflows
  }

  /// \brief A row-major contiguous view of `shape`.
  static TensorView contiguous(void* data, DType dtype, std::initializer_list<int64_t> shape,
                               DeviceKind device = DeviceKind::kHost) {
    TensorView t;
    t.data = data;
    t.dtype = dtype;
    t.device = device;
    t.rank = static_cast<int>(shape.size() > kMaxRank ? kMaxRank + 1 : shape.size());
    if (t.rank > kMaxRank) {  // rejected later by validation, never indexed
      t.rank = kMaxRank + 1;
      return t;
    }
    int i = 0;
    for (int64_t s : shape) t.shape[i++] = s;
    uint64_t acc = 1;  // unsigned for the same reason as numel()
    for (int d = t.rank - 1; d >= 0; --d) {
      t.stride[d] = static_cast<int64_t>(acc);
      acc *= t.shape[d] > 0 ? static_cast<uint64_t>(t.shape[d]) : 1;
    }
    return t;
  }

  /// \brief A view with explicit strides (elements). `strides` must have as many
  /// entries as `shape`.
  static TensorView strided(void* data, DType dtype, std::initializer_list<int64_t> shape,
                            std::initializer_list<int64_t> strides,
                            DeviceKind device = DeviceKind::kHost) {
    TensorView t = contiguous(data, dtype, shape, device);
    if (t.rank > kMaxRank || strides.size() != shape.size()) {
      t.rank = kMaxRank + 1;  // rejected by validation
      return t;
    }
    int i = 0;
    for (int64_t s : strides) t.stride[i++] = s;
    return t;
  }
};

}  // namespace attnkit
