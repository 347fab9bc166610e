// libFuzzer target for the C API (docs/reliability.md): random bytes become an
// attnkit_attention_params (shapes, strides, dtypes, options, auxiliary arrays, varlen
// offsets, block masks, rectification, gate), then attnkit_is_supported, attnkit_explain,
// attnkit_forward and plan / run (attnkit_plan_create, attnkit_run on the same call and on a
// second call of a mutated shape) run on it. Built with ASan + UBSan, so an out-of-bounds
// access or undefined behaviour in the library is a crash; the checks turn broken promises
// into crashes too:
//   1. is_supported, explain, forward and plan_create agree (one select_kernel feeds all);
//   2. on error, every output buffer is bit-for-bit untouched and last_error is set;
//   3. on success, no byte outside the O / LSE views changed, and when every float
//      input that the library does not validate (q, k, v, rectify.r/c, gate.g) is
//      finite, no element of O or LSE is NaN (outputs are pre-filled with NaN, so this
//      also proves every element was written);
//   4. inputs are never modified;
//   5. run on the planned call gives forward's status and bytes (the CPU backend is
//      deterministic); a second call that does not fit the plan (a larger batch, Sq or Sk,
//      another dtype, head count or dim, layout or block mask) is refused with
//      kInvalidArgument and writes nothing, one that fits gives forward's bytes.
// An input whose first byte is 0xED decodes an attnkit_merge_states call instead
// (fuzz_merge.cpp); 0xEE runs the null-pointer paths.
//
// The fuzzer must not blame the library for its own bugs: every tensor is backed by a
// buffer that covers every element its declared shape and strides can address (negative
// strides included: the data pointer then sits inside the buffer). When that span is
// over kMaxSpanElements the input is skipped. Tensors that claim to live on a CUDA
// device point at a PROT_NONE page, so a host read of one is a crash.
//
// Decoding lives in fuzz_decode.cpp, the checks in fuzz_checks.cpp, merge_states in
// fuzz_merge.cpp, the shared model of a call in fuzz_call.hpp; this file holds the entry point.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"
#include "fuzz_checks.hpp"
#include "fuzz_decode.hpp"
#include "fuzz_merge.hpp"

namespace {

using attnkit_fuzz::Call;
using attnkit_fuzz::check_block_mask;
using attnkit_fuzz::check_forward;
using attnkit_fuzz::check_plan_run;
using attnkit_fuzz::check_stats;
using attnkit_fuzz::decode;
using attnkit_fuzz::fuzz_merge_states;
using attnkit_fuzz::huge_batch;
using attnkit_fuzz::Layout;
using attnkit_fuzz::print_call;

constexpr uint8_t kMergeSelector = 0xED;
constexpr uint8_t kNullSelector = 0xEE;

void check_null_pointers() {
  FUZZ_CHECK(attnkit_forward(nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "forward(NULL)");
  FUZZ_CHECK(attnkit_is_supported(nullptr) == 0, "is_supported(NULL)");
  FUZZ_CHECK(attnkit_explain(nullptr, nullptr, 0, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "explain(NULL)");
  FUZZ_CHECK(attnkit_attention_stats(nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "attention_stats(NULL)");
  FUZZ_CHECK(attnkit_block_mask_check(nullptr, 1, nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT,
             "block_mask_check(NULL)");
  int not_a_plan = 0;
  attnkit_plan* plan = reinterpret_cast<attnkit_plan*>(&not_a_plan);
  FUZZ_CHECK(attnkit_plan_create(nullptr, &plan) == ATTNKIT_STATUS_INVALID_ARGUMENT && plan == nullptr,
             "plan_create(NULL, &plan)");
  FUZZ_CHECK(attnkit_last_error()[0] != '\0', "plan_create(NULL, &plan) without a message");
  FUZZ_CHECK(attnkit_plan_create(nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "plan_create(NULL, NULL)");
  FUZZ_CHECK(attnkit_last_error()[0] != '\0', "plan_create(NULL, NULL) without a message");
  FUZZ_CHECK(attnkit_run(nullptr, nullptr, nullptr, 0) == ATTNKIT_STATUS_INVALID_ARGUMENT, "run(NULL, NULL)");
  FUZZ_CHECK(attnkit_last_error()[0] != '\0', "run(NULL, NULL) without a message");
  FUZZ_CHECK(attnkit_plan_workspace_bytes(nullptr) == 0, "plan_workspace_bytes(NULL)");
  attnkit_plan_destroy(nullptr);
  FUZZ_CHECK(attnkit_merge_states(nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "merge_states(NULL)");
  FUZZ_CHECK(attnkit_last_error()[0] != '\0', "merge_states(NULL) without a message");
  attnkit_merge_states_params_init(nullptr);
  attnkit_merge_states_params m;
  attnkit_merge_states_params_init(&m);  // no parts: refused, naming num_parts
  FUZZ_CHECK(m.num_parts == 0 && m.o_parts == nullptr && m.lse_parts == nullptr && m.o.rank == 0 && m.lse.rank == 0 &&
                 m.sink_logit.rank == 0 && m.gate.g.rank == 0 && m.gate.activation == ATTNKIT_GATE_SIGMOID &&
                 m.stream == nullptr,
             "merge_states_params_init defaults");
  FUZZ_CHECK(attnkit_merge_states(&m) == ATTNKIT_STATUS_INVALID_ARGUMENT, "merge_states(defaults)");
  FUZZ_CHECK(std::strstr(attnkit_last_error(), "num_parts") != nullptr, "merge_states(defaults) says '%s'",
             attnkit_last_error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (size > 0 && data[0] == kNullSelector) {
    check_null_pointers();
    return 0;
  }
  if (size > 0 && data[0] == kMergeSelector) {
    fuzz_merge_states(in);
    return 0;
  }
  Call call;
  attnkit_attention_params params;
  Layout layout;
  decode(in, &call, &params, &layout, /*forced=*/false);
  if (call.skip) return -1;  // not added to the corpus
  if (huge_batch(params)) return -1;
  print_call(params);

  const attnkit_status status = check_forward(in, &call, params);
  check_plan_run(in, &call, params, layout, status);
  const uint8_t extra = in.ConsumeIntegral<uint8_t>();
  if (extra & 1) check_block_mask(in, &call, params, status);
  if (extra & 2) check_stats(in, &call, params);
  return 0;
}
