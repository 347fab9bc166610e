// C API internals shared by c_api.cpp: last-error buffer, Status mapping, checked C <-> C++ conversion.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "attnkit/attention.hpp"
#include "attnkit/attnkit.h"

namespace attnkit::c_api_detail {

// A fixed buffer rather than a std::string: recording an error must never allocate
// (it also reports std::bad_alloc) and so can never throw.
constexpr size_t kErrorCapacity = 4096;
extern thread_local char t_last_error[kErrorCapacity];

/// Copies `message` (null reads as "") into the last-error buffer, truncating; never throws.
void set_error(const char* message) noexcept;

/// Maps a Status to its C code and records its message (clears it on success).
attnkit_status finish(const Status& status) noexcept;

/// Runs `body` (which returns a Status) and converts the result; any exception becomes
/// ATTNKIT_STATUS_INTERNAL, since a C caller cannot catch it.
template <class Body>
attnkit_status guarded(Body&& body) noexcept {
  try {
    return finish(body());
  } catch (const std::bad_alloc&) {
    set_error("internal error: out of memory");
  } catch (const std::exception& e) {
    std::snprintf(t_last_error, kErrorCapacity, "internal error: %s", e.what());
  } catch (...) {
    set_error("internal error: unknown exception");
  }
  return ATTNKIT_STATUS_INTERNAL;
}

Status invalid(const std::string& message);

/// kInvalidArgument naming `name` when `pointer` is null.
Status require(const void* pointer, const char* name);

// ---- C -> C++ (every enum is range-checked before the cast) ------------------

/// A rank-0 tensor is absent: its other fields are ignored, as the C++ API ignores them.
Status to_cpp(const attnkit_tensor& c, const char* name, TensorView* out);
Status to_cpp(const attnkit_block_mask& c, const std::string& name, BlockMask* out);
Status to_cpp(const attnkit_rectification& c, const std::string& name, Rectification* out);
Status to_cpp(const attnkit_attention_params* c, AttentionParams* out);
Status to_cpp(const attnkit_stats_outputs* c, StatsOutputs* out);
Status to_cpp(const attnkit_act_options* c, ActOptions* out);
Status to_cpp(const attnkit_sink_sets* c, const char* name, SinkSets* out);
Status to_cpp(const attnkit_sparsed_options* c, SparseDOptions* out);
/// SparseDSchedule returns no Status, so the C layer keeps it away from values whose
/// floor(T * skip) would not fit an int (or is NaN).
Status to_cpp(const attnkit_sparsed_schedule* c, SparseDSchedule* out);
Status to_cpp(const attnkit_rectified_options* c, RectifiedOptions* out);
Status to_cpp(const attnkit_rectified_plan_outputs* c, const char* name, RectifiedPlan* out);

// ---- C++ -> C (defaults come from the C++ structs, so they can never drift) ----

attnkit_tensor to_c(const TensorView& t) noexcept;
attnkit_block_mask to_c(const BlockMask& m) noexcept;
attnkit_rectification to_c(const Rectification& r) noexcept;
attnkit_attention_params to_c(const AttentionParams& p) noexcept;

/// Builds a tensor that to_cpp rejects by its rank (the helpers cannot report errors).
attnkit_tensor rejected_tensor(void* data, int dtype, int rank, int device) noexcept;

}  // namespace attnkit::c_api_detail
