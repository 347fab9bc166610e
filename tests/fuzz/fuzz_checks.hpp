// C API fuzzer checks run after decoding (forward, plan / run, stats, block_mask_check), the
// shared snapshot and element helpers, and the call printout.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"

namespace attnkit_fuzz {

struct Layout;

inline constexpr uint8_t kSentinel = 0xFF;  // NaN in float32, float16 and bfloat16; -1 in int32

/// Is the element at `p` (of a float dtype, FP8 included) NaN / finite?
bool element_is_nan(const uint8_t* p, int dtype);
bool element_is_finite(const uint8_t* p, int dtype);

/// The value of a float32 / float16 / bfloat16 element at `p`.
double element_value(const uint8_t* p, int dtype);

/// Snapshot of every buffer, to prove what changed.
std::vector<std::vector<uint8_t>> snapshot(const Call& call);

/// Which bytes of `b`'s buffer its view addresses (element size of its dtype).
std::vector<bool> addressed_bytes(const Backed& b);

/// Pre-fills the outputs among call->tensors[first..] with kSentinel (NaN).
void fill_outputs(Call* call, size_t first = 0);

/// With ATTNKIT_FUZZ_VERBOSE set, prints the decoded call (to turn a crash into a test).
/// \brief One tensor on stderr (rank 0: nothing), for the decoded-call printers.
void print_tensor(const char* name, const attnkit_tensor& t);

void print_call(const attnkit_attention_params& p);

/// is_supported, explain and forward on the decoded call. Returns forward's status.
attnkit_status check_forward(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params);

/// attention_stats on the same call, with its own (mutated) outputs.
void check_stats(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params);

/// plan / run (attnkit_plan_create, attnkit_plan_workspace_bytes, attnkit_run,
/// attnkit_plan_destroy) on the decoded call: the plan agrees with forward, running the same
/// call gives forward's status and bytes, and a second call decoded from a mutated `layout`
/// is refused without a write when it does not fit the plan and matches forward when it does.
void check_plan_run(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params, const Layout& layout,
                    attnkit_status forward_status);

/// block_mask_check on the decoded mask: never crashes, writes nothing, and agrees with
/// forward's validation of a host mask.
void check_block_mask(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params,
                      attnkit_status forward_status);

}  // namespace attnkit_fuzz
