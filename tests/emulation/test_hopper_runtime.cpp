// The emulator's sm_90a contract (emu_runtime.hpp, shadow/cuda/core/{mbarrier,tma,warpgroup,
// wgmma}.cuh): mbarrier phases, TMA placement and timing, named barriers, the asynchronous
// wgmma, and the happens-before race detector over all of them. Each rule comes with the
// synchronisation that makes the same accesses legal, and each broken variant must be
// reported.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "emu_runtime.hpp"  // first: the CUDA headers gmma_desc.hpp's __host__ __device__ needs
#include "cuda/core/gmma_desc.hpp"
#include "cuda/core/ldmatrix.cuh"  // smem_address
#include "cuda/core/mbarrier.cuh"
#include "cuda/core/smem_access.cuh"
#include "cuda/core/tensor_map.hpp"
#include "cuda/core/tma.cuh"
#include "cuda/core/warpgroup.cuh"
#include "cuda/core/wgmma.cuh"

namespace {

namespace cc = attnkit::cuda_core;

alignas(1024) unsigned char g_smem[64 * 1024];

attnkit_emu::LaunchConfig one_cta(int threads, size_t smem_bytes = 16 * 1024) {
  attnkit_emu::set_shared_memory(g_smem, sizeof(g_smem));
  attnkit_emu::LaunchConfig config;
  config.grid = dim3(1, 1, 1);
  config.threads = threads;
  config.smem_bytes = smem_bytes;
  return config;
}

int tid() { return static_cast<int>(threadIdx.x); }

template <class T>
T* at(uint32_t offset) {
  return reinterpret_cast<T*>(attnkit_emu::shared_base() + offset);
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// ---- a TMA producer / consumer pipeline ----------------------------------------------------
// Warpgroup 0: one elected thread loads kTiles tiles of (kTileRows x 64) 16-bit elements into
// kStages stages, each guarded by a "full" barrier (TMA bytes) and an "empty" one (every
// consumer thread arrives). Warpgroups 1 and 2: 256 consumer threads, each reading 16 bytes
// of every tile with ld_shared and checking them against the tensor.

constexpr int kTileRows = 32, kTiles = 5, kStages = 2;
constexpr uint32_t kStageBytes = kTileRows * 128;  // 4096: 1024-byte aligned stages
constexpr uint32_t kFull = kStages * kStageBytes;  // full[s] at kFull + 8 s, empty[s] after them
constexpr uint32_t kEmpty = kFull + 8 * kStages;
constexpr int kConsumers = 256;

uint16_t element(int row, int col) { return static_cast<uint16_t>(1 + row * 64 + col); }

struct Tensor2d {
  std::vector<uint16_t> data;
  CUtensorMap map;
};

/// A (rows x 64) row-major tensor of element(r, c), with its TMA map of boxes (64, box_rows).
Tensor2d make_tensor(int rows, int box_rows) {
  Tensor2d t;
  t.data.resize(static_cast<size_t>(rows) * 64);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < 64; ++c) t.data[static_cast<size_t>(r) * 64 + c] = element(r, c);
  }
  cc::TensorMapSpec spec;
  spec.base = t.data.data();
  spec.dims[0] = 64;
  spec.dims[1] = static_cast<uint64_t>(rows);
  spec.strides[0] = 128;
  spec.strides[1] = spec.strides[2] = 128ull * rows;
  spec.box[0] = 64;
  spec.box[1] = static_cast<uint32_t>(box_rows);
  std::string why;
  EXPECT_EQ(cc::encode_tensor_map(spec, &t.map, &why), cudaSuccess) << why;
  return t;
}

/// The (row, column) of a box that TMA's 128-byte swizzle puts at byte `offset` of a
/// 1024-byte aligned destination (the layout written out, independent of the twin).
void unswizzle(uint32_t offset, int* row, int* col) {
  *row = static_cast<int>(offset / 128);
  const int chunk = static_cast<int>((offset % 128) / 16) ^ (*row % 8);
  *col = chunk * 8 + static_cast<int>(offset % 16) / 2;
}

enum class Bug {
  kNone,
  kNoFullWait,        // the consumer reads a stage without waiting on its full barrier
  kWrongParity,       // the consumer waits on the wrong parity (returns at once on a fresh barrier)
  kNoEmptyWait,       // the producer refills a stage without waiting on its empty barrier
  kEarlyEmptyArrive,  // the consumer releases the stage before reading it
  kDeadlock,          // the consumers wait for one tile more than the producer loads
};

