// One emulated kernel run against the CPU reference over the same host buffers, held to
// the GPU suites' tolerances (tests/cuda): shared by the forward and decode emulations.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "emu_runtime.hpp"

namespace attnkit_test {

/// What one emulated run produced against the reference.
struct Outcome {
  attnkit::Status status;
  ErrorStats o;
  ErrorStats lse;
  double lse_worst = 0.0;  // lse_error(got, ref)
  bool has_lse = false;

  bool within(const Tolerance& tol) const {
    return status.is_ok() && o.mismatched_nonfinite == 0 && o.rel_l2 <= tol.rel_l2 && o.max_abs <= tol.max_abs &&
           (!has_lse || (lse.mismatched_nonfinite == 0 && lse_worst <= kLseTolerance));
  }
};

/// \brief Runs `host` on the CPU reference, then (O and LSE re-poisoned with NaN) through
/// `emulated`, and compares every element of O and LSE.
inline Outcome run_against_reference(BuiltCall& host,
                                     const std::function<attnkit::Status(const attnkit::AttentionParams&)>& emulated) {
  Outcome out;
  const attnkit::Status ref = attnkit::forward(host.params);
  if (!ref.is_ok()) {
    out.status = attnkit::Status(ref.code(), "CPU reference: " + ref.message());
    return out;
  }
  const HostTensor o_ref = clone(*host.o);
  const HostTensor lse_ref = host.lse != nullptr ? clone(*host.lse) : HostTensor();
  fill_nan(*host.o);
  if (host.lse != nullptr) fill_nan(*host.lse);

  out.status = emulated(host.params);
  if (!out.status.is_ok()) return out;
  out.o = compare(*host.o, o_ref);
  if (host.lse != nullptr) {
    out.has_lse = true;
    out.lse = compare(*host.lse, lse_ref);
    out.lse_worst = lse_error(*host.lse, lse_ref);
  }
  return out;
}

/// \brief The gtest expectations of one curated case (`context` is appended to failures).
inline void expect_within(const Outcome& r, const Tolerance& tol, const std::string& context = "") {
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.o.mismatched_nonfinite, 0) << "O: " << r.o.str() << context;
  EXPECT_LE(r.o.rel_l2, tol.rel_l2) << "O: " << r.o.str() << context;
  EXPECT_LE(r.o.max_abs, tol.max_abs) << "O: " << r.o.str() << context;
  if (r.has_lse) {
    EXPECT_EQ(r.lse.mismatched_nonfinite, 0) << "LSE: " << r.lse.str() << context;
    EXPECT_LE(r.lse_worst, kLseTolerance) << "LSE: " << r.lse.str() << context;
  }
}

/// Sets an emulator fault (attnkit_emu::Fault) for one scope.
class ScopedFault {
 public:
  explicit ScopedFault(attnkit_emu::Fault f) { attnkit_emu::g_fault = f; }
  ~ScopedFault() { attnkit_emu::g_fault = attnkit_emu::Fault::kNone; }
  ScopedFault(const ScopedFault&) = delete;
  ScopedFault& operator=(const ScopedFault&) = delete;
};

}  // namespace attnkit_test
