// Fiber scheduler and race detector behind emu_runtime.hpp.
//
// Every CUDA thread of the running CTA is a ucontext fiber with its own stack. A fiber runs
// until it must wait (a warp or warpgroup collective, __syncthreads, a named barrier or an
// mbarrier phase the others have not reached) or finishes; the scheduler then resumes the
// first runnable fiber in a fixed priority order: warps ascending in even CTAs and
// descending in odd ones, lanes ascending. So one warp runs as far ahead of the others as
// the barriers allow, and the next CTA lets the other end run ahead: a missing barrier shows
// up as a read of a tile another warp has not loaded yet (NaN) whichever warp races. The
// last thread to reach a barrier releases it and keeps running, so a warp collective costs
// 31 fiber switches.
//
// Measured on 2 cores (d64 bf16, Sq 77, Sk 300, causal, 16 CTAs): 0.30 s with fibers, 4.5 s
// with one OS thread per CUDA thread and pthread barriers, 2-3 s with sched_yield spin
// barriers. About 60% of the fiber time is swapcontext (it saves the signal mask with a
// syscall); a hand-written switch would roughly halve it, not worth it at ~2 s a suite.
//
// The race detector is happens-before with vector clocks (FastTrack's epochs): every thread
// and every warpgroup's wgmma agent has a clock vector (one entry per thread and agent of
// the CTA); a release copies the vector into the synchronisation object and ticks the
// thread's own entry, an acquire joins the object's vector in. Access A happens before
// access B of another thread iff B's thread knows A's clock (C_B[thread A] >= clock A). Per
// shared-memory byte: the last write's epoch (clock, thread) and the reads since, as up to
// kInlineReaders mutually unordered epochs (a read that every earlier read happens before
// replaces them), or a pooled read set when more threads read it concurrently (broadcasts):
// a clock per reading thread, shared by the contiguous bytes read together (split when an
// access covers part of it). Clocks grow across CTAs and launches: a new CTA starts every
// vector above every clock used so far, so the shadow of earlier CTAs never needs clearing.
// What keeps the cost down: a thread's own entry is the largest anyone knows of it, so
// __syncthreads' join is the vector of own entries (agents excepted: the CTA learns an
// agent's clock only through the threads); a warp collective whose lanes acquired nothing
// from outside the warp since the warp's last join only exchanges the warp's 32 own
// entries; the bytes of one access that share a state are checked once; and a read set
// whose reads all came before the latest __syncthreads (and no wgmma agent's) needs no
// check at the next write. Against the epoch detector this replaced (only __syncthreads
// ordered accesses), the sm_80 suite runs about 12% slower (20.8 s -> 23.3 s on 2 cores),
// most of it in the statistics kernels' broadcast reads.
#include "emu_runtime.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace attnkit_emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;  // per fiber; d256 keeps (16, 256) fp32 accumulators per warp
constexpr int kInlineReaders = 4;           // concurrent readers per byte before a pooled read set
constexpr uint8_t kSharedReaders = 0xff;    // ByteShadow::readers: r_clock[0] indexes g_cta.pool
constexpr uint8_t kFlagTma = 1;             // ByteShadow::pending is a TMA copy (not a cp.async)
constexpr uint8_t kFlagBarrier = 2;         // the byte belongs to an initialised mbarrier
constexpr uint32_t kClockLimit = 0xf0000000u;
constexpr int kWgSlotWords = 12;  // kind, value, n, flags, a_desc (2), b_desc (2), a[4]

enum WaitKind : int { kWaitOther = 0, kWaitMbarrier, kWaitNamed };

struct PendingCopy {
  uint32_t smem_offset;
  const void* gmem;
  bool valid;
};

/// A wgmma result of one thread, waiting for its wgmma_wait.
struct PendingWgmma {
  float* d;
  int count;
  float values[128];
};

struct Fiber {
  ucontext_t context;
  bool waiting = false;
  bool done = false;
  bool acquired = false;           // joined a clock from outside its warp since the warp's last join
  bool needs_wgmma_fence = true;   // no wgmma_fence since the start or the last landing wgmma_wait
  int parity = 0;                  // which WarpSlots buffer this lane's next collective uses
  int wg_parity = 0;               // the same for warpgroup collectives
  int wait_kind = 0;               // kWaitMbarrier / kWaitNamed: what a blocked fiber waits for
  uint32_t wait_arg0 = 0, wait_arg1 = 0;
  std::vector<PendingCopy> uncommitted;
  std::deque<std::vector<PendingCopy>> groups;  // committed, oldest first
  std::vector<PendingWgmma> wgmma_uncommitted;
  std::deque<std::vector<PendingWgmma>> wgmma_groups;  // committed, oldest first
};

struct SlotBuffer {
  WarpSlots lanes;
};

struct WgSlotBuffer {
  uint32_t lanes[kWarpgroupSize][kWgSlotWords];
};

struct Barrier {
  int expected = 0;
  int arrived = 0;
  std::vector<int> waiters;
};

/// Race-detector state of one shared-memory byte (no padding: compared with memcmp).
struct ByteShadow {
  uint32_t w_clock = 0;                 // epoch of the last write (0: before everything)
  uint32_t r_clock[kInlineReaders] = {};
  uint16_t w_tid = 0;
  uint16_t r_tid[kInlineReaders] = {};
  int16_t pending = -1;  // issuing thread of a cp.async / TMA in flight to this byte
  uint8_t readers = 0;   // reads since the last write: 0..kInlineReaders, or kSharedReaders
  uint8_t flags = 0;
  uint16_t unused = 0;
};
static_assert(sizeof(ByteShadow) == 36, "ByteShadow has no padding");

/// The reads of bytes [owner, owner + span) by more than kInlineReaders unordered threads: a
/// clock per thread (zero for threads that did not read; `touched` lists the others). Exactly
/// the bytes of the span refer to it; an access that covers only part of the span splits it
/// first (one set per byte).
struct ReadSet {
  uint32_t owner = 0;
  uint32_t span = 0;      // 0: free
  uint32_t serial = 0;    // the CTA that allocated it
  uint32_t last_gen = 0;  // g_cta.barrier_gen at its latest read
  bool async = false;     // a wgmma agent read it: __syncthreads does not order that read
  std::vector<uint32_t> clocks;
  std::vector<uint16_t> touched;
};

struct TmaCopy {
  uint32_t dst;
  uint32_t bytes;
  TmaTensor tensor;
  int coords[4];
  int issuer;
  uint32_t phase;  // the barrier phase its bytes completed
};

struct MBarrier {
  uint32_t count = 0;
  uint32_t pending = 0;  // arrivals still expected in the current phase
  int64_t tx = 0;        // transaction bytes still expected in the current phase
  uint32_t completed = 0;
  int init_tid = 0;
  uint32_t init_clock = 0;
  bool fenced = false;
  bool ready = false;              // every arrival and byte is in; completes when next needed
  std::vector<uint32_t> release;   // join of every release so far
  std::vector<uint32_t> snapshot;  // `release` when the latest phase completed
  std::vector<TmaCopy> copies;     // not landed yet
  std::vector<int> waiters;
};

struct NamedBarrier {
  int expected = 0;  // 0: no phase in progress
  int arrived = 0;
  std::vector<uint32_t> joined;
  std::vector<int> waiters;
};

/// What a warpgroup's wgmma agent read: element addresses and its clock at the issue.
struct AgentRead {
  std::vector<uint32_t> elements;
  std::vector<uint32_t> clock;
};

struct Warpgroup {
  std::vector<AgentRead> uncommitted;
  std::deque<std::vector<AgentRead>> groups;
  std::vector<float> a, b;       // the operands of the latest wgmma, row-major (64 x 16, n x 16)
  std::vector<uint32_t> landed;  // agent clock to acquire after the latest wait (empty: none)
  const WgSlotBuffer* buffer = nullptr;
  bool bad = false;              // the latest collective did not match across the warpgroup
};

enum WgKind : uint32_t { kWgFence = 1, kWgIssue, kWgCommit, kWgWait, kWgSync };