struct PipelineResult {
  std::string error;
  int mismatches = 0;
  int checked = 0;
};

PipelineResult run_pipeline(Bug bug) {
  static Tensor2d tensor = make_tensor(kTiles * kTileRows, kTileRows);
  PipelineResult result;
  result.error = attnkit_emu::run_grid(one_cta(128 + kConsumers), [bug, &result] {
    const uint32_t smem = cc::smem_address(attnkit_emu::shared_base());
    if (tid() == 0) {
      for (int s = 0; s < kStages; ++s) {
        cc::mbarrier_init(smem + kFull + 8 * s, 1);
        cc::mbarrier_init(smem + kEmpty + 8 * s, kConsumers);
      }
      cc::fence_barrier_init();
    }
    __syncthreads();
    if (tid() < 128) {
      cc::setmaxnreg_dec<24>();
      if (tid() / 32 != 0 || !cc::elect_one_sync()) return;
      cc::tma_prefetch_descriptor(&tensor.map);
      for (int i = 0; i < kTiles; ++i) {
        const int stage = i % kStages;
        const uint32_t phase = (i / kStages) & 1;
        if (bug != Bug::kNoEmptyWait) cc::mbarrier_wait(smem + kEmpty + 8 * stage, phase ^ 1);
        cc::mbarrier_arrive_expect_tx(smem + kFull + 8 * stage, kStageBytes);
        cc::tma_load_4d(smem + stage * kStageBytes, &tensor.map, smem + kFull + 8 * stage, 0, i * kTileRows, 0, 0);
      }
      return;
    }
    cc::setmaxnreg_inc<240>();
    const uint32_t mine = 16 * static_cast<uint32_t>(tid() - 128);  // 256 x 16 bytes: the whole stage
    const int tiles = bug == Bug::kDeadlock ? kTiles + 1 : kTiles;
    for (int i = 0; i < tiles; ++i) {
      const int stage = i % kStages;
      const uint32_t phase = (i / kStages) & 1;
      if (bug == Bug::kWrongParity) {
        cc::mbarrier_wait(smem + kFull + 8 * stage, phase ^ 1);
      } else if (bug != Bug::kNoFullWait) {
        cc::mbarrier_wait(smem + kFull + 8 * stage, phase);
      }
      if (bug == Bug::kEarlyEmptyArrive) cc::mbarrier_arrive(smem + kEmpty + 8 * stage);
      const uint4 v = cc::ld_shared(at<const uint4>(smem + stage * kStageBytes + mine));
      uint16_t got[8];
      std::memcpy(got, &v, sizeof(got));
      for (int e = 0; e < 8; ++e) {
        int r, c;
        unswizzle(mine + 2 * e, &r, &c);
        ++result.checked;
        if (got[e] != element(i * kTileRows + r, c)) ++result.mismatches;
      }
      if (bug != Bug::kEarlyEmptyArrive) cc::mbarrier_arrive(smem + kEmpty + 8 * stage);
    }
  });
  return result;
}

TEST(HopperEmulationRuntime, TmaPipelineWithFullAndEmptyBarriersPasses) {
  const PipelineResult r = run_pipeline(Bug::kNone);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.checked, kConsumers * 8 * kTiles);
  EXPECT_EQ(r.mismatches, 0);
}

TEST(HopperEmulationRuntime, ConsumerReadingWithoutWaitingOnFullIsARace) {
  const PipelineResult r = run_pipeline(Bug::kNoFullWait);
  EXPECT_TRUE(contains(r.error, "shared-memory race")) << r.error;
}

TEST(HopperEmulationRuntime, ConsumerWaitingOnTheWrongParityIsARace) {
  const PipelineResult r = run_pipeline(Bug::kWrongParity);
  EXPECT_TRUE(contains(r.error, "shared-memory race")) << r.error;
}

TEST(HopperEmulationRuntime, ProducerRefillingWithoutWaitingOnEmptyIsARace) {
  const PipelineResult r = run_pipeline(Bug::kNoEmptyWait);
  EXPECT_TRUE(contains(r.error, "shared-memory race")) << r.error;
}

