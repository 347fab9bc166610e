// What runs a validated call: the one description select_kernel writes and the launchers
// execute (instance, tile row, grid, split count, the device it was planned for), so a
// launcher never plans or queries the device again. Shared by host/ (the dispatcher,
// explain) and cuda/ (the launchers); neither side includes the other's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "attnkit/tensor.hpp"
#include "common/problem.hpp"

namespace attnkit::detail {

enum class Backend : int { kCpu = 0, kCuda = 1 };

/// Which kernel family runs a CUDA call: the prefill kernel (tiles of query rows) or the
/// split-KV decode kernel (few query rows per sequence, contiguous or paged KV).
enum class KernelFamily : int { kReference = 0, kPrefill = 1, kDecode = 2 };

/// Which prefill kernel family: the mma.sync one (sm_80 and newer) or the warp-specialized
/// wgmma + TMA one (sm_90a only: cuda/hopper).
enum class PrefillFamily : int { kMmaSync = 0, kHopper = 1 };

/// Calls with at most this many query rows per sequence go to the decode kernel (SPEC 9).
inline constexpr int64_t kDecodeMaxQueryRows = 16;

/// The properties of the device a choice was planned for (cached per device by the backend).
struct DeviceInfo {
  int ordinal = -1;
  int major = 0;
  int minor = 0;
  int sms = 0;
  int smem_optin = 0;   // opt-in dynamic shared memory per block, bytes
  int smem_per_sm = 0;  // shared memory per SM, bytes
};

/// What will run for a validated call, and why.
struct KernelChoice {
  Backend backend = Backend::kCpu;
  KernelFamily family = KernelFamily::kReference;
  std::string kernel;  // e.g. "cpu_reference", "fwd_sm80<bf16,d128>"
  // The instance (template arguments) the launcher runs.
  int head_dim = 0;
  DType dtype = DType::kFloat32;
  PrefillFamily prefill = PrefillFamily::kMmaSync;  // prefill only
  // Its tile row and launch shape.
  int tile_q = 0;      // rows of Q per CTA (0 on the CPU)
  int tile_k = 0;      // keys per main-loop step
  int num_warps = 0;
  int smem_bytes = 0;  // dynamic shared memory per CTA
  int64_t grid_m = 0;  // prefill: CTAs along the query rows
  int64_t row_chunks = 0;  // decode: CTAs along the packed (query row, head) rows of a kv head
  int cta_rows = 0;        // decode: packed (query row, head) rows one CTA holds at most
  int num_splits = 0;  // decode: key splits per sequence (0 elsewhere)
  DeviceInfo device;
  std::string why;  // one sentence for explain()
};

/// \brief The launch grid of `choice` for `problem`, host arithmetic only: the prefill
/// kernel's CTAs along the query rows (grid_m), or the decode kernel's CTAs along the packed
/// (query row, head) rows of a kv head (row_chunks). select_kernel, select_decode_kernel and
/// a plan fitted to a smaller call (host/plan_rule.hpp) all size it here.
inline void size_grid(const Problem& problem, KernelChoice* choice) {
  if (choice->family == KernelFamily::kPrefill && choice->tile_q > 0) {
    choice->grid_m = (problem.max_sq + choice->tile_q - 1) / choice->tile_q;
  }
  if (choice->family == KernelFamily::kDecode && choice->cta_rows > 0) {
    const int64_t packed = problem.group * problem.max_sq;
    choice->row_chunks = packed > choice->cta_rows ? (packed + choice->cta_rows - 1) / choice->cta_rows : 1;
  }
}

/// \brief Device workspace `choice` needs for `problem`, in bytes (16-byte aligned base): the
/// decode kernel's split-KV partials when it splits keys, float32 o [splits, B, max_sq, Hq,
/// Dv] then (m, l) pairs [splits, B, max_sq, Hq, 2]; 0 otherwise.
inline size_t workspace_bytes(const Problem& problem, const KernelChoice& choice) {
  if (choice.family != KernelFamily::kDecode || choice.num_splits <= 1) return 0;
  const int64_t slots = static_cast<int64_t>(choice.num_splits) * problem.batch * problem.max_sq * problem.hq;
  return static_cast<size_t>(slots) * static_cast<size_t>(problem.dv + 2) * sizeof(float);
}

}  // namespace attnkit::detail