/// One CTA's worth of state, reused for every CTA of every launch (one CTA at a time).
struct Cta {
  std::vector<Fiber> fibers;
  std::vector<int> order;  // scheduling priority
  std::vector<Barrier> warp_barriers;
  Barrier cta_barrier;
  std::vector<SlotBuffer> slots;  // [warp * 2 + parity]
  std::vector<Barrier> wg_barriers;
  std::vector<WgSlotBuffer> wg_slots;  // [warpgroup * 2 + parity]
  std::vector<Warpgroup> warpgroups;
  ucontext_t scheduler;
  int current = -1;
  int threads = 0;
  const std::function<void()>* body = nullptr;
  unsigned char* stacks = nullptr;  // num fibers x (guard page + kStackBytes)
  size_t stack_stride = 0;
  int stack_count = 0;
  unsigned char* smem = nullptr;
  size_t smem_capacity = 0;
  size_t smem_bytes = 0;
  std::vector<ByteShadow> shadow;  // one per byte of smem_capacity
  // Vector clocks: vc_len rows (threads, then one wgmma agent per warpgroup) of vc_len.
  int vc_len = 0;
  std::vector<uint32_t> clocks;
  std::vector<uint32_t> scratch;
  uint32_t next_clock = 1;  // above every clock used so far
  std::vector<ReadSet> pool;
  std::vector<uint32_t> pool_free;
  size_t pool_used = 0;
  uint32_t pool_serial = 0;
  uint32_t barrier_gen = 0;  // completed __syncthreads of this CTA
  std::map<uint32_t, MBarrier> mbarriers;  // by shared-memory address
  NamedBarrier named[kNamedBarriers];
  std::string error;
};

Cta g_cta;

/// A synchronisation site executed (sync_site_deleted): __builtin_FILE gives one literal per
/// header and translation unit, so the pointer identifies the file cheaply.
struct SiteHit {
  const char* file;
  int line;
  SyncCall call;
};
std::vector<SiteHit> g_sites_hit;

inline uint32_t* row(int id) { return &g_cta.clocks[static_cast<size_t>(id) * g_cta.vc_len]; }

/// \brief True when the access of `tid` at `clock` happens before the running access whose
/// thread has clock vector C (stale epochs of earlier CTAs always do).
inline bool ordered(uint32_t clock, uint16_t tid, const uint32_t* C) {
  return tid >= g_cta.vc_len || clock <= C[tid];
}

inline void join_into(uint32_t* dst, const uint32_t* src) {
  for (int u = 0; u < g_cta.vc_len; ++u) dst[u] = std::max(dst[u], src[u]);
}

std::string who(int id) {
  if (id == g_cta.vc_len - 1) return "the TMA copies (their shared-memory writes)";
  if (id >= g_cta.threads) {
    return "the wgmma of warpgroup " + std::to_string(id - g_cta.threads) + " (its asynchronous operand reads)";
  }
  return "thread " + std::to_string(id) + " (warp " + std::to_string(id / kWarpSize) + ")";
}

std::string bytes_at(uint32_t offset) { return "shared-memory byte " + std::to_string(offset); }

Fiber& me() { return g_cta.fibers[g_cta.current]; }

// ---- the read-set pool -----------------------------------------------------------------

ReadSet* shared_readers(const ByteShadow& b, uint32_t offset) {
  const uint32_t idx = b.r_clock[0];
  if (idx >= g_cta.pool_used) return nullptr;
  ReadSet& r = g_cta.pool[idx];
  return r.serial == g_cta.pool_serial && offset - r.owner < r.span ? &r : nullptr;
}

uint32_t pool_alloc(uint32_t offset) {
  uint32_t idx;
  if (!g_cta.pool_free.empty()) {
    idx = g_cta.pool_free.back();
    g_cta.pool_free.pop_back();
  } else {
    if (g_cta.pool_used == g_cta.pool.size()) g_cta.pool.emplace_back();
    idx = static_cast<uint32_t>(g_cta.pool_used++);
  }
  ReadSet& r = g_cta.pool[idx];
  for (uint16_t t : r.touched) r.clocks[t] = 0;  // lazily cleared (freed, or left by an earlier CTA)
  r.touched.clear();
  if (r.clocks.size() < static_cast<size_t>(g_cta.vc_len)) r.clocks.resize(g_cta.vc_len, 0);
  r.owner = offset;
  r.span = 1;
  r.serial = g_cta.pool_serial;
  r.last_gen = g_cta.barrier_gen;
  r.async = false;
  return idx;
}

[[gnu::always_inline]] inline void set_read(ReadSet& r, int id, uint32_t clock) {
  uint32_t& c = r.clocks[id];
  if (c == 0) {
    r.touched.push_back(static_cast<uint16_t>(id));
    r.async = r.async || id >= g_cta.threads;
  }
  if (clock > c) c = clock;
  r.last_gen = g_cta.barrier_gen;
}

/// \brief The byte leaves its read set (freed with its last byte: writes cover whole sets).
void drop_readers(ByteShadow& b, uint32_t offset) {
  if (b.readers == kSharedReaders) {
    if (ReadSet* r = shared_readers(b, offset)) {
      r->span = 0;
      g_cta.pool_free.push_back(b.r_clock[0]);
    }
  }
  b.readers = 0;
}

/// \brief Every byte of the set holding `offset` gets a set of its own.
void split_set(uint32_t offset) {
  ByteShadow& first = g_cta.shadow[offset];
  ReadSet* r = shared_readers(first, offset);
  if (r == nullptr || r->span <= 1) return;
  const uint32_t idx = first.r_clock[0], owner = r->owner, span = r->span;
  r->span = 1;
  for (uint32_t k = 1; k < span; ++k) {
    const uint32_t copy = pool_alloc(owner + k);
    ReadSet& from = g_cta.pool[idx];
    ReadSet& to = g_cta.pool[copy];
    for (uint16_t t : from.touched) set_read(to, t, from.clocks[t]);
    to.last_gen = from.last_gen;
    to.async = from.async;
    g_cta.shadow[owner + k].r_clock[0] = copy;
  }
}

[[gnu::noinline]] void split_straddling_sets(uint32_t begin, uint32_t end) {
  for (uint32_t at : {begin, end - 1}) {
    const ByteShadow& b = g_cta.shadow[at];
    if (b.readers != kSharedReaders) continue;
    const ReadSet* r = shared_readers(b, at);
    if (r != nullptr && (r->owner < begin || r->owner + r->span > end)) split_set(at);
  }
}

/// \brief Splits the read sets that hold bytes both inside and outside [begin, end).
inline void split_straddling(uint32_t begin, uint32_t end) {
  if (g_cta.shadow[begin].readers == kSharedReaders || g_cta.shadow[end - 1].readers == kSharedReaders) {
    split_straddling_sets(begin, end);
  }
}

// ---- the per-byte checks ---------------------------------------------------------------

/// \brief The CTA already failed: only the first error is kept, so the per-byte reports skip
/// building their messages (a mutated kernel that reads a whole tile in flight would build
/// one per byte: minutes per run).
inline bool error_recorded() { return !g_cta.error.empty(); }

[[gnu::cold, gnu::noinline]] void report_pending(const ByteShadow& b, uint32_t offset, int id, const char* verb) {
  if (error_recorded()) return;
  if ((b.flags & kFlagTma) && verb[0] == 'r') {
    report_error("shared-memory race: " + who(id) + " reads " + bytes_at(offset) + " before the TMA of " +
                 who(b.pending) +
                 " to it landed (read before the TMA landed: no mbarrier_wait on its barrier's phase came first)");
  } else if (b.flags & kFlagTma) {
    report_error("shared-memory race: " + who(id) + " writes " + bytes_at(offset) + " while a TMA of " +
                 who(b.pending) + " to it is still in flight (no mbarrier_wait saw it land)");
  } else if (verb[0] == 'r') {
    report_error("shared-memory race: " + who(id) + " reads " + bytes_at(offset) + " before the cp.async of " +
                 who(b.pending) + " to it was waited for (the data has not landed)");
  } else {
    report_error("shared-memory race: " + who(id) + " writes " + bytes_at(offset) + " while a cp.async of " +
                 who(b.pending) + " to it is still in flight");
  }
}

[[gnu::cold, gnu::noinline]] void report_war(uint32_t offset, int id, int reader) {
  if (error_recorded()) return;
  report_error("shared-memory race: " + who(id) + " writes " + bytes_at(offset) + " that " + who(reader) +
               " read after the same barrier (nothing orders that read before this write: a refill while another "
               "thread still reads; a __syncthreads or barrier wait is missing between them)");
}

[[gnu::cold, gnu::noinline]] void report_raw(uint32_t offset, int id, int writer) {
  if (error_recorded()) return;
  report_error("shared-memory race: " + who(id) + " reads " + bytes_at(offset) + " that " + who(writer) +
               " wrote after the same barrier (nothing orders that write before this read: a __syncthreads or "
               "barrier wait is missing between them)");
}

