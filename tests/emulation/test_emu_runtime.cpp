// The emulator's own contract: the CUDA rules it promises to enforce are reported as
// errors, independently of the attention kernel.
#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace
