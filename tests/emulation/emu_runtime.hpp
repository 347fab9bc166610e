// CPU emulation of the CUDA execution model, just enough to run cuda/attention's forward
// kernel unchanged under the host compiler. A grid runs one CTA at a time; each CUDA
// thread of the CTA is a user-space fiber on the calling OS thread, and a fiber gives up
// the CPU only where a real thread would wait for others: __syncthreads and the warp
// collectives (shuffle, ldmatrix, mma). Deterministic, and no OS threads
// (tests/emulation/emu_runtime.cpp explains the schedule and the measurements).
//
// Shared memory starts as NaN bytes (0xff) in every CTA and cp.async copies land only
// when their group is waited for, so a read of a tile that has not arrived yet, or a
// barrier the kernel forgets, turns into NaN or stale data in the output.
#pragma once

#include <cuda_runtime.h>  // uint3 / dim3 only (vector_types.h); nothing of the runtime API is called

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>

namespace attnkit_emu {

/// Deliberately wrong emulation, for the self-check tests that prove a broken kernel or
/// emulator cannot pass silently. Test-only; always kNone otherwise.
enum class Fault : int {
  kNone = 0,
  kMmaSwapAHalves,     // mma reads A's a[1] (rows g+8, k 0-7) and a[2] (rows g, k 8-15) swapped
  kCpAsyncNoZeroFill,  // cp.async with src-size 0 leaves the destination as it was (NaN)
  kNoSyncthreads,      // __syncthreads returns at once
};

/// \brief The active fault (test-only switch).
inline Fault g_fault = Fault::kNone;

inline constexpr int kWarpSize = 32;
inline constexpr int kSlotWords = 8;  // largest per-lane payload of a warp collective: mma's a[4] + b[2]
using WarpSlots = uint32_t[kWarpSize][kSlotWords];

/// One launch: grid, threads per CTA (a multiple of 32) and dynamic shared memory.
struct LaunchConfig {
  dim3 grid;
  int threads = 0;
  size_t smem_bytes = 0;
};

/// \brief Registers the array the kernel knows as `extern __shared__` (defined by the
/// translation unit that compiles the kernel); every CTA uses its first smem_bytes.
void set_shared_memory(void* base, size_t capacity_bytes);

/// \brief Runs `thread_body` as every thread of every CTA of `config.grid`, CTA by CTA
/// (blockIdx.x fastest). Returns "" or the first emulation error (out-of-range shared
/// memory access, cp.async never waited for, deadlock at a barrier, ...).
std::string run_grid(const LaunchConfig& config, const std::function<void()>& thread_body);

/// \brief Records an emulation error (the first one is kept); emulation goes on with a
/// harmless value so that the CTA can finish.
void report_error(const std::string& what);

/// \brief Lane and warp of the running CUDA thread.
int lane();
int warp();

/// \brief This lane's slot for the next warp collective: fill it, then warp_exchange().
uint32_t* warp_slot();

/// \brief Waits until all 32 lanes of the warp have filled their slots and returns every
/// lane's slot (valid until this lane's next collective; slots are double-buffered, so one
/// barrier per collective suffices).
const WarpSlots& warp_exchange();

/// \brief __syncthreads.
void sync_cta();

/// \brief Shared memory of the running CTA, and its size as launched.
unsigned char* shared_base();
size_t shared_bytes();

/// \brief cp.async 16 bytes, queued on the issuing thread; lands (or zero-fills when
/// !valid) when its group is waited for.
void cp_async_issue(uint32_t smem_offset, const void* gmem, bool valid);
void cp_async_commit();
/// \brief Lands all but the `pending` most recently committed groups.
void cp_async_wait(int pending);

}  // namespace attnkit_emu

// ---- CUDA built-ins seen by the kernel sources --------------------------------------
// Plain globals: the runtime sets threadIdx on every fiber switch and blockIdx per CTA.
inline uint3 threadIdx;
inline uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

inline void __syncthreads() { attnkit_emu::sync_cta(); }

/// \brief Full-warp butterfly shuffle (the only shuffle the kernel uses).
template <class T>
inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint32_t) * 2, "up to 8-byte values");
  if (mask != 0xffffffffu) attnkit_emu::report_error("__shfl_xor_sync with a partial mask is not emulated");
  std::memcpy(attnkit_emu::warp_slot(), &value, sizeof(T));
  const attnkit_emu::WarpSlots& all = attnkit_emu::warp_exchange();
  T out;
  std::memcpy(&out, all[(attnkit_emu::lane() ^ lane_mask) % attnkit_emu::kWarpSize], sizeof(T));
  return out;
}