[[gnu::cold, gnu::noinline]] void report_waw(uint32_t offset, int id, int writer) {
  if (error_recorded()) return;
  report_error("shared-memory race: " + who(id) + " and " + who(writer) + " both write " + bytes_at(offset) +
               " after the same barrier (nothing orders the two writes)");
}

[[gnu::cold, gnu::noinline]] void report_barrier_bytes(uint32_t offset, int id, const char* verb) {
  if (error_recorded()) return;
  report_error(who(id) + " " + verb + " " + bytes_at(offset) + ", which belongs to an initialised mbarrier");
}

/// \brief The write of byte `offset`, whose state is `b` (the shadow's or a copy), by `id` (clock
/// vector C): a store, a cp.async or TMA from its issue on.
[[gnu::always_inline]] inline void check_write(ByteShadow& b, uint32_t offset, int id, const uint32_t* C) {
  if (b.flags & kFlagBarrier) {
    report_barrier_bytes(offset, id, "writes");
  } else if (b.pending >= 0) {
    report_pending(b, offset, id, "writes");
  } else if (b.readers == kSharedReaders) {
    const ReadSet* r = shared_readers(b, offset);
    if (r != nullptr && (r->async || r->last_gen == g_cta.barrier_gen)) {  // else a __syncthreads followed every read
      for (uint16_t u : r->touched) {
        if (u != id && r->clocks[u] > C[u]) {
          report_war(offset, id, u);
          break;
        }
      }
    }
  } else if (b.readers > 0) {
    for (int i = 0; i < b.readers; ++i) {
      if (b.r_tid[i] != id && !ordered(b.r_clock[i], b.r_tid[i], C)) {
        report_war(offset, id, b.r_tid[i]);
        break;
      }
    }
  }
  if (b.readers == 0 && b.w_tid != id && !ordered(b.w_clock, b.w_tid, C)) report_waw(offset, id, b.w_tid);
  drop_readers(b, offset);
  b.w_clock = C[id];
  b.w_tid = static_cast<uint16_t>(id);
}

/// \brief The read of byte `offset`, whose state is `b`, by `id`.
[[gnu::always_inline]] inline void check_read(ByteShadow& b, uint32_t offset, int id, const uint32_t* C) {
  if (b.flags & kFlagBarrier) {
    report_barrier_bytes(offset, id, "reads");
  } else if (b.pending >= 0) {
    report_pending(b, offset, id, "reads");
  } else if (b.w_tid != id && !ordered(b.w_clock, b.w_tid, C)) {
    report_raw(offset, id, b.w_tid);
  }
  const uint32_t now = C[id];
  if (b.readers == kSharedReaders) {
    if (ReadSet* r = shared_readers(b, offset)) {
      set_read(*r, id, now);
      return;
    }
    b.readers = 0;  // a stale or freed set
  }
  // Keep only the reads this one is not ordered after.
  int kept = 0;
  for (int i = 0; i < b.readers; ++i) {
    if (b.r_tid[i] == id || ordered(b.r_clock[i], b.r_tid[i], C)) continue;
    b.r_clock[kept] = b.r_clock[i];
    b.r_tid[kept] = b.r_tid[i];
    ++kept;
  }
  if (kept < kInlineReaders) {
    b.r_clock[kept] = now;
    b.r_tid[kept] = static_cast<uint16_t>(id);
    b.readers = static_cast<uint8_t>(kept + 1);
    return;
  }
  const uint32_t idx = pool_alloc(offset);
  ReadSet& r = g_cta.pool[idx];
  for (int i = 0; i < kept; ++i) set_read(r, b.r_tid[i], b.r_clock[i]);
  set_read(r, id, now);
  b.readers = kSharedReaders;
  b.r_clock[0] = idx;
}

/// \brief Field by field (loads as wide as the stores that just wrote `from`: no store-forwarding
/// stall, which a whole-struct copy hits).
[[gnu::always_inline]] inline void copy_state(ByteShadow& to, const ByteShadow& from) {
  to.w_clock = from.w_clock;
  for (int i = 0; i < kInlineReaders; ++i) to.r_clock[i] = from.r_clock[i];
  to.w_tid = from.w_tid;
  for (int i = 0; i < kInlineReaders; ++i) to.r_tid[i] = from.r_tid[i];
  to.pending = from.pending;
  to.readers = from.readers;
  to.flags = from.flags;
}

template <bool kWrite>
[[gnu::always_inline]] inline void check(ByteShadow& b, uint32_t offset, int id, const uint32_t* C) {
  if constexpr (kWrite) {
    check_write(b, offset, id, C);
  } else {
    check_read(b, offset, id, C);
  }
}

/// \brief Bytes [offset, offset + bytes) accessed by `id`. Neighbouring bytes mostly share one
/// state: the first byte is checked in full (on a copy of its state), and a following byte
/// whose state was the same takes the first byte's new state. The bytes of a pooled read
/// set always share one state; an access covering part of a set splits it first.
template <bool kWrite>
void shadow_range(uint32_t offset, size_t bytes, int id, const uint32_t* C) {
  ByteShadow* s = &g_cta.shadow[offset];
  if (s[0].readers == kSharedReaders) {  // exactly one read set: one check for all its bytes
    const ReadSet* r = shared_readers(s[0], offset);
    if (r != nullptr && r->owner == offset && r->span == bytes) {
      ByteShadow b = s[0];
      check<kWrite>(b, offset, id, C);
      if constexpr (kWrite) {
        for (size_t i = 0; i < bytes; ++i) s[i] = b;
      }  // a read updates the set in place: the bytes' state is unchanged
      return;
    }
  }
  split_straddling(offset, offset + static_cast<uint32_t>(bytes));
  const ByteShadow before = s[0];
  const bool had_set = before.readers == kSharedReaders && shared_readers(before, offset) != nullptr;
  check<kWrite>(s[0], offset, id, C);
  // A read set the first byte just created grows over the following equal bytes (contiguous).
  const bool grows = !had_set && s[0].readers == kSharedReaders;
  for (size_t i = 1; i < bytes; ++i) {
    if (std::memcmp(&s[i], &before, sizeof(ByteShadow)) == 0 && (!grows || g_cta.pool[s[0].r_clock[0]].span == i)) {
      copy_state(s[i], s[0]);
      if (grows) g_cta.pool[s[0].r_clock[0]].span = static_cast<uint32_t>(i + 1);
    } else {
      check<kWrite>(s[i], offset + static_cast<uint32_t>(i), id, C);
    }
  }
}

[[gnu::cold, gnu::noinline]] void report_outside(uint32_t offset, size_t bytes, const char* what) {
  if (error_recorded()) return;
  report_error(std::string(what) + " of shared-memory bytes [" + std::to_string(offset) + ", " +
               std::to_string(offset + bytes) + ") outside the launched " + std::to_string(g_cta.smem_bytes) + " bytes");
}

inline bool in_launched_smem(uint32_t offset, size_t bytes, const char* what) {
  if (offset + bytes > g_cta.smem_bytes) {
    report_outside(offset, bytes, what);
    return false;
  }
  return true;
}

// ---- fibers ------------------------------------------------------------------------------

/// \brief Stacks for n fibers, each above a PROT_NONE guard page so that an overflow
/// faults instead of corrupting the neighbour.
void ensure_stacks(int n) {
  if (g_cta.stack_count >= n) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (g_cta.stacks != nullptr) munmap(g_cta.stacks, g_cta.stack_stride * g_cta.stack_count);
  g_cta.stack_stride = page + kStackBytes;
  void* p = mmap(nullptr, g_cta.stack_stride * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    g_cta.stacks = nullptr;
    g_cta.stack_count = 0;
    return;
  }
  g_cta.stacks = static_cast<unsigned char*>(p);
  g_cta.stack_count = n;
  for (int i = 0; i < n; ++i) mprotect(g_cta.stacks + i * g_cta.stack_stride, page, PROT_NONE);
}

/// \brief First runnable fiber in priority order, or -1.
int pick_runnable() {
  for (int f : g_cta.order) {
    if (!g_cta.fibers[f].waiting && !g_cta.fibers[f].done) return f;
  }
  return -1;
}

void enter(int f) {
  g_cta.current = f;
  threadIdx = make_uint3(static_cast<unsigned>(f), 0, 0);
}

