// The sm_90a twins proved against CuTe (CUTLASS 4.2, header only: the traits, layouts and
// descriptor functions on the host), not against our reading of the PTX ISA:
//   (1) shared-memory operands: the K-major SW128 tiles of Q and K (R rows x K columns, stored
//       as column blocks of 64 elements) are CuTe's tile_to_shape(GMMA::Layout_K_SW128_Atom,
//       (R, K)), and the MN-major SW128 tiles of V (N = head dim by K = keys, stored as
//       [N / 64 block][key row][64 elements]) are tile_to_shape(GMMA::Layout_MN_SW128_Atom,
//       (N, K), Step<_2, _1>) (N-blocks outermost). For every wgmma k-step, CuTe's
//       make_gmma_desc of the operand's sub-tensor must equal gmma_desc.hpp's descriptor, and
//       the twin's descriptor decoding must reach, element by element, the byte CuTe's layout
//       says; then the emulated wgmma_ss / wgmma_rs_tb run on small integers placed by CuTe's
//       layout must produce the exact products of CuTe's view;
//   (2) registers: the accumulators against CLayout_64xN of MMA_Traits<SM90_64xNx16_F32
//       {BF16BF16,F16F16}_{SS,RS}> and the register A operand against ALayout_64x16 of the
//       _RS traits (the runs of (1) place and read them through these layouts);
//   (3) TMA: the twin's placement of box element (row r, column c) is the element (r, c) of
//       CuTe's Layout_K_SW128_Atom tile (the layout make_tma_copy writes with SWIZZLE_128B),
//       and, for V, the element (c, r) of the MN-major tile above.
// Each proof also runs with a deliberately wrong twin (attnkit_emu::Fault) and must fail.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "emu_runtime.hpp"  // (cute_host_smem.hpp, force-included, maps CuTe's smem addresses to it)
#include "cuda/core/gmma_desc.hpp"
#include "cuda/core/ldmatrix.cuh"  // smem_address
#include "cuda/core/mbarrier.cuh"
#include "cuda/core/tensor_map.hpp"
#include "cuda/core/tma.cuh"
#include "cuda/core/wgmma.cuh"

#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