TEST(HopperEmulationRuntime, ConsumerArrivingOnEmptyBeforeItsReadsIsARace) {
  const PipelineResult r = run_pipeline(Bug::kEarlyEmptyArrive);
  EXPECT_TRUE(contains(r.error, "shared-memory race")) << r.error;
  EXPECT_TRUE(contains(r.error, "read after the same barrier")) << r.error;  // the refill's write-after-read
}

TEST(HopperEmulationRuntime, WaitingOnAPhaseNobodyCompletesIsADeadlock) {
  const PipelineResult r = run_pipeline(Bug::kDeadlock);
  EXPECT_TRUE(contains(r.error, "deadlock")) << r.error;
}

// ---- TMA ---------------------------------------------------------------------------------------

TEST(HopperEmulationRuntime, TmaFillsOutOfBoundsElementsWithZeros) {
  // A (40 x 64) tensor; the box (64 x 16) at column -8, row 30: columns -8..-1 and rows 40..45
  // are outside and must read as zeros, the rest is the tensor.
  std::vector<uint16_t> data(40 * 64);
  for (int r = 0; r < 40; ++r) {
    for (int c = 0; c < 64; ++c) data[r * 64 + c] = element(r, c);
  }
  cc::TensorMapSpec spec;
  spec.base = data.data();
  spec.dims[0] = 64;
  spec.dims[1] = 40;
  spec.strides[0] = 128;
  spec.strides[1] = spec.strides[2] = 128 * 40;
  spec.box[0] = 64;
  spec.box[1] = 16;
  static CUtensorMap map;
  std::string why;
  ASSERT_EQ(cc::encode_tensor_map(spec, &map, &why), cudaSuccess) << why;
  const std::string error = attnkit_emu::run_grid(one_cta(32), [] {
    if (tid() != 0) return;
    const uint32_t bar = 8 * 1024;
    cc::mbarrier_init(bar, 1);
    cc::fence_barrier_init();
    cc::mbarrier_arrive_expect_tx(bar, 16 * 128);
    cc::tma_load_4d(0, &map, bar, -8, 30, 0, 0);
    cc::mbarrier_wait(bar, 0);
  });
  ASSERT_EQ(error, "");
  int wrong = 0;
  for (uint32_t offset = 0; offset < 16 * 128; offset += 2) {
    int r, c;
    unswizzle(offset, &r, &c);
    const int row = 30 + r, col = c - 8;
    const uint16_t want = (row < 40 && col >= 0) ? element(row, col) : 0;
    uint16_t got;
    std::memcpy(&got, g_smem + offset, 2);
    if (got != want) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}

TEST(HopperEmulationRuntime, TmaPlacesA4dBoxRowByRow) {
  // dims (64, 8, 3, 2), box (64, 4, 2, 2) at (0, 6, 2, 0): box row r = i1 + 4 (i2 + 2 i3) holds
  // tensor (row 6 + i1, head 2 + i2, batch i3); rows 8, 9 and head 3 are outside (zeros).
  std::vector<uint16_t> data(64 * 8 * 3 * 2);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint16_t>(i + 1);
  cc::TensorMapSpec spec;
  spec.base = data.data();
  spec.dims[0] = 64;
  spec.dims[1] = 8;
  spec.dims[2] = 3;
  spec.dims[3] = 2;
  spec.strides[0] = 128;
  spec.strides[1] = 128 * 8;
  spec.strides[2] = 128 * 8 * 3;
  spec.box[0] = 64;
  spec.box[1] = 4;
  spec.box[2] = 2;
  spec.box[3] = 2;
  static CUtensorMap map;
  std::string why;
  ASSERT_EQ(cc::encode_tensor_map(spec, &map, &why), cudaSuccess) << why;
  const std::string error = attnkit_emu::run_grid(one_cta(32), [] {
    if (tid() != 0) return;
    const uint32_t bar = 8 * 1024;
    cc::mbarrier_init(bar, 1);
    cc::fence_barrier_init();
    cc::mbarrier_arrive_expect_tx(bar, 16 * 128);
    cc::tma_load_4d(1024, &map, bar, 0, 6, 2, 0);
    cc::mbarrier_wait(bar, 0);
  });
  ASSERT_EQ(error, "");
  int wrong = 0;
  for (uint32_t offset = 0; offset < 16 * 128; offset += 2) {
    int r, c;
    unswizzle(offset, &r, &c);
    const int i1 = r % 4, i2 = (r / 4) % 2, i3 = r / 8;
    const int row = 6 + i1, head = 2 + i2, batch = i3;
    const uint16_t want = (row < 8 && head < 3) ? data[((batch * 3 + head) * 8 + row) * 64 + c] : 0;
    uint16_t got;
    std::memcpy(&got, g_smem + 1024 + offset, 2);
    if (got != want) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}

TEST(HopperEmulationRuntime, TmaRulesAreEnforced) {
  static Tensor2d tensor = make_tensor(64, 16);
  auto run = [](int variant) {
    return attnkit_emu::run_grid(one_cta(32), [variant] {
      if (tid() != 0) return;
      const uint32_t bar = 8 * 1024;
      cc::mbarrier_init(bar, 1);
      if (variant != 1) cc::fence_barrier_init();
      cc::mbarrier_arrive_expect_tx(bar, variant == 3 ? 1024 : 2048);
      cc::tma_load_4d(variant == 2 ? 512 : 0, &tensor.map, bar, 0, 0, 0, 0);
      if (variant == 4) return;  // never waited for
      if (variant == 5) attnkit_emu::smem_read(0, 4);  // the issuer reads before anybody waited
      cc::mbarrier_wait(bar, 0);
    });
  };
  EXPECT_EQ(run(0), "");
  EXPECT_TRUE(contains(run(1), "fence_barrier_init")) << run(1);
  EXPECT_TRUE(contains(run(2), "1024-byte aligned")) << run(2);
  EXPECT_TRUE(contains(run(3), "more transaction bytes")) << run(3);
  EXPECT_TRUE(contains(run(4), "never waited for")) << run(4);
  EXPECT_TRUE(contains(run(5), "read before the TMA landed")) << run(5);
  cc::TensorMapSpec bad;
  bad.base = tensor.data.data();
  bad.box[0] = 32;  // 64 bytes: not the 128-byte swizzle span
  CUtensorMap map;
  std::string why;
  EXPECT_EQ(cc::encode_tensor_map(bad, &map, &why), cudaErrorInvalidValue);
  EXPECT_TRUE(contains(why, "inner box")) << why;
}

// ---- mbarrier rules and its happens-before edges --------------------------------------------------

TEST(HopperEmulationRuntime, MbarrierRulesAreEnforced) {
  auto run = [](int variant) {
    return attnkit_emu::run_grid(one_cta(64), [variant] {
      const uint32_t bar = 1024;
      if (variant == 0 && tid() == 0) cc::mbarrier_wait(bar, 0);  // never initialised
      if (variant == 0) return;
      if (variant == 1 && tid() == 0) cc::mbarrier_init(16 * 1024, 1);  // one past the launched bytes
      if (variant == 1) return;
      if (tid() == 0) cc::mbarrier_init(bar, 1);
      if (variant != 2) __syncthreads();  // 2: thread 32 uses it before the init is ordered before it
      if (variant == 3 && tid() == 0) {
        cc::mbarrier_arrive_expect_tx(bar, 128);  // the phase now waits for 128 bytes...
        cc::mbarrier_arrive(bar);                 // ...and this is an arrival beyond its count
      }
      if (variant == 4 && tid() == 0) attnkit_emu::smem_write(bar + 4, 4);  // a plain store onto the barrier
      if ((variant == 2 || variant == 5) && tid() == 32) cc::mbarrier_arrive(bar);
      if (variant == 5 && tid() == 0) cc::mbarrier_wait(bar, 0);
    });
  };
  EXPECT_TRUE(contains(run(0), "uninitialised mbarrier")) << run(0);
  EXPECT_TRUE(contains(run(1), "outside the launched")) << run(1);
  EXPECT_TRUE(contains(run(2), "before its mbarrier_init")) << run(2);
  EXPECT_TRUE(contains(run(3), "more arrivals than its count")) << run(3);
  EXPECT_TRUE(contains(run(4), "belongs to an initialised mbarrier")) << run(4);
  EXPECT_EQ(run(5), "");
}

TEST(HopperEmulationRuntime, MbarrierArriveAndWaitOrderPlainAccesses) {
  // Thread 32 writes, arrives; thread 0 (whose warp runs first) waits on the phase, then reads:
  // ordered. Without the wait, or waiting on the parity that returns at once on a fresh
  // barrier, the read comes first and the write after it is a race.
  for (int variant : {0, 1, 2}) {
    const std::string error = attnkit_emu::run_grid(one_cta(64), [variant] {
      const uint32_t bar = 1024;
      if (tid() == 0) cc::mbarrier_init(bar, 1);
      __syncthreads();
      if (tid() == 0) {
        if (variant == 0) cc::mbarrier_wait(bar, 0);
        if (variant == 2) cc::mbarrier_wait(bar, 1);  // the fresh barrier's "previous" phase: no order
        attnkit_emu::smem_read(0, 16);
      }
      if (tid() == 32) {
        attnkit_emu::smem_write(0, 16);
        cc::mbarrier_arrive(bar);
      }
    });
    if (variant == 0) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "shared-memory race")) << variant << ": " << error;
    }
  }
}