/// \brief The running fiber cannot go on: resume the next runnable one, or give up the
/// CTA (deadlock, or an error already recorded) by returning to the scheduler.
void block() {
  const int self = g_cta.current;
  if (!g_cta.error.empty()) {  // the CTA failed: it ends here (report_error)
    swapcontext(&g_cta.fibers[self].context, &g_cta.scheduler);  // never resumed
    return;
  }
  const int next = pick_runnable();
  if (next < 0) {
    const Fiber& f = g_cta.fibers[self];
    std::string what = "deadlock: thread " + std::to_string(self) + " waits at a barrier no other thread can reach";
    if (f.wait_kind == kWaitMbarrier) {
      what += " (mbarrier_wait on the mbarrier at shared-memory byte " + std::to_string(f.wait_arg0) + " for parity " +
              std::to_string(f.wait_arg1) + ": no arrival or TMA completes that phase)";
    } else if (f.wait_kind == kWaitNamed) {
      what += " (bar.sync of named barrier " + std::to_string(f.wait_arg0) + " for " + std::to_string(f.wait_arg1) +
              " threads)";
    }
    report_error(what);
    swapcontext(&g_cta.fibers[self].context, &g_cta.scheduler);  // never resumed
    return;
  }
  enter(next);
  swapcontext(&g_cta.fibers[self].context, &g_cta.fibers[next].context);
}

using CompletionHook = void (*)(int);

void arrive_and_wait(Barrier& b, CompletionHook on_complete, int arg) {
  if (++b.arrived == b.expected) {
    b.arrived = 0;
    if (on_complete != nullptr) on_complete(arg);
    for (int w : b.waiters) g_cta.fibers[w].waiting = false;
    b.waiters.clear();
    return;  // the last arrival keeps running
  }
  me().waiting = true;
  b.waiters.push_back(g_cta.current);
  block();
}

// ---- the joins -----------------------------------------------------------------------------

/// __syncthreads (every thread arrived): every clock becomes the join of all, then ticks.
void cta_join(int) {
  const int L = g_cta.vc_len, T = g_cta.threads;
  g_cta.scratch.resize(L);
  uint32_t* m = g_cta.scratch.data();
  for (int u = 0; u < T; ++u) m[u] = row(u)[u];  // a thread's own entry is the largest anyone knows
  for (int a = T; a < L; ++a) {                   // an agent's clock only as far as the threads know it
    uint32_t x = 0;
    for (int t = 0; t < T; ++t) x = std::max(x, row(t)[a]);
    m[a] = x;
  }
  for (int t = 0; t < T; ++t) {
    std::memcpy(row(t), m, sizeof(uint32_t) * L);
    row(t)[t] += 1;
    g_cta.fibers[t].acquired = false;
  }
  ++g_cta.barrier_gen;
}

/// A warp collective: the lanes' clocks join.
void warp_join(int w) {
  const int base = w * kWarpSize, L = g_cta.vc_len;
  bool full = false;
  for (int l = 0; l < kWarpSize; ++l) full = full || g_cta.fibers[base + l].acquired;
  if (full) {
    g_cta.scratch.assign(row(base), row(base) + L);
    uint32_t* m = g_cta.scratch.data();
    for (int l = 1; l < kWarpSize; ++l) join_into(m, row(base + l));
    for (int l = 0; l < kWarpSize; ++l) std::memcpy(row(base + l), m, sizeof(uint32_t) * L);
  } else {  // the lanes differ only in the warp's own entries
    for (int l = 0; l < kWarpSize; ++l) {
      uint32_t* r = row(base + l);
      for (int k = 0; k < kWarpSize; ++k) r[base + k] = row(base + k)[base + k];
    }
  }
  for (int l = 0; l < kWarpSize; ++l) {
    row(base + l)[base + l] += 1;
    g_cta.fibers[base + l].acquired = false;
  }
}

/// \brief Release: the running thread's clock joins `into`, then its own entry ticks.
void release_into(std::vector<uint32_t>& into) {
  const int self = g_cta.current;
  join_into(into.data(), row(self));
  row(self)[self] += 1;
}

void acquire_from(const std::vector<uint32_t>& from) {
  if (from.empty()) return;
  join_into(row(g_cta.current), from.data());
  me().acquired = true;
}

// ---- cp.async --------------------------------------------------------------------------------

void land(const PendingCopy& c) {
  unsigned char* dst = g_cta.smem + c.smem_offset;
  const int self = g_cta.current;
  split_straddling(c.smem_offset, c.smem_offset + 16);
  for (uint32_t i = 0; i < 16; ++i) {  // the data is there from now on, written by the issuer
    ByteShadow& b = g_cta.shadow[c.smem_offset + i];
    b.pending = -1;
    drop_readers(b, c.smem_offset + i);
    b.w_clock = row(self)[self];
    b.w_tid = static_cast<uint16_t>(self);
  }
  if (c.valid) {
    std::memcpy(dst, c.gmem, 16);
  } else if (g_fault != Fault::kCpAsyncNoZeroFill) {
    std::memset(dst, 0, 16);
  }
}

void fiber_main() {
  (*g_cta.body)();
  Fiber& f = me();
  if (!f.uncommitted.empty() || !f.groups.empty()) {
    report_error("thread " + std::to_string(g_cta.current) + " exited with cp.async copies never waited for");
  }
  bool wgmma_in_flight = !f.wgmma_uncommitted.empty();
  for (const auto& g : f.wgmma_groups) wgmma_in_flight = wgmma_in_flight || !g.empty();
  if (wgmma_in_flight) {
    report_error("thread " + std::to_string(g_cta.current) +
                 " exited with wgmma never waited for (wgmma_commit / wgmma_wait missing)");
  }
  f.done = true;
  const int next = pick_runnable();
  if (next < 0) {
    for (const Fiber& other : g_cta.fibers) {
      if (other.waiting) {
        report_error("deadlock: threads wait at a barrier after others exited");
        break;
      }
    }
    setcontext(&g_cta.scheduler);
  }
  enter(next);
  setcontext(&g_cta.fibers[next].context);
}

// ---- TMA landing ------------------------------------------------------------------------------

void land_tma(const TmaCopy& c) {
  const TmaTensor& t = c.tensor;
  const unsigned char* base = static_cast<const unsigned char*>(t.base);
  for (uint32_t i3 = 0; i3 < t.box[3]; ++i3) {
    for (uint32_t i2 = 0; i2 < t.box[2]; ++i2) {
      for (uint32_t i1 = 0; i1 < t.box[1]; ++i1) {
        const uint32_t r = i1 + t.box[1] * (i2 + t.box[2] * i3);
        const int64_t g1 = int64_t{c.coords[1]} + i1, g2 = int64_t{c.coords[2]} + i2, g3 = int64_t{c.coords[3]} + i3;
        const bool row_in = g1 >= 0 && g1 < static_cast<int64_t>(t.dims[1]) && g2 >= 0 &&
                            g2 < static_cast<int64_t>(t.dims[2]) && g3 >= 0 && g3 < static_cast<int64_t>(t.dims[3]);
        for (uint32_t i0 = 0; i0 < t.box[0]; ++i0) {
          const int64_t g0 = int64_t{c.coords[0]} + i0;
          const uint32_t at = tma_box_address(c.dst, r, i0);
          if (row_in && g0 >= 0 && g0 < static_cast<int64_t>(t.dims[0])) {
            std::memcpy(g_cta.smem + at,
                        base + g0 * 2 + g1 * static_cast<int64_t>(t.strides[0]) +
                            g2 * static_cast<int64_t>(t.strides[1]) + g3 * static_cast<int64_t>(t.strides[2]),
                        2);
          } else if (g_fault != Fault::kTmaNoZeroFill) {
            std::memset(g_cta.smem + at, 0, 2);
          }
        }
      }
    }
  }
  for (uint32_t i = 0; i < c.bytes; ++i) {
    ByteShadow& b = g_cta.shadow[c.dst + i];
    b.pending = -1;
    b.flags &= static_cast<uint8_t>(~kFlagTma);
  }
}

// ---- CTA set-up and tear-down -------------------------------------------------------------------

void start_clocks(int threads) {
  const int agents = (threads + kWarpgroupSize - 1) / kWarpgroupSize;
  g_cta.threads = threads;
  g_cta.vc_len = threads + agents + 1;  // + the TMA agent, last
  const uint32_t base = g_cta.next_clock;
  g_cta.clocks.assign(static_cast<size_t>(g_cta.vc_len) * g_cta.vc_len, base);
  for (int id = 0; id < g_cta.vc_len; ++id) row(id)[id] = base + 1;
  ++g_cta.pool_serial;
  g_cta.pool_used = 0;
  g_cta.pool_free.clear();
}

