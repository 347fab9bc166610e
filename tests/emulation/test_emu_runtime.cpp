// The emulator's own contract: the CUDA rules it promises to enforce are reported as
// errors, independently of the attention kernel.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

#include "emu_runtime.hpp"

namespace {

alignas(16) unsigned char g_shared[4096];
alignas(16) const unsigned char g_source[16] = {};

attnkit_emu::LaunchConfig one_cta(int threads) {
  attnkit_emu::set_shared_memory(g_shared, sizeof(g_shared));
  attnkit_emu::LaunchConfig config;
  config.grid = dim3(1, 1, 1);
  config.threads = threads;
  config.smem_bytes = 1024;
  return config;
}

TEST(KernelEmulationRuntime, WarpShuffleAndBarrierWork) {
  int sums[64] = {};
  const std::string error = attnkit_emu::run_grid(one_cta(64), [&sums] {
    const int t = static_cast<int>(threadIdx.x);
    int x = t;
    for (int m = 1; m < 32; m *= 2) x += __shfl_xor_sync(0xffffffffu, x, m);
    __syncthreads();
    sums[t] = x;
  });
  ASSERT_EQ(error, "");
  for (int t = 0; t < 64; ++t) EXPECT_EQ(sums[t], t < 32 ? 496 : 1520) << "thread " << t;  // sum of the warp's ids
}

TEST(KernelEmulationRuntime, BarrierNotReachedByAllIsDeadlock) {
  const std::string error = attnkit_emu::run_grid(one_cta(64), [] {
    if (threadIdx.x != 5) __syncthreads();
  });
  EXPECT_NE(error.find("deadlock"), std::string::npos) << error;
}

TEST(KernelEmulationRuntime, ACtaEndsAtItsFirstSwitchAfterAnError) {
  // A broken kernel need not finish (a mutated one whose waits fail at once may loop without
  // end): after the first error the CTA ends where a thread would wait for others.
  int rounds = 0;
  const std::string error = attnkit_emu::run_grid(one_cta(64), [&rounds] {
    if (threadIdx.x == 0) attnkit_emu::smem_read(/*offset=*/2048, 4);  // outside the launched 1024 bytes
    for (int i = 0; i < 1000; ++i) {
      __syncthreads();
      if (threadIdx.x == 0) ++rounds;
    }
  });
  EXPECT_NE(error.find("outside"), std::string::npos) << error;
  EXPECT_EQ(rounds, 0);
}

TEST(KernelEmulationRuntime, CpAsyncNeverWaitedForIsReported) {
  const std::string error = attnkit_emu::run_grid(one_cta(32), [] {
    attnkit_emu::cp_async_issue(16 * threadIdx.x, g_source, /*valid=*/true);
    attnkit_emu::cp_async_commit();
  });
  EXPECT_NE(error.find("never waited"), std::string::npos) << error;
}

TEST(KernelEmulationRuntime, CpAsyncOutsideSharedMemoryIsReported) {
  const std::string error = attnkit_emu::run_grid(one_cta(32), [] {
    attnkit_emu::cp_async_issue(/*smem_offset=*/1024, g_source, /*valid=*/true);  // one past the launched 1024 bytes
    attnkit_emu::cp_async_commit();
    attnkit_emu::cp_async_wait(0);
  });
  EXPECT_NE(error.find("outside"), std::string::npos) << error;
}

TEST(KernelEmulationRuntime, CopiesLandOnlyAtTheirWait) {
  bool poisoned_before = false, landed_after = false;
  const std::string error = attnkit_emu::run_grid(one_cta(32), [&] {
    if (threadIdx.x != 0) return;
    attnkit_emu::cp_async_issue(0, g_source, /*valid=*/true);
    attnkit_emu::cp_async_commit();
    poisoned_before = attnkit_emu::shared_base()[0] == 0xff;
    attnkit_emu::cp_async_wait(0);
    landed_after = attnkit_emu::shared_base()[0] == 0;
  });
  ASSERT_EQ(error, "");
  EXPECT_TRUE(poisoned_before);
  EXPECT_TRUE(landed_after);
}

// ---- the shared-memory race detector ---------------------------------------------------
// Each rule of emu_runtime.hpp, with the barrier that makes the same accesses legal. Plain
// accesses go through the detector hooks the cuda/core wrappers call.

uint32_t word_of(int thread) { return 16 * static_cast<uint32_t>(thread); }

TEST(KernelEmulationRaceDetector, ReadOfAnotherThreadsWriteNeedsABarrier) {
  for (const bool barrier : {false, true}) {
    const std::string error = attnkit_emu::run_grid(one_cta(64), [barrier] {
      attnkit_emu::smem_write(word_of(static_cast<int>(threadIdx.x)), 4);
      if (barrier) __syncthreads();
      attnkit_emu::smem_read(word_of((static_cast<int>(threadIdx.x) + 1) % 64), 4);  // the neighbour's word
    });
    if (barrier) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_NE(error.find("shared-memory race"), std::string::npos) << error;
    }
  }
}

