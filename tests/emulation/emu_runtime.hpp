// CPU emulation of the CUDA execution model, just enough to run the attention kernels
// unchanged under the host compiler. A grid runs one CTA at a time; each CUDA thread of the
// CTA is a user-space fiber on the calling OS thread, and a fiber gives up the CPU only
// where a real thread would wait for others: __syncthreads, named barriers, mbarrier waits,
// the warp collectives (shuffle, ldmatrix, mma, elect) and the warpgroup collectives (wgmma,
// setmaxnreg). Deterministic, and no OS threads (tests/emulation/emu_runtime.cpp explains the
// schedule and the measurements).
//
// Shared memory starts as NaN bytes (0xff) in every CTA, cp.async copies land only when
// their group is waited for and TMA copies only when a thread waits on their mbarrier's
// phase, so a read of a tile that has not arrived yet, or a barrier the kernel forgets,
// turns into NaN or stale data in the output.
//
// On top of that, a happens-before race detector (vector clocks, FastTrack-style) watches
// every shared-memory access the kernels make through the cuda/core wrappers (ldmatrix,
// cp.async, ld_shared / st_shared, TMA, wgmma). Every thread has a vector clock; the
// synchronisations join them: __syncthreads and a completed named barrier join their
// participants, a warp collective joins the warp's lanes, an mbarrier arrival (and a TMA's
// completion, with the issuer's clock as of the issue) releases into the barrier's phase and
// a successful mbarrier_wait acquires the completed phase. wgmma's shared-memory reads
// belong to an asynchronous agent per warpgroup whose clock the warpgroup learns only at
// the wgmma_wait that completes them. Per shared-memory byte the detector keeps the last
// write and the reads since, and reports a write to bytes another thread read or wrote, or
// a read of bytes another thread wrote, when nothing orders the two accesses (whatever the
// fiber order), plus any access to bytes whose cp.async or TMA has not landed. cp.async
// and TMA are checked at their adversarial times: their write counts from the issue on (a
// refill must not start while another warp still reads the stage) and their data only from
// the issuer's cp.async wait or a thread's mbarrier wait (nobody may read it before).
#pragma once

#include <cuda_runtime.h>  // uint3 / dim3 only (vector_types.h); nothing of the runtime API is called

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
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
  kWgmmaIgnoreSwizzle, // the wgmma twin decodes smem descriptors without the swizzle XOR
  kWgmmaSwapLboSbo,    // the wgmma twin swaps the descriptor's leading and stride byte offsets
  kWgmmaSwapAHalves,   // wgmma_rs reads the register A fragment's a[1] and a[2] swapped
  kWgmmaSwapAccRows,   // wgmma writes accumulator rows g and g + 8 swapped (d[j][0,1] <-> d[j][2,3])
  kTmaNoSwizzle,       // TMA places box rows without the 128-byte swizzle
  kTmaNoZeroFill,      // TMA leaves out-of-bounds box elements as they were (NaN) instead of zeros
};

/// \brief The active fault (test-only switch).
inline Fault g_fault = Fault::kNone;

/// A synchronisation call site of the emulated kernel sources: a __syncthreads, or a call of
/// one of the sm_90a twins listed in SyncCall. The twins name their caller with the default
/// arguments `const char* file = __builtin_FILE(), int line = __builtin_LINE()` (a call in a
/// lambda: the line of the call in the lambda's body).
struct BarrierSite {
  std::string file;  // as the compiler names it (__FILE__ of the kernel header)
  int line = 0;
  bool operator<(const BarrierSite& o) const { return file != o.file ? file < o.file : line < o.line; }
  bool operator==(const BarrierSite& o) const { return file == o.file && line == o.line; }
};

/// The synchronisation calls that know their call site (the mutation tests delete them).
/// wgmma_commit has none: it orders nothing, it closes the group that the next wgmma_wait<N>
/// counts, so deleting it alone changes which wgmma a later wait completes (always caught
/// as NaN accumulators: the N of the waits is what a group mutation would have to change).
enum class SyncCall : int {
  kSyncthreads = 0,
  kMbarrierWait,
  kMbarrierArrive,
  kMbarrierArriveExpectTx,
  kFenceBarrierInit,
  kWgmmaFence,
  kWgmmaWait,
};