TEST(HopperEmulationRuntime, WarpCollectivesOrderTheirLanes) {
  // Happens-before treats a warp collective as a join of its lanes.
  for (const bool sync : {false, true}) {
    const std::string error = attnkit_emu::run_grid(one_cta(32), [sync] {
      if (tid() == 0) attnkit_emu::smem_write(0, 4);
      if (sync) __syncwarp();
      if (tid() == 1) attnkit_emu::smem_read(0, 4);
    });
    if (sync) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "shared-memory race")) << error;
    }
  }
}

TEST(HopperEmulationRuntime, BroadcastReadsAreTrackedPerThread) {
  // 64 threads read the same word (more concurrent readers than the shadow keeps inline);
  // thread 70 then overwrites it, with or without a barrier in between.
  for (const bool barrier : {false, true}) {
    const std::string error = attnkit_emu::run_grid(one_cta(96), [barrier] {
      if (tid() < 64) attnkit_emu::smem_read(0, 4);
      if (barrier) __syncthreads();
      if (tid() == 70) attnkit_emu::smem_write(0, 4);
    });
    if (barrier) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "read after the same barrier")) << error;
    }
  }
}

TEST(HopperEmulationRuntime, PartialAccessesOfABroadcastWordKeepEachBytesReaders) {
  // Phase 1: 64 threads read bytes 0-3; barrier. Phase 2: the same threads read byte 1 only.
  // Then thread 70 writes byte 0 (read only before the barrier: fine) and byte `victim`.
  for (const uint32_t victim : {0u, 1u}) {
    const std::string error = attnkit_emu::run_grid(one_cta(96), [victim] {
      if (tid() < 64) attnkit_emu::smem_read(0, 4);
      __syncthreads();
      if (tid() < 64) attnkit_emu::smem_read(1, 1);
      if (tid() == 70) {
        attnkit_emu::smem_write(0, 1);
        attnkit_emu::smem_write(victim, 1);
      }
    });
    if (victim == 0) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "writes shared-memory byte 1")) << error;
    }
  }
}

