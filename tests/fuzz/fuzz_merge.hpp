// C API fuzzer for merge_states (include/attnkit/attnkit_merge.h): decoding and checks.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

namespace attnkit_fuzz {

/// Decodes one attnkit_merge_states call (partial states, outputs that may alias them,
/// sink, gate, num_parts from 0 and negative to large) and checks it: never a crash; on
/// error a message and nothing written; on success no write outside the output views, no
/// NaN in a (row, head) whose reads are all finite (a part at LSE = -inf is never read),
/// the documented empty-row and single-part results, and no overlap the rules forbid.
void fuzz_merge_states(FuzzedDataProvider& in);

}  // namespace attnkit_fuzz
