// Argument validation for every public entry point (SPEC 10).
#pragma once

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/problem.hpp"

namespace attnkit::detail {

/// \brief Checks every SPEC 1-6 rule for `params` (which tensors are required depends
/// on `kind`) and fills `problem`. On error the message names the argument and the
/// expected value, and nothing has been written anywhere.
Status validate_attention(const AttentionParams& params, CallKind kind, Problem* problem);

/// \brief SPEC 1 layout: batched, varlen or paged; fills the shape and per-sequence
/// lengths of `problem` (host lengths only when they live in host memory).
Status resolve_layout(const AttentionParams& params, Problem* problem);

/// \brief kNotSupported naming k when `problem` has an FP8 KV cache: only forward, plan and
/// run (and is_supported / explain) take one. Statistics, ACT and the planners call it right
/// after validate_attention, before choosing a backend, so both backends refuse alike.
Status refuse_fp8_kv_cache(const Problem& problem, const char* entry_point);

/// \brief Shorthand for an kInvalidArgument status.
Status invalid(const std::string& message);

/// \brief "[a, b, c]" for messages.
std::string shape_string(const TensorView& t);

}  // namespace attnkit::detail
