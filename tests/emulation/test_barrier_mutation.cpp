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
#include "emulated_stats.hpp"
#include "cuda/stats_gpu_case.hpp"

#ifndef ATTNKIT_SOURCE_DIR
#error "ATTNKIT_SOURCE_DIR must name the project root"
#endif

namespace attnkit_test {
namespace {

/// The kernel sources under mutation, relative to the project root.
const char* const kKernelSources[] = {"cuda/attention/fwd_kernel.cuh", "cuda/decode/decode_kernel.cuh",
                                      "cuda/stats/stats_kernels.cuh", "cuda/core/block_scan.cuh"};

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
  // The statistics passes (LSE pass, then column / block statistics) and ACT's detection,
  // whose block scans hold block_scan.cuh's barriers: compared with the CPU reference.
  auto compare_outputs = [](const attnkit::Status& status, const HostTensor& got, const HostTensor& ref) {
    Outcome out;
    out.status = status;
    if (status.is_ok()) out.o = compare(got, ref);
    return out;
  };
  GpuCase stats_case = dense;
  stats_case.causal = true;
  stats_case.sq = 90;
  stats_case.sk = 150;
  v.push_back({"stats_colsum_blockmass", [stats_case, compare_outputs] {
                 BuiltCall host;
                 build_call(stats_case, 64, DType::kFloat16, /*seed=*/43, &host);
                 HostTensor ref(DType::kFloat32, {1, 1, 150}), got(DType::kFloat32, {1, 1, 150});
                 HostTensor mass_ref(DType::kFloat32, {1, 1, 2, 3}), mass_got(DType::kFloat32, {1, 1, 2, 3});
                 fill_nan(got);
                 fill_nan(mass_got);
                 attnkit::StatsOutputs r, g;
                 r.block_q = g.block_q = 64;
                 r.block_k = g.block_k = 64;
                 r.colsum = ref.view;
                 r.blockmass = mass_ref.view;
                 g.colsum = got.view;
                 g.blockmass = mass_got.view;
                 EXPECT_TRUE(attnkit::attention_stats(host.params, r).is_ok());
                 Outcome out = compare_outputs(attnkit_emu::emulated_attention_stats(host.params, g), got, ref);
                 if (out.status.is_ok() && compare(mass_got, mass_ref).mismatched_nonfinite > 0) out.o.mismatched_nonfinite = 1;
                 return out;
               },
               DType::kFloat16});
  v.push_back({"act_detect_block_scans", [stats_case, compare_outputs] {
                 BuiltCall host;
                 build_call(stats_case, 64, DType::kFloat16, /*seed=*/47, &host);
                 plant_sinks(host, stats_case, 64);
                 attnkit::ActOptions o;
                 o.max_sinks = 1;  // the cut: every block scan of detect_kernel runs
                 HostTensor count_ref(DType::kInt32, {1, 1}), index_ref(DType::kInt32, {1, 1, 1});
                 HostTensor count_got(DType::kInt32, {1, 1}), index_got(DType::kInt32, {1, 1, 1});
                 EXPECT_TRUE(attnkit::act_detect(host.params, o, {count_ref.view, index_ref.view}).is_ok());
                 const attnkit::Status s = attnkit_emu::emulated_act_detect(host.params, o, {count_got.view, index_got.view});
                 Outcome out = compare_outputs(s, index_got, index_ref);
                 if (s.is_ok() && (count_got.get(0) != count_ref.get(0) || index_got.get(0) != index_ref.get(0))) {
                   out.o.max_abs = 1e9;  // any difference in the detected set is a failure
                 }
                 return out;
               },
               DType::kFloat16});
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
