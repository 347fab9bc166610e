// C API fuzzer decoding: fuzz bytes -> a Call and the attnkit_attention_params over it.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <initializer_list>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"

namespace attnkit_fuzz {

/// Values for special-cased integers: the edges validation must handle.
int64_t special_int(FuzzedDataProvider& in, int64_t natural);

/// Builds a tensor around its "natural" (valid) shape and dtype, then applies the
/// mutations a flags byte asks for, and backs it with a buffer (or marks the call skipped).
Backed* make_tensor(FuzzedDataProvider& in, Call* call, std::initializer_list<int64_t> natural_shape, int natural_dtype,
                    bool is_output);

/// ceil(a / b) for a, b > 0 (0 otherwise).
int64_t ceil_div(int64_t a, int64_t b);

/// Decodes one call. Everything the decoder does not mutate is a valid call, so the
/// fuzzer reaches the CPU backend as often as it reaches validation errors.
void decode(FuzzedDataProvider& in, Call* call, attnkit_attention_params* p);

}  // namespace attnkit_fuzz
