// libFuzzer target for the C API (docs/reliability.md): random bytes become an
// attnkit_attention_params (shapes, strides, dtypes, options, auxiliary arrays, varlen
// offsets, block masks, rectification, gate), then attnkit_is_supported, attnkit_explain
// and attnkit_forward run on it. Built with ASan + UBSan, so an out-of-bounds access or
// undefined behaviour in the library is a crash; the checks below turn broken promises
// into crashes too:
//   1. is_supported, explain and forward agree (one select_kernel feeds all three);
//   2. on error, every output buffer is bit-for-bit untouched and last_error is set;
//   3. on success, no byte outside the O / LSE views changed, and when every float
//      input that the library does not validate (q, k, v, rectify.r/c, gate.g) is
//      finite, no element of O or LSE is NaN (outputs are pre-filled with NaN, so this
//      also proves every element was written);
//   4. inputs are never modified.
//
// The fuzzer must not blame the library for its own bugs: every tensor is backed by a
// buffer that covers every element its declared shape and strides can address (negative
// strides included: the data pointer then sits inside the buffer). When that span is
// over kMaxSpanElements the input is skipped. Tensors that claim to live on a CUDA
// device point at a PROT_NONE page, so a host read of one is a crash.
//
// Decoding lives in fuzz_decode.cpp, the checks in fuzz_checks.cpp, the shared model of a
// call in fuzz_call.hpp; this file holds the entry point.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"
#include "fuzz_checks.hpp"
#include "fuzz_decode.hpp"

namespace {

constexpr int64_t kMaxBatch = int64_t{1} << 16;        // see huge_batch

using attnkit_fuzz::Call;
using attnkit_fuzz::check_block_mask;
using attnkit_fuzz::check_forward;
using attnkit_fuzz::check_stats;
using attnkit_fuzz::decode;
using attnkit_fuzz::print_call;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (size > 0 && data[0] == 0xEE) {  // the null-pointer paths
    FUZZ_CHECK(attnkit_forward(nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "forward(NULL)");
    FUZZ_CHECK(attnkit_is_supported(nullptr) == 0, "is_supported(NULL)");
    FUZZ_CHECK(attnkit_explain(nullptr, nullptr, 0, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "explain(NULL)");
    FUZZ_CHECK(attnkit_attention_stats(nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "attention_stats(NULL)");
    FUZZ_CHECK(attnkit_block_mask_check(nullptr, 1, nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT,
               "block_mask_check(NULL)");
    return 0;
  }
  Call call;
  attnkit_attention_params params;
  decode(in, &call, &params);
  if (call.skip) return -1;  // not added to the corpus
  // Validation's cost grows with the declared batch even when every sequence is empty
  // (per-sequence bookkeeping, built from Q or cu_seqlens before the other tensors are
  // cross-checked; docs/reliability.md), so batches the fuzzer could never back with data
  // are skipped.
  const bool huge_batch = (params.q.rank == 4 && params.q.shape[0] > kMaxBatch) ||
                          (params.cu_seqlens_q.rank == 1 && params.cu_seqlens_q.shape[0] > kMaxBatch) ||
                          (params.cu_seqlens_k.rank == 1 && params.cu_seqlens_k.shape[0] > kMaxBatch);
  if (huge_batch) return -1;
  print_call(params);

  const attnkit_status status = check_forward(in, &call, params);
  const uint8_t extra = in.ConsumeIntegral<uint8_t>();
  if (extra & 1) check_block_mask(in, &call, params, status);
  if (extra & 2) check_stats(in, &call, params);
  return 0;
}
