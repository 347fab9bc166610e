#include "host/validate_outputs.hpp"

#include <cmath>
#include <cstdint>
#include <sstream>

#include "host/validate.hpp"

namespace attnkit::detail {

namespace {

const char* side_name(DeviceKind d) { return d == DeviceKind::kHost ? "the host" : "a CUDA device"; }

}  // namespace

Status check_tensor_view(const TensorView& t, const std::string& name, DeviceKind device) {
  if (t.rank < 1 || t.rank > kMaxRank) {
    return invalid(name + ": expected rank 1 to 4, got rank " + std::to_string(t.rank) +
                   " (shape and strides must have the same length)");
  }
  for (int i = 0; i < t.rank; ++i) {
    if (t.shape[i] < 0) {
      return invalid(name + ".shape[" + std::to_string(i) + "] = " + std::to_string(t.shape[i]) + ": expected >= 0");
    }
    if (t.stride[i] < 0) {
      return invalid(name + ".stride[" + std::to_string(i) + "] = " + std::to_string(t.stride[i]) +
                     ": expected >= 0 (negative strides are not supported)");
    }
  }
  if (t.shape[t.rank - 1] > 1 && t.stride[t.rank - 1] != 1) {
    return invalid(name + ".stride[" + std::to_string(t.rank - 1) + "] = " + std::to_string(t.stride[t.rank - 1]) +
                   ": expected 1 (the last dimension must be contiguous)");
  }
  // Every offset is computed in int64 (docs/reliability.md): a non-empty view whose element
  // count or largest byte offset does not fit addresses no real memory, and computing
  // either would overflow. (Not numel(): [13, 3, 2^63 - 1, 0] overflows it.)
  bool empty = false;
  for (int i = 0; i < t.rank; ++i) empty = empty || t.shape[i] == 0;
  if (!empty) {
    int64_t count = 1, last = 0, reach = 0;
    bool overflow = false;
    for (int i = 0; i < t.rank && !overflow; ++i) {
      overflow = __builtin_mul_overflow(count, t.shape[i], &count) ||
                 __builtin_mul_overflow(t.shape[i] - 1, t.stride[i], &reach) || __builtin_add_overflow(last, reach, &last);
    }
    overflow = overflow || __builtin_add_overflow(last, int64_t{1}, &reach) ||
               __builtin_mul_overflow(reach, int64_t{dtype_size(t.dtype)}, &reach);
    if (overflow) {
      return invalid(name + ": shape " + shape_string(t) + " with its strides addresses more than 2^63 bytes; " +
                     "expected an element count and byte offsets that fit in int64");
    }
  }
  if (!empty && t.data == nullptr) {
    return invalid(name + ": data is null for a non-empty tensor of shape " + shape_string(t));
  }
  // The host backend reads elements through typed pointers, and kernels need at least this.
  if (reinterpret_cast<uintptr_t>(t.data) % static_cast<uintptr_t>(dtype_size(t.dtype)) != 0) {
    return invalid(name + ": data is not aligned to its element size (" + std::to_string(dtype_size(t.dtype)) +
                   " bytes for " + dtype_name(t.dtype) + ")");
  }
  if (t.device != device) {
    return invalid(name + ": lives on " + side_name(t.device) + " but q lives on " + side_name(device) +
                   "; all tensors of a call must live on the same side");
  }
  return Status::ok();
}

Status check_exact_tensor(const TensorView& t, const std::string& name, DeviceKind device, DType dtype,
                          std::initializer_list<int64_t> shape, const char* shape_names) {
  if (Status s = check_tensor_view(t, name, device); !s) return s;
  if (t.dtype != dtype) {
    return invalid(name + ": expected dtype " + dtype_name(dtype) + ", got " + dtype_name(t.dtype));
  }
  bool ok = t.rank == static_cast<int>(shape.size());
  int i = 0;
  for (int64_t s : shape) {
    if (ok && t.shape[i] != s) ok = false;
    ++i;
  }
  if (!ok) {
    std::ostringstream want;
    want << "[";
    i = 0;
    for (int64_t s : shape) want << (i++ ? ", " : "") << s;
    want << "]";
    return invalid(name + ": expected shape " + shape_names + " = " + want.str() + ", got " + shape_string(t));
  }
  return Status::ok();
}

Status check_required_tensor(const TensorView& t, const std::string& name, DeviceKind device, DType dtype,
                             std::initializer_list<int64_t> shape, const char* shape_names) {
  if (!t.present()) return invalid(name + ": required, got an absent tensor");
  return check_exact_tensor(t, name, device, dtype, shape, shape_names);
}

Status check_closed_range(double value, const std::string& name, double lo, double hi) {
  if (!(value >= lo && value <= hi)) {  // also rejects NaN
    std::ostringstream s;
    s << name << " = " << value << ": expected a value in [" << lo << ", " << hi << "]";
    return invalid(s.str());
  }
  return Status::ok();
}

Status device_path_not_implemented(const std::string& what) {
  return Status(StatusCode::kNotSupported, what +
                                               ": the GPU path is not implemented yet; call it with host tensors "
                                               "(the CPU reference implements it)");
}

}  // namespace attnkit::detail