void finish_cta() {
  for (auto& [address, b] : g_cta.mbarriers) {
    if (!b.copies.empty()) {
      const TmaCopy& c = b.copies.front();
      report_error("a TMA copy to shared-memory bytes [" + std::to_string(c.dst) + ", " +
                   std::to_string(c.dst + c.bytes) + ") issued by " + who(c.issuer) + " on the mbarrier at byte " +
                   std::to_string(address) + " was never waited for (no mbarrier_wait saw its phase complete)");
    }
    for (const TmaCopy& c : b.copies) {
      for (uint32_t i = 0; i < c.bytes; ++i) {
        g_cta.shadow[c.dst + i].pending = -1;
        g_cta.shadow[c.dst + i].flags &= static_cast<uint8_t>(~kFlagTma);
      }
    }
    for (uint32_t i = 0; i < 8; ++i) g_cta.shadow[address + i].flags &= static_cast<uint8_t>(~kFlagBarrier);
  }
  g_cta.mbarriers.clear();
  for (NamedBarrier& nb : g_cta.named) nb = NamedBarrier{};
  uint32_t top = g_cta.next_clock;
  for (int id = 0; id < g_cta.vc_len; ++id) top = std::max(top, row(id)[id]);
  g_cta.next_clock = top + 1;
  if (g_cta.next_clock > kClockLimit) {  // start the clocks over: forget every earlier access
    for (ByteShadow& b : g_cta.shadow) {
      b.w_clock = 0;
      b.readers = 0;
    }
    g_cta.next_clock = 1;
  }
}

void run_cta(int threads, bool warps_descending) {
  const int warps = threads / kWarpSize;
  const int warpgroups = threads / kWarpgroupSize;
  g_cta.fibers.assign(threads, Fiber{});
  g_cta.order.clear();
  for (int i = 0; i < warps; ++i) {
    const int w = warps_descending ? warps - 1 - i : i;
    for (int l = 0; l < kWarpSize; ++l) g_cta.order.push_back(w * kWarpSize + l);
  }
  g_cta.warp_barriers.assign(warps, Barrier{kWarpSize, 0, {}});
  g_cta.cta_barrier = Barrier{threads, 0, {}};
  g_cta.slots.assign(2 * warps, SlotBuffer{});
  g_cta.wg_barriers.assign(warpgroups, Barrier{kWarpgroupSize, 0, {}});
  g_cta.wg_slots.resize(2 * warpgroups);
  g_cta.warpgroups.assign(warpgroups, Warpgroup{});
  std::memset(g_cta.smem, 0xff, g_cta.smem_bytes);  // NaN in bf16 and fp16
  start_clocks(threads);
  for (int t = 0; t < threads; ++t) {
    ucontext_t& c = g_cta.fibers[t].context;
    getcontext(&c);
    c.uc_stack.ss_sp = g_cta.stacks + t * g_cta.stack_stride + (g_cta.stack_stride - kStackBytes);
    c.uc_stack.ss_size = kStackBytes;
    c.uc_link = nullptr;  // fiber_main never returns
    makecontext(&c, fiber_main, 0);
  }
  const int first = g_cta.order.front();
  enter(first);
  swapcontext(&g_cta.scheduler, &g_cta.fibers[first].context);
  g_cta.current = -1;
  finish_cta();
}

// ---- warpgroups -----------------------------------------------------------------------------------

int my_warpgroup(const char* what) {
  if (g_cta.threads % kWarpgroupSize != 0) {
    report_error(std::string(what) + " in a CTA of " + std::to_string(g_cta.threads) +
                 " threads (warpgroup instructions need whole warpgroups of 128)");
    return -1;
  }
  return g_cta.current / kWarpgroupSize;
}

uint32_t* wg_slot(int wg) {
  return g_cta.wg_slots[2 * wg + me().wg_parity].lanes[g_cta.current % kWarpgroupSize];
}

const char* wg_kind_name(uint32_t kind) {
  switch (kind) {
    case kWgFence: return "wgmma_fence";
    case kWgIssue: return "wgmma";
    case kWgCommit: return "wgmma_commit";
    case kWgWait: return "wgmma_wait";
    case kWgSync: return "setmaxnreg";
  }
  return "?";
}

/// \brief One operand element through its descriptor: recorded as a read of the agent, and
/// its value.
float operand_element(uint64_t desc, bool mn_major, int mn, int k, bool is_bf16, int agent, AgentRead& reads) {
  const uint32_t at = gmma_element_address(desc, mn_major, mn, k);
  if (at % 2 != 0 || at + size_t{2} > g_cta.smem_bytes) {
    report_error("wgmma operand element at shared-memory byte " + std::to_string(at) + " is unaligned or outside the " +
                 std::to_string(g_cta.smem_bytes) + " launched bytes (descriptor " + std::to_string(desc) + ")");
    return 0.0f;
  }
  shadow_range<false>(at, 2, agent, reads.clock.data());
  reads.elements.push_back(at);
  uint16_t bits;
  std::memcpy(&bits, g_cta.smem + at, sizeof(bits));
  return b16_to_float(bits, is_bf16);
}

/// The issue of one wgmma, once per warpgroup (by the last thread to reach it): the agent's
/// clock joins every issuing thread's, then the operands are read through the descriptors.
void wg_issue(int wg, const WgSlotBuffer& s) {
  Warpgroup& G = g_cta.warpgroups[wg];
  const uint32_t* s0 = s.lanes[0];
  const int n = static_cast<int>(s0[2]);
  const bool is_bf16 = (s0[3] & 1u) != 0, a_in_regs = (s0[3] & 2u) != 0, b_mn_major = (s0[3] & 4u) != 0;
  const uint64_t a_desc = s0[4] | (uint64_t{s0[5]} << 32), b_desc = s0[6] | (uint64_t{s0[7]} << 32);
  for (uint64_t desc : {a_desc, b_desc}) {
    if (((desc >> 49) & 7u) != 0 && !(desc == a_desc && a_in_regs)) {
      report_error("wgmma descriptor with a nonzero base offset (bits 49-51) is not emulated");
    }
  }
  const int agent = g_cta.threads + wg;
  uint32_t* A = row(agent);
  for (int t = wg * kWarpgroupSize; t < (wg + 1) * kWarpgroupSize; ++t) join_into(A, row(t));
  A[agent] += 1;
  AgentRead reads;
  reads.clock.assign(A, A + g_cta.vc_len);
  reads.elements.reserve(static_cast<size_t>(64 + n) * 16);
  G.a.assign(64 * 16, 0.0f);
  G.b.assign(static_cast<size_t>(n) * 16, 0.0f);
  for (int m = 0; m < 64; ++m) {
    for (int k = 0; k < 16; ++k) {
      if (a_in_regs) {  // mma.sync's A fragment of warp m / 16: a[(m % 16) / 8 + 2 (k / 8)], lane 4 (m % 8) + (k % 8) / 2
        int reg = (m % 16) / 8 + 2 * (k / 8);
        if (g_fault == Fault::kWgmmaSwapAHalves && (reg == 1 || reg == 2)) reg = 3 - reg;
        const int lane = 32 * (m / 16) + 4 * (m % 8) + (k % 8) / 2;
        G.a[m * 16 + k] = b16_to_float(static_cast<uint16_t>(s.lanes[lane][8 + reg] >> (16 * (k % 2))), is_bf16);
      } else {
        G.a[m * 16 + k] = operand_element(a_desc, false, m, k, is_bf16, agent, reads);
      }
    }
  }
  for (int c = 0; c < n; ++c) {
    for (int k = 0; k < 16; ++k) G.b[c * 16 + k] = operand_element(b_desc, b_mn_major, c, k, is_bf16, agent, reads);
  }
  G.uncommitted.push_back(std::move(reads));
}

/// The last thread of a warpgroup collective: checks that all 128 did the same, and does the
/// warpgroup's part once.
void wg_complete(int wg) {
  Warpgroup& G = g_cta.warpgroups[wg];
  const WgSlotBuffer& s = *G.buffer;
  G.bad = false;
  for (int t = 1; t < kWarpgroupSize; ++t) {
    for (int w = 0; w < 8; ++w) {
      if (s.lanes[t][w] != s.lanes[0][w]) {
        report_error("warpgroup " + std::to_string(wg) + ": thread " + std::to_string(wg * kWarpgroupSize + t) +
                     " executes " + wg_kind_name(s.lanes[t][0]) + " while thread " +
                     std::to_string(wg * kWarpgroupSize) + " executes " + wg_kind_name(s.lanes[0][0]) +
                     " (a .sync.aligned warpgroup instruction must be the same in all 128 threads)");
        G.bad = true;
        return;
      }
    }
  }
  switch (s.lanes[0][0]) {
    case kWgIssue:
      wg_issue(wg, s);
      break;
    case kWgCommit:
      G.groups.push_back(std::move(G.uncommitted));
      G.uncommitted.clear();
      break;
    case kWgWait: {
      G.landed.clear();
      while (G.groups.size() > s.lanes[0][1]) {
        const int agent = g_cta.threads + wg;
        for (const AgentRead& r : G.groups.front()) {  // the reads last until now: a refill since is a race
          for (uint32_t at : r.elements) shadow_range<false>(at, 2, agent, r.clock.data());
          G.landed = r.clock;  // clocks only grow: the newest completed read covers the older
        }
        G.groups.pop_front();
      }
      break;
    }
    default:
      break;
  }
}