/// \brief The name the kernel sources call it by ("__syncthreads", "mbarrier_wait", ...).
const char* sync_call_name(SyncCall call);

/// \brief Synchronisation mutation (test-only): every synchronisation call at this site does
/// nothing at all, as if its line were deleted from the source: __syncthreads returns at
/// once; mbarrier_wait returns without waiting (no TMA copy lands, no clock is acquired);
/// mbarrier_arrive and mbarrier_arrive_expect_tx neither arrive nor add expected bytes;
/// fence_barrier_init fences nothing; wgmma_fence and wgmma_wait are not executed (no
/// warpgroup collective, nothing lands). Empty file: none.
inline BarrierSite g_deleted_barrier;

/// \brief The hook of __syncthreads and the twins: true when (file, line) is the deleted site
/// (the caller then does nothing), else records `call` as executed there and returns false.
bool sync_site_deleted(SyncCall call, const char* file, int line);

/// \brief Every __syncthreads site executed since the last clear (test-only record).
std::set<BarrierSite> barrier_sites_hit();
/// \brief Every synchronisation site executed since the last clear, with the calls made there.
std::map<BarrierSite, std::set<SyncCall>> sync_sites_hit();
/// \brief Clears both records.
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
/// translation unit that compiles the kernel); every CTA uses its first smem_bytes. Shared
/// "addresses" (smem_address, descriptors, mbarriers, TMA destinations) are byte offsets
/// from `base`, and swizzles act on them: give a 1024-byte aligned array, as the sm_90a
/// family's `extern __shared__ __align__(1024)` promises.
void set_shared_memory(void* base, size_t capacity_bytes);

/// Largest CTA the emulator runs (fibers and vector clocks are sized per launch).
inline constexpr int kMaxThreads = 1024;

/// \brief Runs `thread_body` as every thread of every CTA of `config.grid`, CTA by CTA
/// (blockIdx.x fastest). Returns "" or the first emulation error (out-of-range shared
/// memory access, cp.async never waited for, deadlock at a barrier, ...).
std::string run_grid(const LaunchConfig& config, const std::function<void()>& thread_body);

/// \brief Records an emulation error (the first one is kept); the reporting thread goes on
/// with a harmless value, and the CTA ends at the next fiber switch (a thread blocking at a
/// barrier or collective). A broken kernel need not finish: with its waits failing at once,
/// a consumer loop may never see its end.
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

namespace detail {
inline unsigned char* g_shared_base = nullptr;  // set by set_shared_memory
inline size_t g_shared_bytes = 0;               // set by run_grid
}  // namespace detail

/// \brief Shared memory of the running CTA, and its size as launched (inline: every ld_shared /
/// st_shared asks).
inline unsigned char* shared_base() { return detail::g_shared_base; }
inline size_t shared_bytes() { return detail::g_shared_bytes; }

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

// ---- sm_90a (Hopper): mbarrier, TMA, named barriers, warpgroups, wgmma ------------------
// The shadow twins of cuda/core/{mbarrier,tma,warpgroup,wgmma}.cuh call these.

inline constexpr int kWarpgroupSize = 128;  // 4 consecutive warps: threads 128 k .. 128 k + 127
inline constexpr int kNamedBarriers = 16;   // bar.sync ids 0-15; 0 is __syncthreads'

/// \brief mbarrier.init: 8 bytes at `bar` (8-byte aligned, inside the launched shared memory)
/// become a barrier expecting `count` arrivals per phase. Its bytes are the barrier's from
/// now on: a plain access to them is an error. Other threads may use it only once a
/// synchronisation orders the init before them (e.g. __syncthreads), and TMA only after the
/// initialising thread's fence_barrier_init.
void mbarrier_init(uint32_t bar, uint32_t count);
/// \brief fence.mbarrier_init: the barriers this thread initialised may now take TMA bytes.
void fence_barrier_init();
/// \brief One arrival (release of this thread's clock into the current phase), after adding
/// `tx_bytes` to the phase's expected transaction bytes when `expect_tx`.
void mbarrier_arrive(uint32_t bar, bool expect_tx, uint32_t tx_bytes);
/// \brief Blocks until the phase of parity `parity` has completed (with k completed phases:
/// until (k & 1) != parity), then lands the TMA copies of every completed phase and acquires
/// the clock of the latest completed phase.
void mbarrier_wait(uint32_t bar, uint32_t parity);

