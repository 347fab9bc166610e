// Barrier mutation test (docs/testing.md): every __syncthreads of the prefill and decode
// kernels, deleted alone, must make an emulated run fail -- through the race detector, a
// NaN, or a result off the CPU reference. A barrier whose deletion every case survives is
// either unneeded (remove it) or untested (add the case that needs it); both fail here.
// The list of barriers is the kernels' source, so a new barrier is covered without edits.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "cuda/decode_gpu_case.hpp"
#include "emu_compare.hpp"
#include "emu_runtime.hpp"
#include "emulated_decode.hpp"
#include "emulated_forward.hpp"

#ifndef ATTNKIT_SOURCE_DIR
#error "ATTNKIT_SOURCE_DIR must name the project root"
#endif

namespace attnkit_test {
namespace {

/// The kernel sources under mutation, relative to the project root.
const char* const kKernelSources[] = {"cuda/attention/fwd_kernel.cuh", "cuda/decode/decode_kernel.cuh"};

struct Probe {
  std::string name;
  std::function<Outcome()> run;
  DType dtype;
};

/// A few small calls that together need every barrier: several kv tiles (stage reuse),
/// a partial last tile, GQA packing with warps splitting key tiles, one split and several.
std::vector<Probe> probes() {
  std::vector<Probe> v;
  auto prefill = [&v](const std::string& name, GpuCase c, int64_t d, DType dtype) {
    c.name = name;
    v.push_back({name, [c, d, dtype] {
                   BuiltCall host;
                   build_call(c, d, dtype, /*seed=*/31, &host);
                   return run_against_reference(host, attnkit_emu::emulated_forward);
                 },
                 dtype});
  };
  auto decode = [&v](const std::string& name, DecodeCase c, int64_t d, DType dtype, int splits) {
    c.call.name = name;
    v.push_back({name, [c, d, dtype, splits] {
                   BuiltCall host;
                   build_host_decode_call(c, d, dtype, /*seed=*/37, &host);
                   return run_against_reference(host, [splits](const attnkit::AttentionParams& p) {
                     return attnkit_emu::emulated_decode(p, nullptr, splits);
                   });
                 },
                 dtype});
  };
  GpuCase dense;
  dense.batch = 1;
  dense.hq = dense.hkv = 1;
  dense.sq = 70;
  dense.sk = 203;
  prefill("prefill_dense_4_tiles", dense, 64, DType::kBFloat16);
  GpuCase fp8_prefill = dense;  // the FP8 cache's staged pipeline on the prefill kernel
  fp8_prefill.kv_fp8 = DType::kFloat8E5M2;
  prefill("prefill_fp8_4_tiles", fp8_prefill, 64, DType::kFloat16);
  GpuCase causal = dense;
  causal.causal = true;
  causal.sq = 130;
  causal.sk = 130;
  prefill("prefill_causal", causal, 64, DType::kFloat16);

  DecodeCase one = named("decode_one_split", 1, 300);  // 5 tiles in one split: stages reused
  one.call.batch = 1;
  one.call.hq = one.call.hkv = 1;
  decode("decode_one_split_5_tiles", one, 64, DType::kBFloat16, 1);
  DecodeCase gqa = named("decode_gqa", 2, 700);  // 2 x 4 packed rows: warps split key tiles
  gqa.call.batch = 1;
  gqa.call.hq = 4;
  gqa.call.hkv = 1;
  decode("decode_gqa_3_splits", gqa, 64, DType::kFloat16, 3);
  DecodeCase fp8 = named("decode_fp8", 2, 300);  // the FP8 cache's staged pipeline: 5 tiles
  fp8.call.batch = 1;
  fp8.call.hq = fp8.call.hkv = 1;
  fp8.call.kv_fp8 = DType::kFloat8E4M3;
  decode("decode_fp8_5_tiles", fp8, 64, DType::kBFloat16, 1);
  return v;
}

/// \brief The __syncthreads lines of one kernel source (comments skipped).
std::set<int> barrier_lines(const std::string& relative) {
  std::ifstream in(std::string(ATTNKIT_SOURCE_DIR) + "/" + relative);
  std::set<int> lines;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const size_t at = text.find("__syncthreads()");
    const size_t comment = text.find("//");
    if (at != std::string::npos && (comment == std::string::npos || at < comment)) lines.insert(line);
  }
  return lines;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(BarrierMutation, EveryPrefillAndDecodeBarrierIsNeeded) {
  const std::vector<Probe> all = probes();

  // Unmutated, every probe passes, and runs every barrier of the sources.
  attnkit_emu::clear_barrier_sites_hit();
  for (const Probe& p : all) {
    const Outcome r = p.run();
    ASSERT_TRUE(r.within(tolerance_for(p.dtype))) << p.name << ": " << r.status.message() << " O: " << r.o.str();
  }
  const std::set<attnkit_emu::BarrierSite> hit = attnkit_emu::barrier_sites_hit();
  std::vector<attnkit_emu::BarrierSite> sites;
  for (const char* source : kKernelSources) {
    const std::set<int> lines = barrier_lines(source);
    EXPECT_FALSE(lines.empty()) << source << " has no __syncthreads (or was not found under " << ATTNKIT_SOURCE_DIR << ")";
    for (int line : lines) {
      bool found = false;
      for (const attnkit_emu::BarrierSite& s : hit) {
        if (s.line == line && ends_with(s.file, source)) {
          sites.push_back(s);
          found = true;
        }
      }
      EXPECT_TRUE(found) << source << ":" << line << ": no probe executes this barrier (untested)";
    }
  }

  // Deleted one at a time, each barrier must make some probe fail.
  for (const attnkit_emu::BarrierSite& site : sites) {
    attnkit_emu::g_deleted_barrier = site;
    std::string caught;
    for (const Probe& p : all) {
      const Outcome r = p.run();
      if (!r.within(tolerance_for(p.dtype))) {
        caught = p.name + ": " + (r.status.is_ok() ? "O " + r.o.str() : r.status.message());
        break;
      }
    }
    attnkit_emu::g_deleted_barrier = attnkit_emu::BarrierSite{};
    EXPECT_FALSE(caught.empty()) << site.file << ":" << site.line
                                 << ": deleting this __syncthreads passes every probe (unneeded, or untested)";
    if (!caught.empty()) std::printf("deleted %s:%d -> %s\n", site.file.c_str(), site.line, caught.c_str());
  }
}

}  // namespace
}  // namespace attnkit_test
