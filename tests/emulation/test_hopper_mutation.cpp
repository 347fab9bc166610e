// Synchronisation mutation test of the Hopper kernel (docs/testing.md), in the spirit of the
// barrier mutation test of the sm_80 kernels (test_barrier_mutation.cpp): every call of
// cuda/hopper/hopper_kernel.cuh that orders or completes work -- __syncthreads,
// fence_barrier_init, mbarrier_arrive, mbarrier_arrive_expect_tx, mbarrier_wait, wgmma_fence
// and wgmma_wait -- deleted alone, must make an emulated run fail: through an emulation
// error (race, read before a TMA landed, deadlock, wgmma without a fence, a TMA on an
// unfenced barrier, ...) or a result off the CPU reference. A call whose deletion every case
// survives is either unneeded (remove it) or untested (add the case that needs it); both
// fail here (it found one unneeded call: the overlap epilogue's release of the last V stage,
// which nothing refills, since removed). The list is the kernel's source, read at run time, so a
// new call is covered without edits; the emulated twins (shadow/cuda/core/{mbarrier,wgmma}.cuh)
// name their call site with __builtin_FILE / __builtin_LINE, so a call in a lambda
// (next_tile, issue_s, ...) is the line of the call in the lambda's body, and a deleted call
// does nothing at all (attnkit_emu::g_deleted_barrier; HopperMutationTwins checks what that
// means for each twin).
//
// Left out, on purpose:
//  - named_barrier_sync / named_barrier_arrive (my_turn / pass_turn): scheduling only, the
//    ping-pong of the two consumer warpgroups' GEMM issue. No data passes between the
//    warpgroups through them (each computes its own 64 rows from stages the mbarriers guard),
//    so deleting one changes the interleaving (or unbalances the turns into a deadlock),
//    never the order of a data access.
//  - wgmma_commit: orders nothing; it closes the group that the next wgmma_wait<N> counts
//    (attnkit_emu::SyncCall says why it has no site).
//  - wgmma_fence_operands: a compiler barrier (an empty asm on the accumulators); the
//    emulator has no compiler reordering to model, its twin is empty.
//  - mbarrier_init, tma_load_4d, setmaxnreg, elect_one_sync: they do the work or set
//    resources up; they order nothing.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "emu_cases.hpp"
#include "emu_compare.hpp"
#include "emu_runtime.hpp"
#include "emulated_forward.hpp"
// The twins, for the check of what a deleted call does (HopperMutationTwins).
#include "cuda/core/mbarrier.cuh"
#include "cuda/core/smem_access.cuh"
#include "cuda/core/tensor_map.hpp"
#include "cuda/core/tma.cuh"

#ifndef ATTNKIT_SOURCE_DIR
#error "ATTNKIT_SOURCE_DIR must name the project root"
#endif

