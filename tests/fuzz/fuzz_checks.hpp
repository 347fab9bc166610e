// C API fuzzer checks run after decoding (forward, stats, block_mask_check) and the call printout.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"

namespace attnkit_fuzz {

/// With ATTNKIT_FUZZ_VERBOSE set, prints the decoded call (to turn a crash into a test).
void print_call(const attnkit_attention_params& p);

/// is_supported, explain and forward on the decoded call. Returns forward's status.
attnkit_status check_forward(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params);

/// attention_stats on the same call, with its own (mutated) outputs.
void check_stats(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params);

/// block_mask_check on the decoded mask: never crashes, writes nothing, and agrees with
/// forward's validation of a host mask.
void check_block_mask(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params,
                      attnkit_status forward_status);

}  // namespace attnkit_fuzz
