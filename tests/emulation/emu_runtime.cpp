// Fiber scheduler behind emu_runtime.hpp.
//
// Every CUDA thread of the running CTA is a ucontext fiber with its own stack. A fiber runs
// until it must wait (a warp collective or __syncthreads the others have not reached) or
// finishes; the scheduler then resumes the first runnable fiber in a fixed priority order:
// warps ascending in even CTAs and descending in odd ones, lanes ascending. So one warp
// runs as far ahead of the others as the barriers allow, and the next CTA lets the other
// end run ahead: a missing barrier shows up as a read of a tile another warp has not
// loaded yet (NaN) whichever warp races. The last lane to reach a barrier releases it and
// keeps running, so a warp collective costs 31 fiber switches.
//
// Measured on 2 cores (d64 bf16, Sq 77, Sk 300, causal, 16 CTAs): 0.30 s with fibers, 4.5 s
// with one OS thread per CUDA thread and pthread barriers, 2-3 s with sched_yield spin
// barriers. About 60% of the fiber time is swapcontext (it saves the signal mask with a
// syscall); a hand-written switch would roughly halve it, not worth it at ~2 s a suite.
#include "emu_runtime.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <utility>
#include <string>
#include <vector>

namespace attnkit_emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;  // per fiber; d256 keeps (16, 256) fp32 accumulators per warp

struct PendingCopy {
  uint32_t smem_offset;
  const void* gmem;
  bool valid;
};

struct Fiber {
  ucontext_t context;
  bool waiting = false;
  bool done = false;
  int parity = 0;  // which WarpSlots buffer this lane's next collective uses
  std::vector<PendingCopy> uncommitted;
  std::deque<std::vector<PendingCopy>> groups;  // committed, oldest first
};

struct SlotBuffer {
  WarpSlots lanes;
};

struct Barrier {
  int expected = 0;
  int arrived = 0;
  std::vector<int> waiters;
};

/// Race-detector state of one shared-memory byte. Epochs are numbered across every CTA of
/// every launch (never reused), so the shadow needs no clearing between CTAs.
struct ByteShadow {
  uint32_t write_epoch = 0;  // epoch of the last write (0: none yet)
  uint32_t read_epoch = 0;   // epoch of `reader`'s read
  int16_t writer = -1;
  int16_t reader = -1;       // first reader in read_epoch
  int16_t pending = -1;      // issuing thread of a cp.async in flight to this byte
  bool many_readers = false; // another thread read it in read_epoch too
};

/// One CTA's worth of state, reused for every CTA of every launch (one CTA at a time).
struct Cta {
  std::vector<Fiber> fibers;
  std::vector<int> order;  // scheduling priority
  std::vector<Barrier> warp_barriers;
  Barrier cta_barrier;
  std::vector<SlotBuffer> slots;  // [warp * 2 + parity]
  ucontext_t scheduler;
  int current = -1;
  const std::function<void()>* body = nullptr;
  unsigned char* stacks = nullptr;  // num fibers x (guard page + kStackBytes)
  size_t stack_stride = 0;
  int stack_count = 0;
  unsigned char* smem = nullptr;
  size_t smem_capacity = 0;
  size_t smem_bytes = 0;
  std::vector<ByteShadow> shadow;  // one per byte of smem_capacity
  uint32_t epoch = 0;              // current barrier epoch
  std::string error;
};

Cta g_cta;
std::vector<std::pair<const char*, int>> g_sites_hit;

std::string who(int thread) {
  return "thread " + std::to_string(thread) + " (warp " + std::to_string(thread / kWarpSize) + ")";
}

std::string bytes_at(uint32_t offset) { return "shared-memory byte " + std::to_string(offset); }

/// \brief The write of one byte by thread `me` (a store, or a cp.async from its issue on).
void shadow_write(uint32_t offset, int me) {
  ByteShadow& b = g_cta.shadow[offset];
  if (b.pending >= 0) {
    report_error("shared-memory race: " + who(me) + " writes " + bytes_at(offset) + " while a cp.async of " +
                 who(b.pending) + " to it is still in flight");
  } else if (b.read_epoch == g_cta.epoch && (b.many_readers || b.reader != me)) {
    report_error("shared-memory race: " + who(me) + " writes " + bytes_at(offset) + " that " +
                 (b.reader != me ? who(b.reader) : std::string("another thread")) +
                 " read after the same barrier (a refill while another thread still reads: a __syncthreads is "
                 "missing between them)");
  } else if (b.write_epoch == g_cta.epoch && b.writer != me) {
    report_error("shared-memory race: " + who(me) + " and " + who(b.writer) + " both write " + bytes_at(offset) +
                 " after the same barrier");
  }
  b.write_epoch = g_cta.epoch;
  b.writer = static_cast<int16_t>(me);
}

void shadow_read(uint32_t offset, int me) {
  ByteShadow& b = g_cta.shadow[offset];
  if (b.pending >= 0) {
    report_error("shared-memory race: " + who(me) + " reads " + bytes_at(offset) + " before the cp.async of " +
                 who(b.pending) + " to it was waited for (the data has not landed)");
  } else if (b.write_epoch == g_cta.epoch && b.writer != me) {
    report_error("shared-memory race: " + who(me) + " reads " + bytes_at(offset) + " that " + who(b.writer) +
                 " wrote after the same barrier (a __syncthreads is missing between them)");
  }
  if (b.read_epoch != g_cta.epoch) {
    b.read_epoch = g_cta.epoch;
    b.reader = static_cast<int16_t>(me);
    b.many_readers = false;
  } else if (b.reader != me) {
    b.many_readers = true;
  }
}

