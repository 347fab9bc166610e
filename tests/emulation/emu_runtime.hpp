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
//
// On top of that, a race detector watches every shared-memory access the kernels make
// through the cuda/core wrappers (ldmatrix, cp.async, ld_shared / st_shared): per byte, the
// last writer and the readers since the last __syncthreads (a barrier *epoch*). It reports a
// write to bytes another thread read or wrote in the same epoch, a read of bytes another
// thread wrote in the same epoch, and any read of bytes whose cp.async has not been waited
// for. cp.async is checked at its adversarial times: its write counts from the issue on
// (a refill must not start while another warp still reads the stage) and its data counts
// only from the issuer's wait (nobody may read it before). The verdict does not depend on
// the fiber schedule: two accesses in one epoch conflict whatever their order.
#pragma once

#include <cuda_runtime.h>  // uint3 / dim3 only (vector_types.h); nothing of the runtime API is called

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
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
  kLdmatrixSwapHalves, // ldmatrix puts the higher column / row in the low half of each register
};

/// \brief The active fault (test-only switch).
inline Fault g_fault = Fault::kNone;

/// A __syncthreads call site of the emulated kernel sources.
struct BarrierSite {
  std::string file;  // as the compiler names it (__FILE__ of the kernel header)
  int line = 0;
  bool operator<(const BarrierSite& o) const { return file != o.file ? file < o.file : line < o.line; }
  bool operator==(const BarrierSite& o) const { return file == o.file && line == o.line; }
};

/// \brief Barrier mutation (test-only): the __syncthreads at this site returns at once, as if
/// deleted from the source. Empty file: none.
inline BarrierSite g_deleted_barrier;

/// \brief Every __syncthreads site executed since the last clear (test-only record).
std::set<BarrierSite> barrier_sites_hit();
void clear_barrier_sites_hit();

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

/// \brief __syncthreads at `site` (a deleted site, see g_deleted_barrier, returns at once).
void sync_cta(const char* file, int line);

/// \brief Shared memory of the running CTA, and its size as launched.
unsigned char* shared_base();
size_t shared_bytes();

/// \brief Race-detector hooks: the running thread reads / writes shared-memory bytes
/// [offset, offset + bytes) of its CTA (checked against the launched size too).
void smem_read(uint32_t offset, size_t bytes);
void smem_write(uint32_t offset, size_t bytes);

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

// The default arguments name the call site, for the barrier mutation test.
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  attnkit_emu::sync_cta(file, line);
}

namespace attnkit_emu {

/// \brief A full-warp shuffle: every lane offers `value`; lane l gets the value of lane
/// src_lane(l), or keeps its own when src_lane(l) is outside the warp (as __shfl_up_sync /
/// __shfl_down_sync do).
template <class T, class SrcLane>
inline T warp_shuffle(const char* name, unsigned mask, T value, SrcLane src_lane) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint32_t) * 2, "up to 8-byte values");
  if (mask != 0xffffffffu) report_error(std::string(name) + " with a partial mask is not emulated");
  std::memcpy(warp_slot(), &value, sizeof(T));
  const WarpSlots& all = warp_exchange();
  const int src = src_lane(lane());
  if (src < 0 || src >= kWarpSize) return value;
  T out;
  std::memcpy(&out, all[src], sizeof(T));
  return out;
}

}  // namespace attnkit_emu

/// \brief Full-warp butterfly shuffle.
template <class T>
inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  return attnkit_emu::warp_shuffle("__shfl_xor_sync", mask, value,
                                   [lane_mask](int l) { return (l ^ lane_mask) % attnkit_emu::kWarpSize; });
}

/// \brief Lane l gets lane l - delta (lanes below delta keep their own value).
template <class T>
inline T __shfl_up_sync(unsigned mask, T value, unsigned delta) {
  return attnkit_emu::warp_shuffle("__shfl_up_sync", mask, value, [delta](int l) { return l - static_cast<int>(delta); });
}

/// \brief Lane l gets lane l + delta (the top delta lanes keep their own value).
template <class T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
  return attnkit_emu::warp_shuffle("__shfl_down_sync", mask, value, [delta](int l) { return l + static_cast<int>(delta); });
}

/// \brief Lane l gets lane src_lane (mod 32).
template <class T>
inline T __shfl_sync(unsigned mask, T value, int src_lane) {
  return attnkit_emu::warp_shuffle("__shfl_sync", mask, value,
                                   [src_lane](int) { return ((src_lane % 32) + 32) % attnkit_emu::kWarpSize; });
}

/// \brief Warp barrier (full mask only).
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  if (mask != 0xffffffffu) attnkit_emu::report_error("__syncwarp with a partial mask is not emulated");
  attnkit_emu::warp_exchange();
}

// Atomics: one CTA's threads are fibers on one OS thread that switch only at barriers and
// warp collectives, so a plain read-modify-write is atomic. They return the old value.
template <class T>
inline T atomicAdd(T* address, T value) {
  static_assert(std::is_arithmetic_v<T>, "int, unsigned, float, double");
  const T old = *address;
  *address = old + value;
  return old;
}
template <class T>
inline T atomicMax(T* address, T value) {
  const T old = *address;
  *address = old < value ? value : old;
  return old;
}
template <class T>
inline T atomicMin(T* address, T value) {
  const T old = *address;
  *address = value < old ? value : old;
  return old;
}
template <class T>
inline T atomicExch(T* address, T value) {
  const T old = *address;
  *address = value;
  return old;
}
template <class T>
inline T atomicCAS(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}

// Bit casts and correctly rounded arithmetic: the host's IEEE float and double operations
// round to nearest even, as the _rn intrinsics do (the emulation builds without
// -ffp-contract=fast on x86-64 without FMA, so nothing is contracted).
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}
inline float __uint_as_float(unsigned u) {
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}
inline int __float_as_int(float x) { return static_cast<int>(__float_as_uint(x)); }
inline float __int_as_float(int i) { return __uint_as_float(static_cast<unsigned>(i)); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