/// \brief A warpgroup collective of the running thread: fills its slot (the first words of
/// `words`), waits for the other 127, and returns false when they did not match.
bool wg_collective(const char* what, const uint32_t* words, int count) {
  const int wg = my_warpgroup(what);
  if (wg < 0) return false;
  uint32_t* slot = wg_slot(wg);
  std::memset(slot, 0, sizeof(uint32_t) * kWgSlotWords);
  std::memcpy(slot, words, sizeof(uint32_t) * count);
  Warpgroup& G = g_cta.warpgroups[wg];
  G.buffer = &g_cta.wg_slots[2 * wg + me().wg_parity];
  me().wg_parity ^= 1;
  arrive_and_wait(g_cta.wg_barriers[wg], wg_complete, wg);
  return !G.bad;
}

// ---- mbarriers ------------------------------------------------------------------------------------

/// \brief The barrier at `bar`, checked: address, initialisation, and that the init happens
/// before this use. nullptr (error reported) otherwise.
MBarrier* find_barrier(uint32_t bar, const char* what) {
  if (bar % 8 != 0 || bar + size_t{8} > g_cta.smem_bytes) {
    report_error(std::string(what) + " on an mbarrier at shared-memory byte " + std::to_string(bar) +
                 ", unaligned or outside the launched " + std::to_string(g_cta.smem_bytes) + " bytes");
    return nullptr;
  }
  auto it = g_cta.mbarriers.find(bar);
  if (it == g_cta.mbarriers.end()) {
    report_error(std::string(what) + " on an uninitialised mbarrier at shared-memory byte " + std::to_string(bar) +
                 " (no mbarrier_init)");
    return nullptr;
  }
  MBarrier& b = it->second;
  if (row(g_cta.current)[b.init_tid] < b.init_clock) {
    report_error(std::string(what) + " by " + who(g_cta.current) + " on the mbarrier at shared-memory byte " +
                 std::to_string(bar) + " before its mbarrier_init by " + who(b.init_tid) +
                 " is ordered before it (a __syncthreads after the initialisation is missing)");
    return nullptr;
  }
  return &b;
}

void complete_phase(MBarrier& b) {
  b.ready = false;
  ++b.completed;
  b.snapshot = b.release;
  b.pending = b.count;
  for (int w : b.waiters) g_cta.fibers[w].waiting = false;
  b.waiters.clear();
}

/// \brief After an arrival or a TMA: the phase completes when every arrival came and every
/// expected byte was issued. A phase whose last event is a TMA completes as late as possible
/// (`ready`): at the first mbarrier_wait that needs it, or the next operation on the barrier
/// (at once when a thread already waits), so that a wait on the wrong parity still sees the
/// phase before and returns early.
void try_complete(MBarrier& b, uint32_t bar, bool by_tma) {
  if (b.pending != 0) return;
  if (b.tx < 0) {
    report_error("the mbarrier at shared-memory byte " + std::to_string(bar) + " received " + std::to_string(-b.tx) +
                 " more transaction bytes than its phase expected (mbarrier_arrive_expect_tx too small)");
    b.tx = 0;
  }
  if (b.tx != 0) return;
  if (by_tma && b.waiters.empty()) {
    b.ready = true;
  } else {
    complete_phase(b);
  }
}

}  // namespace

void set_shared_memory(void* base, size_t capacity_bytes) {
  g_cta.smem = static_cast<unsigned char*>(base);
  detail::g_shared_base = g_cta.smem;
  g_cta.smem_capacity = capacity_bytes;
  if (g_cta.shadow.size() < capacity_bytes) g_cta.shadow.resize(capacity_bytes);
}

const char* sync_call_name(SyncCall call) {
  switch (call) {
    case SyncCall::kSyncthreads: return "__syncthreads";
    case SyncCall::kMbarrierWait: return "mbarrier_wait";
    case SyncCall::kMbarrierArrive: return "mbarrier_arrive";
    case SyncCall::kMbarrierArriveExpectTx: return "mbarrier_arrive_expect_tx";
    case SyncCall::kFenceBarrierInit: return "fence_barrier_init";
    case SyncCall::kWgmmaFence: return "wgmma_fence";
    case SyncCall::kWgmmaWait: return "wgmma_wait";
  }
  return "?";
}

bool sync_site_deleted(SyncCall call, const char* file, int line) {
  if (line == g_deleted_barrier.line && g_deleted_barrier.file == file) return true;
  for (const SiteHit& h : g_sites_hit) {
    if (h.line == line && h.call == call && h.file == file) return false;
  }
  g_sites_hit.push_back(SiteHit{file, line, call});
  return false;
}

std::set<BarrierSite> barrier_sites_hit() {
  std::set<BarrierSite> sites;
  for (const SiteHit& h : g_sites_hit) {
    if (h.call == SyncCall::kSyncthreads) sites.insert(BarrierSite{h.file, h.line});
  }
  return sites;
}

std::map<BarrierSite, std::set<SyncCall>> sync_sites_hit() {
  std::map<BarrierSite, std::set<SyncCall>> sites;
  for (const SiteHit& h : g_sites_hit) sites[BarrierSite{h.file, h.line}].insert(h.call);
  return sites;
}

void clear_barrier_sites_hit() { g_sites_hit.clear(); }

std::string run_grid(const LaunchConfig& config, const std::function<void()>& thread_body) {
  if (!g_cta.error.empty()) {  // a failed launch may have left copies in flight
    for (ByteShadow& b : g_cta.shadow) {
      b.pending = -1;
      b.flags = 0;
    }
  }
  g_cta.error.clear();
  if (config.threads <= 0 || config.threads % kWarpSize != 0) return "threads per CTA must be a positive multiple of 32";
  if (config.threads > kMaxThreads) return "more than 1024 threads per CTA";
  if (config.smem_bytes > g_cta.smem_capacity) return "dynamic shared memory larger than the emulated buffer";
  ensure_stacks(config.threads);
  if (g_cta.stacks == nullptr) return "mmap of the fiber stacks failed";
  g_cta.body = &thread_body;
  g_cta.smem_bytes = config.smem_bytes;
  detail::g_shared_bytes = config.smem_bytes;
  gridDim = config.grid;
  blockDim = dim3(static_cast<unsigned>(config.threads), 1, 1);
  uint64_t linear = 0;
  for (unsigned z = 0; z < config.grid.z; ++z) {
    for (unsigned y = 0; y < config.grid.y; ++y) {
      for (unsigned x = 0; x < config.grid.x; ++x, ++linear) {
        blockIdx = make_uint3(x, y, z);
        run_cta(config.threads, /*warps_descending=*/linear % 2 == 1);
        if (!g_cta.error.empty()) {
          return g_cta.error + " (CTA " + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
        }
      }
    }
  }
  return "";
}

void report_error(const std::string& what) {
  if (g_cta.error.empty()) g_cta.error = what;
}

int lane() { return g_cta.current % kWarpSize; }
int warp() { return g_cta.current / kWarpSize; }

uint32_t* warp_slot() { return g_cta.slots[2 * warp() + me().parity].lanes[lane()]; }

const WarpSlots& warp_exchange() {
  Fiber& f = me();
  const WarpSlots& buffer = g_cta.slots[2 * warp() + f.parity].lanes;
  f.parity ^= 1;
  arrive_and_wait(g_cta.warp_barriers[warp()], warp_join, warp());
  return buffer;
}

void sync_cta(const char* file, int line) {
  if (g_fault == Fault::kNoSyncthreads) return;
  if (sync_site_deleted(SyncCall::kSyncthreads, file, line)) return;
  arrive_and_wait(g_cta.cta_barrier, cta_join, 0);
}

void smem_read(uint32_t offset, size_t bytes) {
  if (!in_launched_smem(offset, bytes, "read")) return;
  shadow_range<false>(offset, bytes, g_cta.current, row(g_cta.current));
}