// ---- named barriers and warpgroups ------------------------------------------------------------------

TEST(HopperEmulationRuntime, NamedBarrierBetweenTwoWarpgroups) {
  // 0: bar.sync by both warpgroups between the writes and the reads; 1: no barrier; 2: the
  // writers bar.arrive, the readers bar.sync (producer / consumer); 3: the readers read before
  // their bar.sync; 4: the two warpgroups name different thread counts.
  auto run = [](int variant) {
    return attnkit_emu::run_grid(one_cta(256), [variant] {
      const bool writer = tid() < 128;
      const uint32_t mine = 16 * static_cast<uint32_t>(tid() % 128);
      if (writer) attnkit_emu::smem_write(mine, 16);
      switch (variant) {
        case 0: cc::named_barrier_sync(1, 256); break;
        case 2:
        case 3:
          if (writer) {
            cc::named_barrier_arrive(2, 256);
          } else {
            if (variant == 3) attnkit_emu::smem_read(mine ^ 16, 16);
            cc::named_barrier_sync(2, 256);
          }
          break;
        case 4: cc::named_barrier_sync(3, writer ? 256 : 128); break;
        default: break;
      }
      if (!writer) attnkit_emu::smem_read(mine ^ 16, 16);
    });
  };
  EXPECT_EQ(run(0), "");
  EXPECT_TRUE(contains(run(1), "shared-memory race")) << run(1);
  EXPECT_EQ(run(2), "");
  EXPECT_TRUE(contains(run(3), "shared-memory race")) << run(3);
  EXPECT_TRUE(contains(run(4), "used with 256 and 128 threads")) << run(4);
}