namespace attnkit_test {
namespace {

using attnkit_emu::SyncCall;
namespace cc = attnkit::cuda_core;

/// The kernel source under mutation, relative to the project root.
constexpr char kHopperKernel[] = "cuda/hopper/hopper_kernel.cuh";

/// The emulated library holds the sm_90a image for one scope.
struct Sm90aImage {
  Sm90aImage() { attnkit_emu::g_sm90a_image = true; }
  ~Sm90aImage() { attnkit_emu::g_sm90a_image = false; }
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// ---- the sites: the kernel's source ----------------------------------------------------------

/// How the kernel spells each call under mutation. A token ends where the name does:
/// "mbarrier_arrive(" is not "mbarrier_arrive_expect_tx(", "wgmma_fence(" not
/// "wgmma_fence_operands(".
struct Spelling {
  const char* token;
  SyncCall call;
};
constexpr Spelling kSpellings[] = {
    {"__syncthreads(", SyncCall::kSyncthreads},
    {"fence_barrier_init(", SyncCall::kFenceBarrierInit},
    {"mbarrier_arrive(", SyncCall::kMbarrierArrive},
    {"mbarrier_arrive_expect_tx(", SyncCall::kMbarrierArriveExpectTx},
    {"mbarrier_wait(", SyncCall::kMbarrierWait},
    {"wgmma_fence(", SyncCall::kWgmmaFence},
    {"wgmma_wait<", SyncCall::kWgmmaWait},
};

/// One call under mutation in the kernel source.
struct ListedCall {
  int line;
  SyncCall call;
  std::string text;  // the source line, trimmed
};

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

/// \brief The calls under mutation in `relative`, in line order (comments skipped).
std::vector<ListedCall> listed_calls(const std::string& relative) {
  std::ifstream in(std::string(ATTNKIT_SOURCE_DIR) + "/" + relative);
  std::vector<ListedCall> calls;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string code = trim(text.substr(0, text.find("//")));
    for (const Spelling& s : kSpellings) {
      for (size_t at = code.find(s.token); at != std::string::npos; at = code.find(s.token, at + 1)) {
        if (at > 0 && identifier_char(code[at - 1])) continue;  // a longer name ending in the token
        calls.push_back({line, s.call, trim(text)});
      }
    }
  }
  return calls;
}

// ---- the probes ---------------------------------------------------------------------------------

struct Probe {
  EmuCase e;
  uint64_t seed;
};

/// Small calls that together execute every site, each path with enough key tiles that a
/// stage is reused (kStages = 2: the third tile refills the first tile's stages, so a
/// missing empty-barrier wait or arrival matters): d64, the preferred row with the overlap
/// (P V of tile n - 1 under tile n's softmax), and d128 / d256 without it; the producer's
/// end of schedule (the -1 slot) in every CTA, after two tiles or more (its empty wait then
/// guards a slot that was read before); tiles computed fully masked (a warpgroup walks a
/// union tile it does not need) on both paths; two CTAs or more each (warps ascending in
/// even CTAs, descending in odd ones). Cheapest first: a deletion is usually caught by the first probe
/// that runs its site.
std::vector<Probe> probes() {
  std::vector<Probe> v;
  {
    // Overlap path: 4 tiles of 128 keys (the last partial) for both CTAs (rows 0-127, 128-149).
    GpuCase c = small("hopper_d64_overlap_dense_4_tiles", 150, 400);
    c.hq = c.hkv = 1;
    v.push_back({at(c, 64, DType::kBFloat16), 101});
  }
  {
    // Overlap path, fully masked tiles: CTA 2 (rows 256-299) has no rows for warpgroup 2 (rows
    // 320-383), which walks the union (tiles 0-2, causal) with P = 0; CTA 1 needs 2 tiles.
    GpuCase c = small("hopper_d64_overlap_causal_masked_tiles", 300, 300);
    c.hq = c.hkv = 1;
    c.causal = true;
    v.push_back({at(c, 64, DType::kFloat16), 102});
  }
  {
    // Non-overlap path: 3 tiles of 128 keys (keys 256-299 partial), CTAs of rows 0-127, 128-199.
    GpuCase c = small("hopper_d128_dense_3_tiles", 200, 300);
    c.hq = c.hkv = 1;
    v.push_back({at(c, 128, DType::kFloat16), 103});
  }
  {
    // Non-overlap path, fully masked tiles: causal, 64-key tiles; CTA 0: warpgroup 1 (rows 0-63)
    // needs tile 0 only and computes tile 1 masked; CTA 1 (rows 128-199): 4 union tiles,
    // warpgroup 1 (rows 128-191) computes tile 3 masked.
    GpuCase c = small("hopper_d256_causal_masked_tiles", 200, 200);
    c.hq = c.hkv = 1;
    c.causal = true;
    v.push_back({at(c, 256, DType::kBFloat16), 104});
  }
  return v;
}

/// \brief One probe through the emulated dispatcher (sm_90a image present), against the CPU
/// reference; `kernel` names the kernel that ran.
Outcome run_probe(const Probe& p, std::string* kernel) {
  BuiltCall host;
  build_call(p.e.c, p.e.d, p.e.dtype, p.seed, &host);
  return run_against_reference(host, [kernel](const attnkit::AttentionParams& params) {
    return attnkit_emu::emulated_forward_via(params, kernel);
  });
}

std::string failure(const Outcome& r) {
  if (!r.status.is_ok()) {
    std::string m = r.status.message();
    return m.size() > 240 ? m.substr(0, 240) + "..." : m;
  }
  return "O " + r.o.str() + (r.has_lse ? " LSE " + r.lse.str() : "");
}

TEST(HopperMutation, EverySynchronisationOfTheHopperKernelIsNeeded) {
  const Sm90aImage image;
  const std::vector<ListedCall> listed = listed_calls(kHopperKernel);
  ASSERT_FALSE(listed.empty()) << kHopperKernel << " lists no call (or was not found under " << ATTNKIT_SOURCE_DIR
                               << ")";
  const std::vector<Probe> all = probes();

  // Unmutated, every probe passes on the Hopper kernel and together they execute every listed
  // call at its line (and the twins report no call there that the scan missed).
  attnkit_emu::clear_barrier_sites_hit();
  for (const Probe& p : all) {
    std::string kernel;
    const Outcome r = run_probe(p, &kernel);
    ASSERT_TRUE(r.within(tolerance_for(p.e.dtype))) << p.e.c.name << ": " << failure(r);
    ASSERT_EQ(kernel.rfind("fwd_sm90<", 0), 0u) << p.e.c.name << " ran " << kernel;
  }
  std::string file;  // the kernel header as the compiler names it
  std::map<int, std::set<SyncCall>> hit;
  for (const auto& [site, calls] : attnkit_emu::sync_sites_hit()) {
    if (!ends_with(site.file, kHopperKernel)) continue;
    file = site.file;
    hit[site.line].insert(calls.begin(), calls.end());
  }
  ASSERT_FALSE(file.empty()) << "no synchronisation of " << kHopperKernel << " ran";
  std::map<int, std::set<SyncCall>> listed_at;
  for (const ListedCall& c : listed) {
    listed_at[c.line].insert(c.call);
    EXPECT_EQ(hit[c.line].count(c.call), 1u) << kHopperKernel << ":" << c.line << ": no probe executes this "
                                             << attnkit_emu::sync_call_name(c.call) << " (untested): " << c.text;
  }
  for (const auto& [line, calls] : hit) {
    for (SyncCall call : calls) {
      EXPECT_EQ(listed_at[line].count(call), 1u) << kHopperKernel << ":" << line << ": the twin of "
                                                 << attnkit_emu::sync_call_name(call)
                                                 << " ran here, but the source scan did not list it";
    }
  }

  // Deleted one line at a time, each must make some probe fail.
  for (const auto& [line, calls] : listed_at) {
    std::string what;
    for (const ListedCall& c : listed) {
      if (c.line == line) what = c.text;
    }
    attnkit_emu::g_deleted_barrier = attnkit_emu::BarrierSite{file, line};
    std::string caught;
    for (const Probe& p : all) {
      std::string kernel;
      const Outcome r = run_probe(p, &kernel);
      if (!r.within(tolerance_for(p.e.dtype))) {
        caught = p.e.c.name + ": " + failure(r);
        break;
      }
    }
    attnkit_emu::g_deleted_barrier = attnkit_emu::BarrierSite{};
    EXPECT_FALSE(caught.empty()) << kHopperKernel << ":" << line << ": deleting `" << what
                                 << "` passes every probe (unneeded, or untested)";
    if (!caught.empty()) std::printf("deleted %s:%d `%s` -> %s\n", kHopperKernel, line, what.c_str(), caught.c_str());
  }
}

// ---- what a deleted twin does -------------------------------------------------------------------

alignas(1024) unsigned char g_smem[16 * 1024];

/// One CTA of two warps. Thread 0 initialises and fences a barrier expecting 2 arrivals and
/// issues a 2048-byte TMA after its arrive_expect_tx; thread 32 arrives, waits and reads.
/// `replace_arrival`: thread 0 also makes a plain arrival (for the deleted arrive_expect_tx:
/// it replaces the arrival only, so the bytes the deleted call no longer expects show).
std::string run_twins(bool replace_arrival) {
  static std::vector<uint16_t> data(16 * 64, 0x3c00);
  static CUtensorMap map;
  cc::TensorMapSpec spec;
  spec.base = data.data();
  spec.dims[0] = 64;
  spec.dims[1] = 16;
  spec.strides[0] = 128;
  spec.strides[1] = spec.strides[2] = 128 * 16;
  spec.box[0] = 64;
  spec.box[1] = 16;
  std::string why;
  EXPECT_EQ(cc::encode_tensor_map(spec, &map, &why), cudaSuccess) << why;
  attnkit_emu::set_shared_memory(g_smem, sizeof(g_smem));
  attnkit_emu::LaunchConfig config;
  config.grid = dim3(1, 1, 1);
  config.threads = 64;
  config.smem_bytes = sizeof(g_smem);
  return attnkit_emu::run_grid(config, [replace_arrival] {
    const uint32_t bar = 8 * 1024;
    const int tid = static_cast<int>(threadIdx.x);
    if (tid == 0) {
      cc::mbarrier_init(bar, 2);
      cc::fence_barrier_init();
    }
    __syncthreads();
    if (tid == 0) {
      cc::mbarrier_arrive_expect_tx(bar, 2048);
      if (replace_arrival) cc::mbarrier_arrive(bar);
      cc::tma_load_4d(0, &map, bar, 0, 0, 0, 0);
    }
    if (tid == 32) {
      cc::mbarrier_arrive(bar);
      cc::mbarrier_wait(bar, 0);
      cc::ld_shared(reinterpret_cast<const uint32_t*>(attnkit_emu::shared_base()));
    }
  });
}

TEST(HopperMutationTwins, ADeletedCallDoesNothingAtAll) {
  attnkit_emu::clear_barrier_sites_hit();
  ASSERT_EQ(run_twins(false), "");
  // The sites of this file's calls, by kind (one call of each here). wgmma_fence and
  // wgmma_wait deleted: the kernel test's catches (a wgmma without a fence, NaN or raced
  // accumulators, a wgmma never waited for) show them.
  std::map<SyncCall, attnkit_emu::BarrierSite> site;
  for (const auto& [s, calls] : attnkit_emu::sync_sites_hit()) {
    if (!ends_with(s.file, "test_hopper_mutation.cpp")) continue;
    for (SyncCall call : calls) site[call] = s;
  }
  ASSERT_EQ(site.size(), 5u);  // __syncthreads, fence, arrive_expect_tx, arrive, wait
  auto deleted = [&site](SyncCall call, bool replace_arrival) {
    attnkit_emu::g_deleted_barrier = site.at(call);
    const std::string error = run_twins(replace_arrival);
    attnkit_emu::g_deleted_barrier = attnkit_emu::BarrierSite{};
    return error;
  };
  auto has = [](const std::string& s, const char* what) { return s.find(what) != std::string::npos; };
  std::string e = deleted(SyncCall::kSyncthreads, false);
  EXPECT_TRUE(has(e, "before its mbarrier_init")) << e;
  e = deleted(SyncCall::kFenceBarrierInit, false);
  EXPECT_TRUE(has(e, "no fence_barrier_init")) << e;
  e = deleted(SyncCall::kMbarrierWait, false);  // returns at once: nothing lands
  EXPECT_TRUE(has(e, "read before the TMA landed")) << e;
  e = deleted(SyncCall::kMbarrierArrive, false);  // one arrival short
  EXPECT_TRUE(has(e, "deadlock")) << e;
  e = deleted(SyncCall::kMbarrierArriveExpectTx, false);  // no arrival: one short
  EXPECT_TRUE(has(e, "deadlock")) << e;
  // With the arrival made up for, the TMA's 2048 bytes are more than the phase expects: the
  // deleted call added none (one that kept its bytes would pass; one that kept its arrival
  // would complete the phase before the TMA, a read before it landed).
  e = deleted(SyncCall::kMbarrierArriveExpectTx, true);
  EXPECT_TRUE(has(e, "2048 more transaction bytes than its phase expected")) << e;
}

}  // namespace
}  // namespace attnkit_test