TEST(KernelEmulationRaceDetector, OverwritingWhatAnotherThreadReadNeedsABarrier) {
  for (const bool barrier : {false, true}) {
    // Thread 0 runs first (fibers switch only at barriers): it reads word 5, then thread 5 overwrites it.
    const std::string error = attnkit_emu::run_grid(one_cta(64), [barrier] {
      if (threadIdx.x == 0) attnkit_emu::smem_read(word_of(5), 4);
      if (barrier) __syncthreads();
      if (threadIdx.x == 5) attnkit_emu::smem_write(word_of(5), 4);
    });
    if (barrier) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_NE(error.find("read after the same barrier"), std::string::npos) << error;
    }
  }
}

TEST(KernelEmulationRaceDetector, OwnAccessesNeverConflict) {
  const std::string error = attnkit_emu::run_grid(one_cta(64), [] {
    const uint32_t mine = word_of(static_cast<int>(threadIdx.x));
    attnkit_emu::smem_write(mine, 16);
    attnkit_emu::smem_read(mine, 16);
    attnkit_emu::smem_write(mine, 16);
  });
  EXPECT_EQ(error, "");
}

TEST(KernelEmulationRaceDetector, CpAsyncDataCountsOnlyFromTheIssuersWait) {
  // Issue, then read before the wait: the data has not landed, even for the issuer.
  std::string error = attnkit_emu::run_grid(one_cta(32), [] {
    attnkit_emu::cp_async_issue(word_of(static_cast<int>(threadIdx.x)), g_source, true);
    attnkit_emu::cp_async_commit();
    attnkit_emu::smem_read(word_of(static_cast<int>(threadIdx.x)), 4);
    attnkit_emu::cp_async_wait(0);
  });
  EXPECT_NE(error.find("before the cp.async"), std::string::npos) << error;
  // Waited by the issuer, but read by its neighbour without a barrier.
  error = attnkit_emu::run_grid(one_cta(32), [] {
    attnkit_emu::cp_async_issue(word_of(static_cast<int>(threadIdx.x)), g_source, true);
    attnkit_emu::cp_async_commit();
    attnkit_emu::cp_async_wait(0);
    if (threadIdx.x > 0) attnkit_emu::smem_read(word_of(static_cast<int>(threadIdx.x) - 1), 4);
  });
  EXPECT_NE(error.find("wrote after the same barrier"), std::string::npos) << error;
  // wait; __syncthreads; read: the pattern every kernel uses.
  error = attnkit_emu::run_grid(one_cta(32), [] {
    attnkit_emu::cp_async_issue(word_of(static_cast<int>(threadIdx.x)), g_source, true);
    attnkit_emu::cp_async_commit();
    attnkit_emu::cp_async_wait(0);
    __syncthreads();
    attnkit_emu::smem_read(word_of((static_cast<int>(threadIdx.x) + 1) % 32), 4);
  });
  EXPECT_EQ(error, "");
}

TEST(KernelEmulationRaceDetector, CpAsyncRefillCountsFromItsIssue) {
  // A refill issued while another thread still reads the stage, in either order: the
  // reader first (write-after-read at the issue) or the issue first (read before landing).
  for (const bool reader_first : {true, false}) {
    const std::string error = attnkit_emu::run_grid(one_cta(64), [reader_first] {
      const bool reader = threadIdx.x == (reader_first ? 0u : 63u);
      const bool refiller = threadIdx.x == (reader_first ? 63u : 0u);
      if (reader) attnkit_emu::smem_read(0, 16);
      if (refiller) {
        attnkit_emu::cp_async_issue(0, g_source, true);
        attnkit_emu::cp_async_commit();
      }
      __syncwarp();
      if (refiller) attnkit_emu::cp_async_wait(0);
    });
    EXPECT_NE(error.find("shared-memory race"), std::string::npos) << "reader_first " << reader_first << ": " << error;
  }
}

void write_barrier_read() {
  attnkit_emu::smem_write(word_of(static_cast<int>(threadIdx.x)), 4);
  __syncthreads();
  attnkit_emu::smem_read(word_of((static_cast<int>(threadIdx.x) + 1) % 64), 4);
}

TEST(KernelEmulationRaceDetector, DeletedBarrierSiteIsRecordedAndReturnsAtOnce) {
  attnkit_emu::clear_barrier_sites_hit();
  ASSERT_EQ(attnkit_emu::run_grid(one_cta(64), write_barrier_read), "");
  const std::set<attnkit_emu::BarrierSite> sites = attnkit_emu::barrier_sites_hit();
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_NE(sites.begin()->file.find("test_emu_runtime.cpp"), std::string::npos) << sites.begin()->file;
  attnkit_emu::g_deleted_barrier = *sites.begin();
  const std::string mutated = attnkit_emu::run_grid(one_cta(64), write_barrier_read);
  attnkit_emu::g_deleted_barrier = attnkit_emu::BarrierSite{};
  EXPECT_NE(mutated.find("shared-memory race"), std::string::npos) << mutated;
}

}  // namespace
