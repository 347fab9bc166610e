// The emulated PTX instructions proved against CuTe's own layout definitions (CUTLASS 4.2,
// header only), not against our reading of the PTX ISA: for every (thread, value) of an
// instruction, CuTe's traits say which element of the operand tile it holds, and the
// emulated twin must put exactly that element there. Each proof also runs a deliberately
// wrong twin (attnkit_emu::Fault) and requires it to fail, so the proof cannot be vacuous.
//   mma.sync.m16n8k16 (f16 / bf16 in, f32 accumulate)  <- MMA_Traits<SM80_16x8x16_F32{F16,BF16}...>
//   ldmatrix.x4 / ldmatrix.x4.trans                    <- Copy_Traits<SM75_U32x4_LDSM_N / SM75_U16x8_LDSM_T>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <cute/atom/copy_traits_sm75.hpp>
#include <cute/atom/mma_traits_sm80.hpp>
#include <cute/layout.hpp>

#include "cuda/core/ldmatrix.cuh"  // the emulated twins (shadow/ comes first on the include path)
#include "cuda/core/mma.cuh"
#include "emu_runtime.hpp"

namespace {

using attnkit_emu::Fault;

/// Sets an emulator fault for one scope.
struct FaultScope {
  explicit FaultScope(Fault f) { attnkit_emu::g_fault = f; }
  ~FaultScope() { attnkit_emu::g_fault = Fault::kNone; }
};

alignas(16) unsigned char g_smem[4096];

attnkit_emu::LaunchConfig one_warp() {
  attnkit_emu::set_shared_memory(g_smem, sizeof(g_smem));
  attnkit_emu::LaunchConfig c;
  c.grid = dim3(1, 1, 1);
  c.threads = 32;
  c.smem_bytes = sizeof(g_smem);
  return c;
}

/// Small integers are exact in fp16, bf16 and the fp32 sums: any misplaced element shows.
uint16_t b16_bits(int value, bool bf16) {
  const float f = static_cast<float>(value);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (bf16) return static_cast<uint16_t>(u >> 16);
  // fp16 of a small integer: exact.
  const uint32_t sign = (u >> 16) & 0x8000u;
  if ((u & 0x7fffffffu) == 0) return static_cast<uint16_t>(sign);
  const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
  return static_cast<uint16_t>(sign | (exp << 10) | ((u >> 13) & 0x3ffu));
}

int a_value(int m, int k) { return (m * 7 + k * 3) % 11 - 5; }
int b_value(int n, int k) { return (n * 5 + k * 9) % 13 - 6; }

/// \brief Runs the emulated mma with A and B distributed as CuTe's layouts say, and counts the
/// D elements that differ from what CuTe's C layout says they hold.
template <class Traits, bool kIsBf16>
int mma_mismatches() {
  using namespace cute;
  const auto a_layout = typename Traits::ALayout{};  // (thread, value) -> m + 16 k
  const auto b_layout = typename Traits::BLayout{};  // (thread, value) -> n + 8 k
  const auto c_layout = typename Traits::CLayout{};  // (thread, value) -> m + 16 n
  static uint32_t a_regs[32][4], b_regs[32][2];
  static float d_out[32][4];
  for (int t = 0; t < 32; ++t) {
    for (int v = 0; v < 8; ++v) {  // value v is half v % 2 of register v / 2
      const int idx = a_layout(t, v);
      const uint32_t bits = b16_bits(a_value(idx % 16, idx / 16), kIsBf16);
      a_regs[t][v / 2] = (v % 2 == 0) ? (a_regs[t][v / 2] & 0xffff0000u) | bits : (a_regs[t][v / 2] & 0xffffu) | (bits << 16);
    }
    for (int v = 0; v < 4; ++v) {
      const int idx = b_layout(t, v);
      const uint32_t bits = b16_bits(b_value(idx % 8, idx / 8), kIsBf16);
      b_regs[t][v / 2] = (v % 2 == 0) ? (b_regs[t][v / 2] & 0xffff0000u) | bits : (b_regs[t][v / 2] & 0xffffu) | (bits << 16);
    }
  }
  const std::string error = attnkit_emu::run_grid(one_warp(), [] {
    const int t = static_cast<int>(threadIdx.x);
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    attnkit::cuda_core::mma_m16n8k16<kIsBf16>(d, a_regs[t], b_regs[t]);
    for (int v = 0; v < 4; ++v) d_out[t][v] = d[v];
  });
  EXPECT_EQ(error, "");
  int mismatches = 0;
  for (int t = 0; t < 32; ++t) {
    for (int v = 0; v < 4; ++v) {
      const int idx = c_layout(t, v);
      const int m = idx % 16, n = idx / 16;
      int want = 0;
      for (int k = 0; k < 16; ++k) want += a_value(m, k) * b_value(n, k);
      if (d_out[t][v] != static_cast<float>(want)) ++mismatches;
    }
  }
  return mismatches;
}

TEST(CuteProof, MmaM16N8K16Fp16MatchesSm80Traits) {
  using Traits = cute::MMA_Traits<cute::SM80_16x8x16_F32F16F16F32_TN>;
  EXPECT_EQ((mma_mismatches<Traits, false>()), 0);
  const FaultScope wrong(Fault::kMmaSwapAHalves);
  EXPECT_GT((mma_mismatches<Traits, false>()), 0) << "a wrong A fragment layout passed the proof";
}

TEST(CuteProof, MmaM16N8K16Bf16MatchesSm80Traits) {
  using Traits = cute::MMA_Traits<cute::SM80_16x8x16_F32BF16BF16F32_TN>;
  EXPECT_EQ((mma_mismatches<Traits, true>()), 0);
  const FaultScope wrong(Fault::kMmaSwapAHalves);
  EXPECT_GT((mma_mismatches<Traits, true>()), 0) << "a wrong A fragment layout passed the proof";
}

/// \brief Runs the emulated ldmatrix (x4, plain or .trans): lane s addresses source row s (8
/// 16-bit elements of id 8 s + c + 1), and CuTe's DstLayout says which source bit each
/// (lane, destination bit) holds. Counts the 16-bit destination elements that differ.
template <class Traits, bool kTrans>
int ldmatrix_mismatches() {
  using namespace cute;
  const auto dst = typename Traits::DstLayout{};  // (thread, destination bit) -> source bit
  const auto src = typename Traits::SrcLayout{};  // (thread, source bit) -> source bit
  static uint32_t regs[32][4];
  static unsigned char mirror[sizeof(g_smem)];  // what the lanes store, for the expectations
  static int row_byte[32][8];                   // byte offset of source (thread, element)
  for (int s = 0; s < 32; ++s) {
    for (int c = 0; c < 8; ++c) {
      row_byte[s][c] = src(s, 16 * c) / 8;  // source bit -> byte
      const uint16_t id = static_cast<uint16_t>(8 * s + c + 1);
      std::memcpy(mirror + row_byte[s][c], &id, 2);
    }
  }
  const std::string error = attnkit_emu::run_grid(one_warp(), [] {
    const int t = static_cast<int>(threadIdx.x);
    for (int c = 0; c < 8; ++c) {  // lane t stores source row t, then the warp synchronises
      attnkit_emu::smem_write(static_cast<uint32_t>(row_byte[t][c]), 2);
      std::memcpy(attnkit_emu::shared_base() + row_byte[t][c], mirror + row_byte[t][c], 2);
    }
    __syncthreads();
    uint32_t r[4];
    if constexpr (kTrans) {
      attnkit::cuda_core::ldmatrix_x4_trans(r, static_cast<uint32_t>(16 * t));
    } else {
      attnkit::cuda_core::ldmatrix_x4(r, static_cast<uint32_t>(16 * t));
    }
    for (int i = 0; i < 4; ++i) regs[t][i] = r[i];
  });
  EXPECT_EQ(error, "");
  int mismatches = 0;
  for (int t = 0; t < 32; ++t) {
    for (int bit = 0; bit < 128; bit += 16) {  // 8 16-bit elements per lane: register bit / 32
      const int source_bit = dst(t, bit);
      uint16_t want;
      std::memcpy(&want, mirror + source_bit / 8, 2);
      const uint16_t got = static_cast<uint16_t>(regs[t][bit / 32] >> (bit % 32));
      if (got != want) ++mismatches;
    }
  }
  return mismatches;
}

TEST(CuteProof, LdmatrixX4MatchesSm75LdsmN) {
  using Traits = cute::Copy_Traits<cute::SM75_U32x4_LDSM_N>;
  EXPECT_EQ((ldmatrix_mismatches<Traits, false>()), 0);
  const FaultScope wrong(Fault::kLdmatrixSwapHalves);
  EXPECT_GT((ldmatrix_mismatches<Traits, false>()), 0) << "a wrong ldmatrix layout passed the proof";
}

TEST(CuteProof, LdmatrixX4TransMatchesSm75LdsmT) {
  using Traits = cute::Copy_Traits<cute::SM75_U16x8_LDSM_T>;
  EXPECT_EQ((ldmatrix_mismatches<Traits, true>()), 0);
  const FaultScope wrong(Fault::kLdmatrixSwapHalves);
  EXPECT_GT((ldmatrix_mismatches<Traits, true>()), 0) << "a wrong ldmatrix.trans layout passed the proof";
}

}  // namespace
