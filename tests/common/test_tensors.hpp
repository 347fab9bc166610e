// Test helpers: owning host tensors, seeded random fills, NaN poisoning, and the
// element-wise comparison every test uses (relative L2 and max-abs error).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/tensor.hpp"
#include "host/numeric.hpp"

namespace attnkit_test {

using attnkit::DType;
using attnkit::TensorView;

/// An owning host tensor (contiguous unless a view over it is built by hand).
struct HostTensor {
  std::vector<unsigned char> bytes;
  TensorView view;

  HostTensor() = default;
  HostTensor(DType dtype, std::initializer_list<int64_t> shape) { reset(dtype, shape); }
  // Copies own their bytes: the copy's view points into the copy, at the same offset.
  HostTensor(const HostTensor& other) : bytes(other.bytes), view(other.view) { rebind(other); }
  HostTensor& operator=(const HostTensor& other) {
    if (this != &other) {
      bytes = other.bytes;
      view = other.view;
      rebind(other);
    }
    return *this;
  }
  HostTensor(HostTensor&&) noexcept = default;  // a moved vector keeps its buffer
  HostTensor& operator=(HostTensor&&) noexcept = default;

  void reset(DType dtype, std::initializer_list<int64_t> shape) {
    TensorView t = TensorView::contiguous(nullptr, dtype, shape);
    int64_t n = t.numel();
    bytes.assign(static_cast<size_t>(n > 0 ? n : 1) * attnkit::dtype_size(dtype), 0);
    t.data = bytes.data();
    view = t;
  }
  int64_t numel() const { return view.numel(); }
  void rebind(const HostTensor& other) {
    const auto* base = other.bytes.data();
    const auto* at = static_cast<const unsigned char*>(other.view.data);
    const bool inside = at >= base && at < base + other.bytes.size();
    view.data = inside ? bytes.data() + (at - base) : other.view.data;
  }
  double get(int64_t i) const { return attnkit::detail::load_as_double(view, i); }
  void set(int64_t i, double v) { attnkit::detail::store_from_double(view, i, v); }
  template <class T> T* ptr() { return reinterpret_cast<T*>(bytes.data()); }
  template <class T> const T* ptr() const { return reinterpret_cast<const T*>(bytes.data()); }
};

/// Seeded generator: every test names its seed so failures reproduce.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen_); }
  double normal(double mean = 0.0, double sd = 1.0) { return std::normal_distribution<double>(mean, sd)(gen_); }
  int64_t integer(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  std::mt19937_64& engine() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

/// Fills with N(0, sd) values (rounded to the tensor's dtype); never all zeros.
inline void fill_normal(HostTensor& t, Rng& rng, double sd = 1.0) {
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.normal(0.0, sd));
}
inline void fill_uniform(HostTensor& t, Rng& rng, double lo, double hi) {
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(lo, hi));
}
/// Poisons an output before a call: anything the call fails to write stays NaN.
inline void fill_nan(HostTensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, std::numeric_limits<double>::quiet_NaN());
}
inline HostTensor make_normal(DType dtype, std::initializer_list<int64_t> shape, Rng& rng, double sd = 1.0) {
  HostTensor t(dtype, shape);
  fill_normal(t, rng, sd);
  return t;
}
inline HostTensor make_nan(DType dtype, std::initializer_list<int64_t> shape) {
  HostTensor t(dtype, shape);
  fill_nan(t);
  return t;
}
inline HostTensor make_int32(std::initializer_list<int64_t> shape, const std::vector<int32_t>& values) {
  HostTensor t(DType::kInt32, shape);
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i) t.ptr<int32_t>()[i] = values[i];
  return t;
}

/// Result of comparing two tensors element by element.
struct ErrorStats {
  double rel_l2 = 0.0;   // ||got - ref||_2 / max(||ref||_2, tiny)
  double max_abs = 0.0;  // max |got - ref| over finite pairs
  int64_t mismatched_nonfinite = 0;  // positions where got and ref disagree on NaN / inf
  int64_t count = 0;