void smem_write(uint32_t offset, size_t bytes) {
  if (!in_launched_smem(offset, bytes, "write")) return;
  shadow_range<true>(offset, bytes, g_cta.current, row(g_cta.current));
}


void cp_async_issue(uint32_t smem_offset, const void* gmem, bool valid) {
  if (smem_offset % 16 != 0 || smem_offset + size_t{16} > g_cta.smem_bytes) {
    report_error("cp.async destination " + std::to_string(smem_offset) + " is unaligned or outside " +
                 std::to_string(g_cta.smem_bytes) + " bytes of shared memory");
    return;
  }
  if (reinterpret_cast<uintptr_t>(gmem) % 16 != 0) {
    report_error("cp.async source is not 16-byte aligned");
    return;
  }
  const int self = g_cta.current;
  shadow_range<true>(smem_offset, 16, self, row(self));  // adversarial: the refill may write from its issue on
  for (uint32_t i = 0; i < 16; ++i) g_cta.shadow[smem_offset + i].pending = static_cast<int16_t>(self);
  me().uncommitted.push_back({smem_offset, gmem, valid});
}

void cp_async_commit() {
  Fiber& f = me();
  f.groups.push_back(std::move(f.uncommitted));
  f.uncommitted.clear();
}

void cp_async_wait(int pending) {
  Fiber& f = me();
  while (static_cast<int>(f.groups.size()) > pending) {
    for (const PendingCopy& c : f.groups.front()) land(c);
    f.groups.pop_front();
  }
}

// ---- sm_90a -------------------------------------------------------------------------------------

void mbarrier_init(uint32_t bar, uint32_t count) {
  if (bar % 8 != 0 || bar + size_t{8} > g_cta.smem_bytes) {
    report_error("mbarrier_init at shared-memory byte " + std::to_string(bar) + ", unaligned or outside the launched " +
                 std::to_string(g_cta.smem_bytes) + " bytes");
    return;
  }
  if (count == 0 || count >= (1u << 20)) {
    report_error("mbarrier_init with an arrival count of " + std::to_string(count) + " (1 to 2^20 - 1)");
    return;
  }
  if (g_cta.mbarriers.count(bar) != 0) {
    report_error("mbarrier_init of the mbarrier at shared-memory byte " + std::to_string(bar) +
                 ", which is already initialised");
    return;
  }
  const int self = g_cta.current;
  shadow_range<true>(bar, 8, self, row(self));  // the init writes the 8 bytes
  for (uint32_t i = 0; i < 8; ++i) g_cta.shadow[bar + i].flags |= kFlagBarrier;
  MBarrier& b = g_cta.mbarriers[bar];
  b.count = b.pending = count;
  b.init_tid = self;
  b.init_clock = row(self)[self];
  b.release.assign(g_cta.vc_len, 0);
  b.snapshot.assign(g_cta.vc_len, 0);
  row(self)[self] += 1;  // accesses after the init are new epochs
}

void fence_barrier_init() {
  for (auto& [bar, b] : g_cta.mbarriers) {
    if (b.init_tid == g_cta.current) b.fenced = true;
  }
}

void mbarrier_arrive(uint32_t bar, bool expect_tx, uint32_t tx_bytes) {
  MBarrier* b = find_barrier(bar, expect_tx ? "mbarrier_arrive_expect_tx" : "mbarrier_arrive");
  if (b == nullptr) return;
  if (b->ready) complete_phase(*b);  // this arrival belongs to the next phase
  if (b->pending == 0) {
    report_error(who(g_cta.current) + " arrives on the mbarrier at shared-memory byte " + std::to_string(bar) +
                 " after all " + std::to_string(b->count) +
                 " arrivals of its phase (more arrivals than its count; the phase still waits for transaction bytes)");
    return;
  }
  if (expect_tx) b->tx += tx_bytes;
  release_into(b->release);
  --b->pending;
  try_complete(*b, bar, /*by_tma=*/false);
}

void mbarrier_wait(uint32_t bar, uint32_t parity) {
  if (parity > 1) {
    report_error("mbarrier_wait with parity " + std::to_string(parity) + " (0 or 1)");
    return;
  }
  for (;;) {
    MBarrier* b = find_barrier(bar, "mbarrier_wait");
    if (b == nullptr) return;
    if ((b->completed & 1u) == parity && b->ready) complete_phase(*b);  // the phase this wait needs
    if ((b->completed & 1u) != parity) {
      std::vector<TmaCopy>& copies = b->copies;
      size_t kept = 0;
      for (size_t i = 0; i < copies.size(); ++i) {
        if (copies[i].phase < b->completed) {
          land_tma(copies[i]);
        } else {
          copies[kept++] = copies[i];
        }
      }
      copies.resize(kept);
      acquire_from(b->snapshot);
      return;
    }
    Fiber& f = me();
    f.waiting = true;
    f.wait_kind = kWaitMbarrier;
    f.wait_arg0 = bar;
    f.wait_arg1 = parity;
    b->waiters.push_back(g_cta.current);
    block();
    me().wait_kind = kWaitOther;
  }
}

uint32_t tma_box_address(uint32_t dst, uint32_t row_index, uint32_t column) {
  const uint32_t at = dst + row_index * 128 + column * 2;
  if (g_fault == Fault::kTmaNoSwizzle) return at;
  return at ^ (((at >> 7) & 7u) << 4);  // Swizzle<3, 4, 3>: 16-byte chunk bits 4-6 ^= bits 7-9
}

void tma_load(uint32_t smem, const TmaTensor& tensor, uint32_t bar, int c0, int c1, int c2, int c3) {
  MBarrier* b = find_barrier(bar, "tma_load_4d");
  if (b == nullptr) return;
  if (!b->fenced) {
    report_error("tma_load_4d on the mbarrier at shared-memory byte " + std::to_string(bar) +
                 " whose initialisation no fence_barrier_init made visible to TMA");
    return;
  }
  if (tensor.base == nullptr || tensor.box[0] != 64) {
    report_error("tma_load_4d of a tensor map without a base or with an inner box other than 64 elements");
    return;
  }
  uint64_t rows = 1;
  for (int i = 1; i < 4; ++i) {
    if (tensor.box[i] == 0 || tensor.box[i] > 256) {
      report_error("tma_load_4d with a box extent outside 1-256");
      return;
    }
    rows *= tensor.box[i];
  }
  const uint64_t bytes = rows * 128;
  if (smem % 1024 != 0 || smem + bytes > g_cta.smem_bytes) {
    report_error("tma_load_4d destination [" + std::to_string(smem) + ", " + std::to_string(smem + bytes) +
                 ") is not 1024-byte aligned (the 128-byte swizzle atom) or outside the launched " +
                 std::to_string(g_cta.smem_bytes) + " bytes");
    return;
  }
  if (b->ready) complete_phase(*b);  // this copy belongs to the next phase
  const int self = g_cta.current;
  // The copy is an agent of its own (the async proxy): it starts knowing what the issuer knew,
  // and writes from its issue on (adversarial: a refill of bytes a consumer still reads races).
  const int tma_agent = g_cta.vc_len - 1;
  uint32_t* A = row(tma_agent);
  join_into(A, row(self));
  A[tma_agent] += 1;
  shadow_range<true>(smem, bytes, tma_agent, A);
  for (uint32_t i = 0; i < bytes; ++i) {
    ByteShadow& s = g_cta.shadow[smem + i];
    s.pending = static_cast<int16_t>(self);
    s.flags |= kFlagTma;
  }
  b->copies.push_back(TmaCopy{smem, static_cast<uint32_t>(bytes), tensor, {c0, c1, c2, c3}, self, b->completed});
  // The completion releases the copy's writes, not the issuer's other accesses: a plain store
  // the issuer makes after its own arrival is not published by a TMA completing the phase.
  b->release[tma_agent] = std::max(b->release[tma_agent], A[tma_agent]);
  b->tx -= static_cast<int64_t>(bytes);
  try_complete(*b, bar, /*by_tma=*/true);
}