TEST(HopperEmulationRuntime, SetmaxnregIsAWarpgroupCollective) {
  // All 128 threads: fine; one warp short: the others wait forever.
  for (const bool divergent : {false, true}) {
    const std::string error = attnkit_emu::run_grid(one_cta(128), [divergent] {
      if (divergent && tid() >= 96) return;
      cc::setmaxnreg_inc<232>();
    });
    if (divergent) {
      EXPECT_TRUE(contains(error, "deadlock")) << error;
    } else {
      EXPECT_EQ(error, "");
    }
  }
}

// ---- wgmma ----------------------------------------------------------------------------------------
// A (64 x 16) and B (64 x 16), K-major SW128 tiles at kA and kB, values placed by the layout
// written out here (gmma_desc.hpp's comment), independently of the twin's descriptor decoding.

constexpr uint32_t kA = 0, kB = 8192;

uint32_t k_major_sw128(uint32_t tile, int rows, int r, int k) {
  const uint32_t at = tile + (k / 64) * rows * 128 + r * 128 + (k % 64) * 2;
  return at ^ (((at >> 7) & 7u) << 4);
}

int a_value(int m, int k) { return (m * 7 + k * 3) % 11 - 5; }
int b_value(int n, int k) { return (n * 5 + k * 9) % 13 - 6; }

uint16_t bf16(int v) {
  const float f = static_cast<float>(v);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(u >> 16);
}

/// Every thread of warpgroup 0 stores its share of A and B (rows tid % 64 of A or B).
void store_operands() {
  const int t = tid() % 128;
  const int r = t % 64;
  const bool is_a = t < 64;
  for (int k = 0; k < 16; ++k) {
    const uint32_t where = k_major_sw128(is_a ? kA : kB, 64, r, k);
    cc::st_shared(at<uint16_t>(where), bf16(is_a ? a_value(r, k) : b_value(r, k)));
  }
}

float want_d(int m, int n) {
  int sum = 0;
  for (int k = 0; k < 16; ++k) sum += a_value(m, k) * b_value(n, k);
  return static_cast<float>(sum);
}

TEST(HopperEmulationRuntime, WgmmaAccumulatorsAreNaNUntilTheWait) {
  static float before[128][32], after[128][32];
  const std::string error = attnkit_emu::run_grid(one_cta(128), [] {
    store_operands();
    __syncthreads();
    float d[8][4];
    cc::wgmma_fence();
    cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 0);
    cc::wgmma_commit();
    std::memcpy(before[tid()], d, sizeof(d));  // in flight: NaN
    cc::wgmma_wait<0>();
    std::memcpy(after[tid()], d, sizeof(d));
  });
  ASSERT_EQ(error, "");
  int not_nan = 0, wrong = 0;
  for (int t = 0; t < 128; ++t) {
    const int w = t / 32, g = (t % 32) / 4, q = t % 4;
    for (int j = 0; j < 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        if (!std::isnan(before[t][4 * j + e])) ++not_nan;
        if (after[t][4 * j + e] != want_d(16 * w + g + 8 * (e / 2), 8 * j + 2 * q + e % 2)) ++wrong;
      }
    }
  }
  EXPECT_EQ(not_nan, 0);
  EXPECT_EQ(wrong, 0);
}

