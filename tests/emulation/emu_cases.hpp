// The curated-case helpers of the emulated prefill suites (sm_80 family and Hopper family):
// a GpuCase at one head dim and dtype, with small shapes.
#pragma once

#include <ostream>
#include <string>

#include "cuda/attention_gpu_case.hpp"

namespace attnkit_test {

/// One curated case: a GpuCase (its name is the test name) at one head dim and dtype.
struct EmuCase {
  GpuCase c;
  int64_t d = 64;
  DType dtype = DType::kBFloat16;
};

inline void PrintTo(const EmuCase& e, std::ostream* os) { *os << e.c.name; }

/// \brief A GpuCase with small shapes: one batch, two heads, the given lengths.
inline GpuCase small(const std::string& name, int64_t sq, int64_t sk) {
  GpuCase c;
  c.name = name;
  c.batch = 1;
  c.hq = c.hkv = 2;
  c.sq = sq;
  c.sk = sk;
  return c;
}

inline EmuCase at(GpuCase c, int64_t d, DType dtype) {
  c.name += "_d" + std::to_string(d) + (dtype == DType::kBFloat16 ? "_bf16" : "_fp16");
  return EmuCase{c, d, dtype};
}

}  // namespace attnkit_test