/// A decoded tensor map: 16-bit elements, innermost dimension first, strides in bytes of
/// dimensions 1..3, box extents in elements (box[0] * 2 must be 128: one swizzle row).
struct TmaTensor {
  const void* base = nullptr;
  uint64_t dims[4] = {1, 1, 1, 1};
  uint64_t strides[3] = {0, 0, 0};
  uint32_t box[4] = {1, 1, 1, 1};
};

/// \brief cp.async.bulk.tensor.4d with mbarrier::complete_tx: the box at (c0 .. c3) into
/// `smem` (1024-byte aligned), box row r = i1 + box1 (i2 + box2 i3) at byte r * 128, the
/// 128-byte swizzle on the absolute address; coordinates outside the tensor read as zeros.
/// Its write counts from the issue (by the issuing thread); its bytes complete the barrier's
/// current phase at once (and release the issuer's clock into it), but its data lands only
/// when some thread's mbarrier_wait sees that phase complete: until then the destination is
/// "in flight" and any access to it is an error.
void tma_load(uint32_t smem, const TmaTensor& tensor, uint32_t bar, int c0, int c1, int c2, int c3);
/// \brief Shared-memory byte of element `column` (0-63) of box row `row` of a TMA load to `dst`
/// (the emulator's placement; exposed for the CuTe proofs).
uint32_t tma_box_address(uint32_t dst, uint32_t row, uint32_t column);

/// \brief bar.sync (`wait`) / bar.arrive `id`, `threads`: the barrier completes when `threads`
/// threads (a multiple of 32) arrived; every arrival releases, every bar.sync acquires the
/// join of all the arrivals. Different counts at one id in one phase are an error. Id 0 with
/// all the CTA's threads is __syncthreads.
void named_barrier(int id, int threads, bool wait);

/// \brief A .sync.aligned warpgroup instruction without data (setmaxnreg): all 128 threads of
/// the warpgroup must execute it with the same `value` (a divergent call deadlocks).
void warpgroup_sync(const char* what, int value);

/// \brief One 16-bit value (bf16 or IEEE fp16 bits) as float, exactly (the operand read of the
/// mma.sync and wgmma twins).
float b16_to_float(uint16_t bits, bool is_bf16);

/// \brief Shared-memory byte of element (mn, k) (16-bit elements) of a wgmma operand
/// described by `desc` (K-major: k contiguous; MN-major: mn contiguous), decoded per the
/// canonical layouts of the PTX ISA (CuTe's make_gmma_desc comment), the swizzle applied to
/// the absolute address. The twin reads every operand element through this function.
uint32_t gmma_element_address(uint64_t desc, bool mn_major, int mn, int k);

/// \brief wgmma.fence: the registers this thread wrote may now feed a wgmma.
void wgmma_fence();
/// \brief wgmma.mma_async m64 n k16, fp32 accumulate, as a warpgroup collective. `a_regs`:
/// the register A fragment (nullptr: A from shared memory through a K-major `a_desc`); B
/// from shared memory, K-major or (`b_mn_major`) MN-major. The result goes to pending
/// storage (its C is the newest pending result for the same `d`, else the registers;
/// ignored when !accumulate) and `d` is poisoned with NaN until the wgmma_wait that
/// completes it. The operand reads count for the race detector at the issue and at that
/// wait, as reads of the warpgroup's asynchronous agent.
void wgmma_issue(float* d, int n, bool is_bf16, const uint32_t* a_regs, uint64_t a_desc, uint64_t b_desc,
                 bool b_mn_major, int accumulate);
/// \brief wgmma.commit_group (warpgroup collective).
void wgmma_commit();
/// \brief wgmma.wait_group `pending` (warpgroup collective): writes the results of all but the
/// `pending` newest committed groups into their registers, oldest first.
void wgmma_wait(int pending);

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
