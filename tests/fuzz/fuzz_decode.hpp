// C API fuzzer decoding: fuzz bytes -> a Call and the attnkit_attention_params over it.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

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

/// The decoder's choices that decide whether a call fits a plan (host/plan_rule.hpp):
/// layout, dtypes, head counts and dims, sequence lengths, block-mask block sizes.
struct Layout {
  bool varlen = false;
  int64_t batch = 0, hkv = 1, hq = 1, d = 8, dv = 8;
  int dtype = ATTNKIT_DTYPE_FLOAT32, kv_dtype = ATTNKIT_DTYPE_FLOAT32;
  uint32_t seed = 0;
  int64_t max_sq = 0, max_sk = 0;    // batched: Sq, Sk; varlen: the longest sequences
  std::vector<int64_t> sq, sk;       // varlen: one length per sequence
  int64_t spare_q = 0, spare_k = 0;  // varlen: rows past the last sequence
  bool mask = false;                 // a block mask is decoded (it may still end up absent)
  int block_q = 0, block_k = 0;
};

/// Decodes one call. Everything the decoder does not mutate is a valid call, so the
/// fuzzer reaches the CPU backend as often as it reaches validation errors. With
/// `forced`, the layout is `*layout` instead of one decoded from `in` (the rest, views,
/// contents and options, is decoded as usual); otherwise the decoded layout is stored there.
void decode(FuzzedDataProvider& in, Call* call, attnkit_attention_params* p, Layout* layout, bool forced);

/// Validation's cost grows with the declared batch even when every sequence is empty
/// (per-sequence bookkeeping, built from Q or cu_seqlens before the other tensors are
/// cross-checked; docs/reliability.md), so calls whose batch the fuzzer could never back
/// with data (over 2^16) are skipped.
bool huge_batch(const attnkit_attention_params& p);

/// Changes `layout` in one plan-relevant way (or not at all) for a second call on the same
/// plan; returns what changed, for the verbose printout.
const char* mutate_layout(FuzzedDataProvider& in, Layout* layout);

/// Float contents: deterministic normals, edge values, or raw fuzz bytes (FP8 kept finite
/// except in raw mode); marks the tensor for the "all inputs finite" rule.
void fill_float(FuzzedDataProvider& in, Backed* b, uint32_t seed);

}  // namespace attnkit_fuzz