bool in_launched_smem(uint32_t offset, size_t bytes, const char* what) {
  if (offset + bytes > g_cta.smem_bytes) {
    report_error(std::string(what) + " of shared-memory bytes [" + std::to_string(offset) + ", " +
                 std::to_string(offset + bytes) + ") outside the launched " + std::to_string(g_cta.smem_bytes) +
                 " bytes");
    return false;
  }
  return true;
}

Fiber& me() { return g_cta.fibers[g_cta.current]; }

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
/// CTA (deadlock) by returning to the scheduler.
void block() {
  const int self = g_cta.current;
  const int next = pick_runnable();
  if (next < 0) {
    report_error("deadlock: thread " + std::to_string(self) + " waits at a barrier no other thread can reach");
    swapcontext(&g_cta.fibers[self].context, &g_cta.scheduler);  // never resumed
    return;
  }
  enter(next);
  swapcontext(&g_cta.fibers[self].context, &g_cta.fibers[next].context);
}

void arrive_and_wait(Barrier& b) {
  if (++b.arrived == b.expected) {
    b.arrived = 0;
    if (&b == &g_cta.cta_barrier) ++g_cta.epoch;  // every thread is past it: a new epoch
    for (int w : b.waiters) g_cta.fibers[w].waiting = false;
    b.waiters.clear();
    return;  // the last arrival keeps running
  }
  me().waiting = true;
  b.waiters.push_back(g_cta.current);
  block();
}

void land(const PendingCopy& c) {
  unsigned char* dst = g_cta.smem + c.smem_offset;
  for (uint32_t i = 0; i < 16; ++i) {  // the data is there from now on, written by the issuer
    ByteShadow& b = g_cta.shadow[c.smem_offset + i];
    b.pending = -1;
    b.write_epoch = g_cta.epoch;
    b.writer = static_cast<int16_t>(g_cta.current);
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

void run_cta(int threads, bool warps_descending) {
  const int warps = threads / kWarpSize;
  g_cta.fibers.assign(threads, Fiber{});
  g_cta.order.clear();
  for (int i = 0; i < warps; ++i) {
    const int w = warps_descending ? warps - 1 - i : i;
    for (int l = 0; l < kWarpSize; ++l) g_cta.order.push_back(w * kWarpSize + l);
  }
  g_cta.warp_barriers.assign(warps, Barrier{kWarpSize, 0, {}});
  g_cta.cta_barrier = Barrier{threads, 0, {}};
  g_cta.slots.assign(2 * warps, SlotBuffer{});
  std::memset(g_cta.smem, 0xff, g_cta.smem_bytes);  // NaN in bf16 and fp16
  ++g_cta.epoch;  // fresh for this CTA: nothing of the previous one conflicts
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
}

}  // namespace

void set_shared_memory(void* base, size_t capacity_bytes) {
  g_cta.smem = static_cast<unsigned char*>(base);
  g_cta.smem_capacity = capacity_bytes;
  if (g_cta.shadow.size() < capacity_bytes) g_cta.shadow.resize(capacity_bytes);
}

std::set<BarrierSite> barrier_sites_hit() {
  std::set<BarrierSite> sites;
  for (const auto& [file, line] : g_sites_hit) sites.insert(BarrierSite{file, line});
  return sites;
}

void clear_barrier_sites_hit() { g_sites_hit.clear(); }

std::string run_grid(const LaunchConfig& config, const std::function<void()>& thread_body) {
  if (!g_cta.error.empty()) {  // a failed launch may have left copies in flight
    for (ByteShadow& b : g_cta.shadow) b.pending = -1;
  }
  g_cta.error.clear();
  if (config.threads <= 0 || config.threads % kWarpSize != 0) return "threads per CTA must be a positive multiple of 32";
  if (config.smem_bytes > g_cta.smem_capacity) return "dynamic shared memory larger than the emulated buffer";
  ensure_stacks(config.threads);
  if (g_cta.stacks == nullptr) return "mmap of the fiber stacks failed";
  g_cta.body = &thread_body;
  g_cta.smem_bytes = config.smem_bytes;
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
  arrive_and_wait(g_cta.warp_barriers[warp()]);
  return buffer;
}

void sync_cta(const char* file, int line) {
  if (g_fault == Fault::kNoSyncthreads) return;
  if (line == g_deleted_barrier.line && g_deleted_barrier.file == file) return;
  const std::pair<const char*, int> site{file, line};  // __builtin_FILE: one literal per header
  if (std::find(g_sites_hit.begin(), g_sites_hit.end(), site) == g_sites_hit.end()) g_sites_hit.push_back(site);
  arrive_and_wait(g_cta.cta_barrier);
}

void smem_read(uint32_t offset, size_t bytes) {
  if (!in_launched_smem(offset, bytes, "read")) return;
  for (size_t i = 0; i < bytes; ++i) shadow_read(offset + static_cast<uint32_t>(i), g_cta.current);
}

void smem_write(uint32_t offset, size_t bytes) {
  if (!in_launched_smem(offset, bytes, "write")) return;
  for (size_t i = 0; i < bytes; ++i) shadow_write(offset + static_cast<uint32_t>(i), g_cta.current);
}

unsigned char* shared_base() { return g_cta.smem; }
size_t shared_bytes() { return g_cta.smem_bytes; }

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
  for (uint32_t i = 0; i < 16; ++i) {  // adversarial: the refill may write from its issue on
    shadow_write(smem_offset + i, g_cta.current);
    g_cta.shadow[smem_offset + i].pending = static_cast<int16_t>(g_cta.current);
  }
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

}  // namespace attnkit_emu