void named_barrier(int id, int threads, bool wait) {
  if (id == 0) {
    if (wait && threads == g_cta.threads) {
      arrive_and_wait(g_cta.cta_barrier, cta_join, 0);
    } else {
      report_error("named barrier 0 is __syncthreads' barrier: only bar.sync with all the CTA's threads");
    }
    return;
  }
  if (id < 0 || id >= kNamedBarriers || threads <= 0 || threads % kWarpSize != 0 || threads > g_cta.threads) {
    report_error("named barrier " + std::to_string(id) + " with " + std::to_string(threads) +
                 " threads (ids 1-15; a positive multiple of 32 up to the CTA's threads)");
    return;
  }
  NamedBarrier& nb = g_cta.named[id];
  if (nb.expected == 0) {
    nb.expected = threads;
    nb.joined.assign(g_cta.vc_len, 0);
  } else if (nb.expected != threads) {
    report_error("named barrier " + std::to_string(id) + " used with " + std::to_string(nb.expected) + " and " +
                 std::to_string(threads) + " threads in the same phase");
    return;
  }
  release_into(nb.joined);
  if (++nb.arrived == nb.expected) {
    for (int w : nb.waiters) {
      join_into(row(w), nb.joined.data());
      g_cta.fibers[w].acquired = true;
      g_cta.fibers[w].waiting = false;
    }
    if (wait) acquire_from(nb.joined);
    nb = NamedBarrier{};
    return;
  }
  if (!wait) return;
  Fiber& f = me();
  f.waiting = true;
  f.wait_kind = kWaitNamed;
  f.wait_arg0 = static_cast<uint32_t>(id);
  f.wait_arg1 = static_cast<uint32_t>(threads);
  nb.waiters.push_back(g_cta.current);
  block();
  me().wait_kind = kWaitOther;
}

void warpgroup_sync(const char* what, int value) {
  const uint64_t tag = reinterpret_cast<uintptr_t>(what);
  const uint32_t words[4] = {kWgSync, static_cast<uint32_t>(value), static_cast<uint32_t>(tag),
                             static_cast<uint32_t>(tag >> 32)};
  wg_collective(what, words, 4);
}

uint32_t gmma_element_address(uint64_t desc, bool mn_major, int mn, int k) {
  const uint32_t start = static_cast<uint32_t>(desc & 0x3fffu) << 4;
  uint32_t lbo = static_cast<uint32_t>((desc >> 16) & 0x3fffu) << 4;
  uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3fffu) << 4;
  if (g_fault == Fault::kWgmmaSwapLboSbo) std::swap(lbo, sbo);
  const uint32_t mode = static_cast<uint32_t>(desc >> 62);  // 0 interleave, 1 128B, 2 64B, 3 32B
  const uint32_t bits = mode == 1 ? 3 : mode == 2 ? 2 : mode == 3 ? 1 : 0;  // Swizzle<bits, 4, 3>
  const uint32_t chunks = 1u << bits;  // 16-byte chunks per swizzle row (W)
  uint32_t offset;
  // CuTe's canonical layouts (cute/atom/mma_traits_sm90_gmma.hpp), T = 8 16-bit elements:
  if (!mn_major) {
    // SW:  ((8, m), (T, 2)) : ((W T, SBO), (1, T));  INTERLEAVE: ((8, m), (T, 2)) : ((T, SBO), (1, LBO))
    const uint32_t i = mn % 8, j = mn / 8, e = k % 8, c = k / 8;
    offset = bits != 0 ? i * 16 * chunks + j * sbo + c * 16 + e * 2 : i * 16 + j * sbo + c * lbo + e * 2;
  } else if (bits != 0) {
    // SW: ((T, W, m), (8, k)) : ((1, T, LBO), (W T, SBO))
    const uint32_t e = mn % 8, c = (mn / 8) % chunks, j = mn / (8 * chunks), i = k % 8, g = k / 8;
    offset = e * 2 + c * 16 + j * lbo + i * 16 * chunks + g * sbo;
  } else {
    // INTERLEAVE: ((T, 1, m), (8, k)) : ((1, T, SBO), (T, LBO))
    const uint32_t e = mn % 8, j = mn / 8, i = k % 8, g = k / 8;
    offset = e * 2 + j * sbo + i * 16 + g * lbo;
  }
  uint32_t at = start + offset;
  if (bits != 0 && g_fault != Fault::kWgmmaIgnoreSwizzle) {
    const uint32_t mask = (chunks - 1) << 7;
    at ^= (at & mask) >> 3;
  }
  return at;
}

void wgmma_fence() {
  const uint32_t words[1] = {kWgFence};
  if (wg_collective("wgmma_fence", words, 1)) me().needs_wgmma_fence = false;
}

void wgmma_issue(float* d, int n, bool is_bf16, const uint32_t* a_regs, uint64_t a_desc, uint64_t b_desc,
                 bool b_mn_major, int accumulate) {
  if (me().needs_wgmma_fence) {
    report_error(who(g_cta.current) +
                 " issues a wgmma without a wgmma_fence since the kernel start or its last landing wgmma_wait "
                 "(its registers may not be ready)");
  }
  if (n % 8 != 0 || n < 8 || n > 256) {
    report_error("wgmma with n = " + std::to_string(n));
    return;
  }
  uint32_t words[kWgSlotWords] = {kWgIssue,
                                  static_cast<uint32_t>(accumulate != 0),
                                  static_cast<uint32_t>(n),
                                  (is_bf16 ? 1u : 0u) | (a_regs != nullptr ? 2u : 0u) | (b_mn_major ? 4u : 0u),
                                  static_cast<uint32_t>(a_regs != nullptr ? 0 : a_desc),
                                  static_cast<uint32_t>(a_regs != nullptr ? 0 : a_desc >> 32),
                                  static_cast<uint32_t>(b_desc),
                                  static_cast<uint32_t>(b_desc >> 32)};
  if (a_regs != nullptr) std::memcpy(words + 8, a_regs, 4 * sizeof(uint32_t));
  if (!wg_collective("wgmma", words, kWgSlotWords)) return;
  Fiber& f = me();
  const Warpgroup& G = g_cta.warpgroups[g_cta.current / kWarpgroupSize];
  // C: the newest pending result for this d, else the registers.
  const PendingWgmma* source = nullptr;
  for (auto it = f.wgmma_uncommitted.rbegin(); source == nullptr && it != f.wgmma_uncommitted.rend(); ++it) {
    if (it->d == d) source = &*it;
  }
  for (auto g = f.wgmma_groups.rbegin(); source == nullptr && g != f.wgmma_groups.rend(); ++g) {
    for (auto it = g->rbegin(); source == nullptr && it != g->rend(); ++it) {
      if (it->d == d) source = &*it;
    }
  }
  PendingWgmma result;
  result.d = d;
  result.count = n / 2;
  const int r = g_cta.current % kWarpgroupSize;
  const int w = r / kWarpSize, g = (r % kWarpSize) / 4, q = r % 4;
  for (int j = 0; j < n / 8; ++j) {
    for (int e = 0; e < 4; ++e) {
      int half = e / 2;
      if (g_fault == Fault::kWgmmaSwapAccRows) half ^= 1;
      const int m = 16 * w + g + 8 * half, c = 8 * j + 2 * q + e % 2;
      float acc = accumulate == 0 ? 0.0f : source != nullptr ? source->values[4 * j + e] : d[4 * j + e];
      const float* a = &G.a[m * 16];
      const float* b = &G.b[c * 16];
      for (int k = 0; k < 16; ++k) acc += a[k] * b[k];
      result.values[4 * j + e] = acc;
    }
  }
  f.wgmma_uncommitted.push_back(result);
  for (int i = 0; i < n / 2; ++i) d[i] = std::numeric_limits<float>::quiet_NaN();  // in flight
}

void wgmma_commit() {
  const uint32_t words[1] = {kWgCommit};
  if (!wg_collective("wgmma_commit", words, 1)) return;
  Fiber& f = me();
  f.wgmma_groups.push_back(std::move(f.wgmma_uncommitted));
  f.wgmma_uncommitted.clear();
}

void wgmma_wait(int pending) {
  const uint32_t words[2] = {kWgWait, static_cast<uint32_t>(pending)};
  if (!wg_collective("wgmma_wait", words, 2)) return;
  Fiber& f = me();
  bool landed = false;
  while (static_cast<int>(f.wgmma_groups.size()) > pending) {
    for (const PendingWgmma& p : f.wgmma_groups.front()) {
      std::memcpy(p.d, p.values, sizeof(float) * p.count);
      landed = true;
    }
    f.wgmma_groups.pop_front();
  }
  if (landed) f.needs_wgmma_fence = true;
  acquire_from(g_cta.warpgroups[g_cta.current / kWarpgroupSize].landed);
}

float b16_to_float(uint16_t bits, bool is_bf16) {
  uint32_t u;
  if (is_bf16) {
    u = uint32_t{bits} << 16;
  } else {
    const uint32_t sign = (bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1fu;
    const uint32_t mantissa = bits & 0x3ffu;
    if (exponent == 0x1f) {
      u = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN
    } else if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
      const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
      return sign != 0 ? -magnitude : magnitude;
    } else {
      u = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
  }
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace attnkit_emu
