// Validation helpers shared by every entry point (SPEC 10): the structural tensor rules,
// exact shapes, option ranges. Used by validate.cpp and by the statistics, ACT, block-mask
// and planner entry points. Every message names the argument and the expected value;
// nothing here writes to any tensor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "attnkit/tensor.hpp"
#include "attnkit/status.hpp"

namespace attnkit::detail {

/// \brief ceil(a / b) for b > 0 (0 otherwise).
inline int64_t ceil_div(int64_t a, int64_t b) { return b > 0 ? a / b + (a % b > 0 ? 1 : 0) : 0; }  // no a + b - 1: a may be 2^63 - 1

/// \brief Structural rules of any tensor argument: rank 1 to 4, non-negative sizes and
/// strides, contiguous last dimension, non-null data when non-empty, lives on `device`.
Status check_tensor_view(const TensorView& t, const std::string& name, DeviceKind device);

/// \brief check_tensor_view plus the dtype and the exact shape; `shape_names` spells the
/// expected shape symbolically for the message (e.g. "[B, Hq, Sk]").
Status check_exact_tensor(const TensorView& t, const std::string& name, DeviceKind device, DType dtype,
                          std::initializer_list<int64_t> shape, const char* shape_names);

/// \brief A required tensor: kInvalidArgument naming it when absent, else check_exact_tensor.
Status check_required_tensor(const TensorView& t, const std::string& name, DeviceKind device, DType dtype,
                             std::initializer_list<int64_t> shape, const char* shape_names);

/// \brief `value` in [lo, hi] (NaN rejected), e.g. theta, beta, tau.
Status check_closed_range(double value, const std::string& name, double lo, double hi);

/// \brief kNotSupported for a host-only algorithm called with device tensors.
Status device_path_not_implemented(const std::string& what);

}  // namespace attnkit::detail