namespace {

namespace cc = attnkit::cuda_core;
using attnkit_emu::Fault;
using namespace cute;

/// Sets an emulator fault for one scope.
struct FaultScope {
  explicit FaultScope(Fault f) { attnkit_emu::g_fault = f; }
  ~FaultScope() { attnkit_emu::g_fault = Fault::kNone; }
};

constexpr size_t kSmemBytes = 160 * 1024;
alignas(1024) unsigned char g_smem[kSmemBytes];    // the emulated shared memory
alignas(1024) unsigned char g_mirror[kSmemBytes];  // what the proof places there, copied in by the CTA

attnkit_emu::LaunchConfig launch(int threads) {
  attnkit_emu::set_shared_memory(g_smem, sizeof(g_smem));
  attnkit_emu::LaunchConfig c;
  c.grid = dim3(1, 1, 1);
  c.threads = threads;
  c.smem_bytes = kSmemBytes;
  return c;
}

uint32_t address_of(const void* p) { return static_cast<uint32_t>(static_cast<const unsigned char*>(p) - g_smem); }

/// Small integers are exact in fp16, bf16 and the fp32 sums: any misplaced element shows.
uint16_t b16_bits(int value, bool bf16) {
  const float f = static_cast<float>(value);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (bf16) return static_cast<uint16_t>(u >> 16);
  const uint32_t sign = (u >> 16) & 0x8000u;
  if ((u & 0x7fffffffu) == 0) return static_cast<uint16_t>(sign);
  const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
  return static_cast<uint16_t>(sign | (exp << 10) | ((u >> 13) & 0x3ffu));
}

int q_value(int m, int k) { return (m * 7 + k * 3) % 11 - 5; }
int k_value(int n, int k) { return (n * 5 + k * 9) % 13 - 6; }
int p_value(int m, int k) { return (m * 3 + k * 5) % 7 - 3; }
int v_value(int key, int n) { return (key * 11 + n * 7) % 9 - 4; }

/// CuTe's K-major SW128 tile of R x K 16-bit elements at shared byte `at`: column blocks of
/// 64 elements, M (rows) first.
template <int R, int K>
auto k_major_tile(uint32_t at) {
  return make_tensor(make_smem_ptr(reinterpret_cast<uint16_t*>(g_smem + at)),
                     tile_to_shape(GMMA::Layout_K_SW128_Atom<uint16_t>{}, make_shape(Int<R>{}, Int<K>{})));
}

/// CuTe's MN-major SW128 tile of N x K (N contiguous) at `at`, N-blocks outermost.
template <int N, int K>
auto mn_major_tile(uint32_t at) {
  return make_tensor(make_smem_ptr(reinterpret_cast<uint16_t*>(g_smem + at)),
                     tile_to_shape(GMMA::Layout_MN_SW128_Atom<uint16_t>{}, make_shape(Int<N>{}, Int<K>{}),
                                   Step<_2, _1>{}));
}

/// Places `value(row, col)` at every element of CuTe tensor `t` (into the mirror).
template <class Tensor, class Value>
void place(const Tensor& t, bool bf16, Value value) {
  for (int i = 0; i < size<0>(t); ++i) {
    for (int j = 0; j < size<1>(t); ++j) {
      const uint16_t bits = b16_bits(value(i, j), bf16);
      std::memcpy(g_mirror + address_of(&t(i, j)), &bits, 2);
    }
  }
}

/// The CTA's first step: every thread copies its share of the mirror into shared memory
/// (through the race detector), then a barrier.
void copy_mirror_in(int threads, size_t bytes) {
  const int t = static_cast<int>(threadIdx.x);
  for (size_t at = 16 * static_cast<size_t>(t); at < bytes; at += 16 * static_cast<size_t>(threads)) {
    attnkit_emu::smem_write(static_cast<uint32_t>(at), 16);
    std::memcpy(attnkit_emu::shared_base() + at, g_mirror + at, 16);
  }
  __syncthreads();
}

struct Mismatches {
  int desc = 0;     // descriptor bits differing from CuTe's make_gmma_desc
  int address = 0;  // operand elements the twin reads elsewhere than CuTe's layout says
  int value = 0;    // accumulators differing from the exact product of CuTe's view
  int checked = 0;  // descriptors, elements and accumulators compared
  int twin() const { return address + value; }
};

/// \brief An emulation error fails the proof (expected only from a wrong twin).
void record_run(const std::string& error, Mismatches* out) {
  if (attnkit_emu::g_fault == Fault::kNone) {
    EXPECT_EQ(error, "");
  }
  if (!error.empty()) ++out->value;
}

/// \brief The descriptor of one operand against CuTe's, and the twin's decoding of every
/// element against CuTe's address. For an MN-major operand of one 64-element block (N = 64)
/// CuTe encodes LBO 0 where gmma_desc.hpp encodes rows * 128: the field multiplies block 0
/// only (unused); the element check proves both descriptors read the same bytes.
template <bool mn_major, class Sub>
void check_operand(const Sub& sub, uint64_t ours, Mismatches* out) {
  uint64_t cute_desc;
  if constexpr (mn_major) {
    cute_desc = uint64_t(GMMA::make_gmma_desc<GMMA::Major::MN>(sub));
  } else {
    cute_desc = uint64_t(GMMA::make_gmma_desc<GMMA::Major::K>(sub));
  }
  uint64_t differ = cute_desc ^ ours;
  const uint64_t lbo_field = uint64_t{0x3fff} << 16;
  if (mn_major && size<0>(sub) == 64) differ &= ~lbo_field;
  if (differ != 0) ++out->desc;
  ++out->checked;
  for (int mn = 0; mn < size<0>(sub); ++mn) {
    for (int k = 0; k < 16; ++k) {
      ++out->checked;
      const uint32_t want = address_of(&sub(mn, k));
      if (attnkit_emu::gmma_element_address(ours, mn_major, mn, k) != want) ++out->address;
      if (mn_major && size<0>(sub) == 64 &&
          attnkit_emu::gmma_element_address(cute_desc, mn_major, mn, k) != want) {
        ++out->address;  // CuTe's own descriptor must decode to the same bytes
      }
    }
  }
}

/// \brief S = Q K^T as the Hopper kernel computes it: a Q tile of 128 rows (two warpgroups of
/// 64) and a K tile of N rows, both K-major SW128 of D columns; wgmma_ss over the D / 16
/// k-steps; every accumulator compared through CLayout_64xN.
template <int N, int D, bool kIsBf16>
Mismatches qk_proof() {
  constexpr int kRowsQ = 128;
  constexpr uint32_t kQ = 0, kK = kRowsQ * D * 2;
  using Traits = MMA_Traits<std::conditional_t<kIsBf16, SM90_64x64x16_F32BF16BF16_SS<GMMA::Major::K, GMMA::Major::K>,
                                               SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>>>;
  static_assert(std::is_same_v<typename Traits::CLayout, GMMA::CLayout_64x64>, "the traits' accumulator layout");
  (void)launch(256);
  const auto q = k_major_tile<kRowsQ, D>(kQ);
  const auto kt = k_major_tile<N, D>(kK);
  Mismatches out;
  for (int kk = 0; kk < D / 16; ++kk) {
    for (int half = 0; half < 2; ++half) {
      check_operand<false>(local_tile(q, make_shape(Int<64>{}, Int<16>{}), make_coord(half, kk)),
                           cc::gmma_desc_k_major(kQ + half * 64 * 128, kRowsQ, kk), &out);
    }
    check_operand<false>(local_tile(kt, make_shape(Int<N>{}, Int<16>{}), make_coord(0, kk)),
                         cc::gmma_desc_k_major(kK, N, kk), &out);
  }
  std::memset(g_mirror, 0xff, kSmemBytes);
  place(q, kIsBf16, q_value);
  place(kt, kIsBf16, k_value);
  static float d_out[256][N / 2];
  const std::string error = attnkit_emu::run_grid(launch(256), [] {
    copy_mirror_in(256, kK + N * D * 2);
    const int t = static_cast<int>(threadIdx.x), half = t / 128;
    float d[N / 8][4];
    cc::wgmma_fence();
    for (int kk = 0; kk < D / 16; ++kk) {
      cc::wgmma_ss<N, kIsBf16>(d, cc::gmma_desc_k_major(kQ + half * 64 * 128, kRowsQ, kk),
                               cc::gmma_desc_k_major(kK, N, kk), kk > 0);
    }
    cc::wgmma_commit();
    cc::wgmma_wait<0>();
    std::memcpy(d_out[t], d, sizeof(d));
  });
  record_run(error, &out);
  const auto c_layout = GMMA::CLayout_64xN<N>{};  // (thread, value) -> m + 64 n
  for (int t = 0; t < 256; ++t) {
    for (int v = 0; v < N / 2; ++v) {
      const int idx = c_layout(t % 128, v);
      const int m = 64 * (t / 128) + idx % 64, n = idx / 64;
      int want = 0;
      for (int k = 0; k < D; ++k) want += q_value(m, k) * k_value(n, k);
      if (d_out[t][v] != static_cast<float>(want)) ++out.value;  // value v is d[v / 4][v % 4]
      ++out.checked;
    }
  }
  return out;
}

/// \brief O = P V as the Hopper kernel computes it: P (64 x K keys) from registers, placed by
/// ALayout_64x16 per k-step; V an MN-major SW128 tile of N (head dim) x K (keys);
/// wgmma_rs_tb over the K / 16 k-steps; accumulators through CLayout_64xN.
template <int N, int K, bool kIsBf16>
Mismatches pv_proof() {
  constexpr uint32_t kV = 0;
  using Traits = MMA_Traits<std::conditional_t<kIsBf16, SM90_64x64x16_F32BF16BF16_RS<GMMA::Major::K, GMMA::Major::MN>,
                                               SM90_64x64x16_F32F16F16_RS<GMMA::Major::K, GMMA::Major::MN>>>;
  static_assert(std::is_same_v<typename Traits::ALayout, GMMA::ALayout_64x16>, "the traits' register A layout");
  (void)launch(128);
  const auto v = mn_major_tile<N, K>(kV);
  Mismatches out;
  for (int kk = 0; kk < K / 16; ++kk) {
    check_operand<true>(local_tile(v, make_shape(Int<N>{}, Int<16>{}), make_coord(0, kk)),
                        cc::gmma_desc_mn_major(kV, K, kk), &out);
  }
  std::memset(g_mirror, 0xff, kSmemBytes);
  place(v, kIsBf16, [](int n, int key) { return v_value(key, n); });
  // P's registers: value w of thread t holds A(m, k) = ALayout_64x16(t, w) of each k-step.
  static uint32_t a_regs[128][K / 16][4];
  const auto a_layout = GMMA::ALayout_64x16{};  // (thread, value) -> m + 64 k
  for (int t = 0; t < 128; ++t) {
    for (int kk = 0; kk < K / 16; ++kk) {
      for (int w = 0; w < 8; ++w) {
        const int idx = a_layout(t, w);
        const uint32_t bits = b16_bits(p_value(idx % 64, 16 * kk + idx / 64), kIsBf16);
        uint32_t& r = a_regs[t][kk][w / 2];
        r = (w % 2 == 0) ? (r & 0xffff0000u) | bits : (r & 0xffffu) | (bits << 16);
      }
    }
  }
  static float d_out[128][N / 2];
  const std::string error = attnkit_emu::run_grid(launch(128), [] {
    copy_mirror_in(128, N * K * 2);
    const int t = static_cast<int>(threadIdx.x);
    float d[N / 8][4];
    cc::wgmma_fence();
    for (int kk = 0; kk < K / 16; ++kk) {
      cc::wgmma_rs_tb<N, kIsBf16>(d, a_regs[t][kk], cc::gmma_desc_mn_major(kV, K, kk), kk > 0);
    }
    cc::wgmma_commit();
    cc::wgmma_wait<0>();
    std::memcpy(d_out[t], d, sizeof(d));
  });
  record_run(error, &out);
  const auto c_layout = GMMA::CLayout_64xN<N>{};
  for (int t = 0; t < 128; ++t) {
    for (int w = 0; w < N / 2; ++w) {
      const int idx = c_layout(t, w);
      const int m = idx % 64, n = idx / 64;
      int want = 0;
      for (int k = 0; k < K; ++k) want += p_value(m, k) * v_value(k, n);
      if (d_out[t][w] != static_cast<float>(want)) ++out.value;
      ++out.checked;
    }
  }
  return out;
}

/// \brief Each shape right, and each wrong twin caught (by the element check or the run).
template <class Proof>
void prove(Proof proof, std::initializer_list<Fault> faults) {
  const Mismatches right = proof();
  EXPECT_GT(right.checked, 0);
  EXPECT_EQ(right.desc, 0) << "gmma_desc.hpp's descriptor differs from CuTe's make_gmma_desc";
  EXPECT_EQ(right.address, 0) << "the twin decodes a descriptor to other bytes than CuTe's layout";
  EXPECT_EQ(right.value, 0) << "the twin's wgmma differs from the product of CuTe's view";
  for (const Fault f : faults) {
    const FaultScope wrong(f);
    EXPECT_GT(proof().twin(), 0) << "the wrong twin (fault " << static_cast<int>(f) << ") passed the proof";
  }
}

const std::initializer_list<Fault> kSmemFaults = {Fault::kWgmmaIgnoreSwizzle, Fault::kWgmmaSwapLboSbo,
                                                   Fault::kWgmmaSwapAccRows};

TEST(CuteProofSm90, WgmmaSsKMajorSw128Bf16) {
  prove(qk_proof<64, 64, true>, kSmemFaults);
  prove(qk_proof<128, 64, true>, kSmemFaults);
  prove(qk_proof<128, 128, true>, kSmemFaults);
  prove(qk_proof<64, 256, true>, kSmemFaults);
}

TEST(CuteProofSm90, WgmmaSsKMajorSw128Fp16) {
  prove(qk_proof<64, 128, false>, kSmemFaults);
  prove(qk_proof<128, 256, false>, kSmemFaults);
}

TEST(CuteProofSm90, WgmmaRsMnMajorSw128Bf16) {
  const std::initializer_list<Fault> faults = {Fault::kWgmmaIgnoreSwizzle, Fault::kWgmmaSwapLboSbo,
                                               Fault::kWgmmaSwapAccRows, Fault::kWgmmaSwapAHalves};
  prove(pv_proof<64, 64, true>, faults);
  prove(pv_proof<64, 128, true>, faults);
  prove(pv_proof<128, 64, true>, faults);
  prove(pv_proof<128, 128, true>, faults);
  prove(pv_proof<256, 64, true>, faults);
  prove(pv_proof<256, 128, true>, faults);
}

TEST(CuteProofSm90, WgmmaRsMnMajorSw128Fp16) {
  const std::initializer_list<Fault> faults = {Fault::kWgmmaSwapAHalves, Fault::kWgmmaSwapAccRows};
  prove(pv_proof<128, 128, false>, faults);
  prove(pv_proof<256, 64, false>, faults);
}

TEST(CuteProofSm90, KMajorTilesAreColumnBlocksOf64) {
  // "this is the order": tile_to_shape(Layout_K_SW128_Atom, (R, K)) lays R rows of 128 bytes
  // per 64-column block, blocks R * 128 bytes apart, the swizzle on the absolute address:
  // exactly what tma_box_address gives for box c of R rows at tile + c * R * 128.
  int wrong = 0;
  (void)launch(128);
  const auto t128 = k_major_tile<128, 256>(1024);
  for (int r = 0; r < 128; ++r) {
    for (int k = 0; k < 256; ++k) {
      if (address_of(&t128(r, k)) != attnkit_emu::tma_box_address(1024 + (k / 64) * 128 * 128, r, k % 64)) ++wrong;
    }
  }
  const auto t64 = k_major_tile<64, 64>(0);
  for (int r = 0; r < 64; ++r) {
    for (int k = 0; k < 64; ++k) {
      if (address_of(&t64(r, k)) != attnkit_emu::tma_box_address(0, r, k)) ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0);
}

// ---- TMA ------------------------------------------------------------------------------------------

/// \brief A (kRows x kCols) 16-bit global tensor loaded as the Hopper kernel loads Q, K and V:
/// one box of (64 columns, kRows rows) per 64-column block, box c at tile + c * kRows * 128.
/// Counts the elements whose place differs from CuTe's K-major tile (r, c) and, for V, from
/// CuTe's MN-major tile (c, r).
template <int kRows, int kCols>
int tma_proof() {
  static std::vector<uint16_t> global(static_cast<size_t>(kRows) * kCols);
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) global[static_cast<size_t>(r) * kCols + c] = static_cast<uint16_t>(1 + r * kCols + c);
  }
  cc::TensorMapSpec spec;
  spec.base = global.data();
  spec.dims[0] = kCols;
  spec.dims[1] = kRows;
  spec.strides[0] = spec.strides[1] = spec.strides[2] = kCols * 2;
  spec.box[0] = 64;
  spec.box[1] = kRows;
  static CUtensorMap map;
  std::string why;
  EXPECT_EQ(cc::encode_tensor_map(spec, &map, &why), cudaSuccess) << why;
  constexpr uint32_t kTile = 2048, kBar = kTile + kRows * kCols * 2;
  const std::string error = attnkit_emu::run_grid(launch(32), [] {
    if (threadIdx.x != 0) return;
    cc::mbarrier_init(kBar, 1);
    cc::fence_barrier_init();
    cc::mbarrier_arrive_expect_tx(kBar, kRows * kCols * 2);
    for (int c = 0; c < kCols / 64; ++c) cc::tma_load_4d(kTile + c * kRows * 128, &map, kBar, 64 * c, 0, 0, 0);
    cc::mbarrier_wait(kBar, 0);
  });
  EXPECT_EQ(error, "");
  int wrong = 0;
  const auto k_tile = k_major_tile<kRows, kCols>(kTile);
  const auto mn_tile = mn_major_tile<kCols, kRows>(kTile);
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      const uint16_t want = global[static_cast<size_t>(r) * kCols + c];
      uint16_t as_k, as_mn;
      std::memcpy(&as_k, &k_tile(r, c), 2);
      std::memcpy(&as_mn, &mn_tile(c, r), 2);
      if (as_k != want) ++wrong;
      if (as_mn != want) ++wrong;
    }
  }
  return wrong;
}

template <int kRows, int kCols>
void prove_tma() {
  EXPECT_EQ((tma_proof<kRows, kCols>()), 0) << kRows << " x " << kCols;
  const FaultScope wrong(Fault::kTmaNoSwizzle);
  EXPECT_GT((tma_proof<kRows, kCols>()), 0) << "a TMA without the swizzle passed the proof";
}

TEST(CuteProofSm90, TmaBoxPlacementMatchesLayoutKSw128) {
  prove_tma<64, 64>();
  prove_tma<64, 128>();
  prove_tma<128, 128>();
  prove_tma<64, 256>();
  prove_tma<128, 256>();
}

}  // namespace