TEST(HopperEmulationRuntime, WgmmaChainsThroughPendingResultsAndWaitsInOrder) {
  // Two groups into the same accumulators (the second accumulates onto the first, still in
  // flight): wait<1> lands the first only, wait<0> both.
  static float mid[128][32], last[128][32];
  const std::string error = attnkit_emu::run_grid(one_cta(128), [] {
    store_operands();
    __syncthreads();
    float d[8][4];
    cc::wgmma_fence();
    cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 0);
    cc::wgmma_commit();
    cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 1);
    cc::wgmma_commit();
    cc::wgmma_wait<1>();
    std::memcpy(mid[tid()], d, sizeof(d));
    cc::wgmma_wait<0>();
    std::memcpy(last[tid()], d, sizeof(d));
  });
  ASSERT_EQ(error, "");
  int wrong = 0;
  for (int t = 0; t < 128; ++t) {
    const int w = t / 32, g = (t % 32) / 4, q = t % 4;
    for (int i = 0; i < 32; ++i) {
      const float x = want_d(16 * w + g + 8 * ((i % 4) / 2), 8 * (i / 4) + 2 * q + i % 2);
      if (mid[t][i] != x || last[t][i] != 2 * x) ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST(HopperEmulationRuntime, RefillBetweenWgmmaIssueAndWaitIsARace) {
  // Warpgroup 0 issues a wgmma reading B, then tells warpgroup 1 (bar.arrive) before or after
  // its wgmma_wait; warpgroup 1 (bar.sync) then overwrites B. Only after the wait is it legal:
  // the wgmma still reads its operands until then.
  for (const bool after_wait : {true, false}) {
    const std::string error = attnkit_emu::run_grid(one_cta(256), [after_wait] {
      if (tid() < 128) store_operands();
      __syncthreads();
      if (tid() < 128) {
        float d[8][4];
        cc::wgmma_fence();
        cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 0);
        cc::wgmma_commit();
        if (after_wait) cc::wgmma_wait<0>();
        cc::named_barrier_arrive(1, 256);
        if (!after_wait) cc::wgmma_wait<0>();
      } else {
        cc::named_barrier_sync(1, 256);
        attnkit_emu::smem_write(kB + 16 * static_cast<uint32_t>(tid() - 128), 16);
      }
    });
    if (after_wait) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "shared-memory race")) << error;
      EXPECT_TRUE(contains(error, "wgmma of warpgroup 0")) << error;
    }
  }
}

TEST(HopperEmulationRuntime, ASyncthreadsDoesNotCompleteAWgmmaInFlight) {
  // B is read by four threads of warpgroup 1 and by warpgroup 0's wgmma (five unordered
  // readers); after a __syncthreads warpgroup 1 overwrites B. Legal only if the wgmma was
  // waited for before the barrier: __syncthreads orders threads, not the asynchronous reads.
  for (const bool waited : {true, false}) {
    const std::string error = attnkit_emu::run_grid(one_cta(256), [waited] {
      if (tid() < 128) store_operands();
      __syncthreads();
      if (tid() >= 128 && tid() < 132) attnkit_emu::smem_read(kB, 64 * 32);
      float d[8][4];
      if (tid() < 128) {
        cc::wgmma_fence();
        cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 0);
        cc::wgmma_commit();
        if (waited) cc::wgmma_wait<0>();
      }
      __syncthreads();
      if (tid() == 200) attnkit_emu::smem_write(kB, 64 * 32);
      if (tid() < 128 && !waited) cc::wgmma_wait<0>();
    });
    if (waited) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_TRUE(contains(error, "wgmma of warpgroup 0")) << error;
    }
  }
}

TEST(HopperEmulationRuntime, WgmmaRulesAreEnforced) {
  auto run = [](int variant) {
    return attnkit_emu::run_grid(one_cta(128), [variant] {
      store_operands();
      __syncthreads();
      float d[8][4] = {};
      if (variant != 1) cc::wgmma_fence();
      cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 0);
      if (variant == 2) return;  // never committed nor waited for
      cc::wgmma_commit();
      cc::wgmma_wait<0>();
      if (variant == 3) {  // a second batch without a fence after the wait
        cc::wgmma_ss<64, true>(d, cc::gmma_desc_k_major(kA, 64, 0), cc::gmma_desc_k_major(kB, 64, 0), 1);
        cc::wgmma_commit();
        cc::wgmma_wait<0>();
      }
      if (variant == 4 && tid() < 64) cc::wgmma_commit();  // half the warpgroup: never completes
    });
  };
  EXPECT_EQ(run(0), "");
  EXPECT_TRUE(contains(run(1), "without a wgmma_fence")) << run(1);
  EXPECT_TRUE(contains(run(2), "wgmma never waited for")) << run(2);
  EXPECT_TRUE(contains(run(3), "without a wgmma_fence")) << run(3);
  EXPECT_TRUE(contains(run(4), "deadlock")) << run(4);
}

}  // namespace