  std::string str() const {
    return "rel_l2=" + std::to_string(rel_l2) + " max_abs=" + std::to_string(max_abs) +
           " nonfinite_mismatch=" + std::to_string(mismatched_nonfinite) + " n=" + std::to_string(count);
  }
};

/// Compares logical elements (read through each view's strides is not needed: both are
/// contiguous tensors of the same numel). Equal infinities count as equal.
inline ErrorStats compare(const HostTensor& got, const HostTensor& ref) {
  ErrorStats e;
  double num = 0.0, den = 0.0;
  const int64_t n = std::min(got.numel(), ref.numel());
  e.count = n;
  if (got.numel() != ref.numel()) e.mismatched_nonfinite = std::abs(got.numel() - ref.numel());
  for (int64_t i = 0; i < n; ++i) {
    const double a = got.get(i), b = ref.get(i);
    if (!std::isfinite(a) || !std::isfinite(b)) {
      if (!(a == b)) ++e.mismatched_nonfinite;  // NaN never equals; inf must match inf
      continue;
    }
    num += (a - b) * (a - b);
    den += b * b;
    e.max_abs = std::max(e.max_abs, std::abs(a - b));
  }
  e.rel_l2 = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
  if (den == 0.0 && num == 0.0) e.rel_l2 = 0.0;
  return e;
}

/// LSE tolerance against the CPU reference: 1e-4 absolute, widened by one float32 unit in
/// the last place for huge values (a sink logit of 1e4 or 3e38). The emulated kernels reach
/// about 1e-6 on O(1) values and are exact where a sink dominates; the old 1e-3 (plus 1e-7
/// relative) hid the decode finalize's double rounding. Non-finite entries must match
/// exactly (checked through compare()'s mismatched_nonfinite).
inline constexpr double kLseTolerance = 1e-4;

/// \brief The largest |got - ref| / (1 + 1.2e-3 |ref|) over finite pairs, held to
/// kLseTolerance: |got - ref| <= 1e-4 + 1.2e-7 |ref| (2^-23 = 1.19e-7).
inline double lse_error(const HostTensor& got, const HostTensor& ref) {
  double worst = 0.0;
  const int64_t n = std::min(got.numel(), ref.numel());
  for (int64_t i = 0; i < n; ++i) {
    const double a = got.get(i), b = ref.get(i);
    if (std::isfinite(a) && std::isfinite(b)) worst = std::max(worst, std::abs(a - b) / (1.0 + 1.2e-3 * std::abs(b)));
  }
  return worst;
}

/// Tolerances by dtype for a kernel against the CPU reference (docs/testing.md).
struct Tolerance {
  double rel_l2;
  double max_abs;
};
inline Tolerance tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::kBFloat16: return {1e-2, 6e-2};
    case DType::kFloat16: return {2e-3, 1e-2};
    default: return {1e-5, 1e-5};
  }
}

}  // namespace attnkit_test

namespace attnkit_test {

/// True when a CUDA device would run a call: then tests that hand the library fake device
/// pointers (to check host-side validation) must skip, since a kernel would dereference them.
/// Decided through the library, so CPU-only test binaries need no cudart.
inline bool cuda_device_usable() {
  static char fake[64];
  attnkit::AttentionParams p;
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(fake) + 15) & ~uintptr_t{15});
  p.q = p.k = p.v = p.o = TensorView::contiguous(aligned, DType::kFloat16, {1, 1, 1, 64}, attnkit::DeviceKind::kCuda);
  return attnkit::is_supported(p);
}

/// What a device call returns on a machine where no kernel can run: kNotSupported when the
/// library was built without CUDA, kCudaError when no device is present.
inline bool is_no_device_status(const attnkit::Status& s) {
  return s.code() == attnkit::StatusCode::kNotSupported || s.code() == attnkit::StatusCode::kCudaError;
}

}  // namespace attnkit_test
