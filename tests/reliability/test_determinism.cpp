// Determinism of the CPU backend (docs/reliability.md): the same call gives bitwise
// identical O and LSE every time, whatever the worker threads' scheduling, and whether
// the outputs start as NaN, zeros or garbage.
#include <gtest/gtest.h>

#include <cstring>

#include "attnkit/attention.hpp"
#include "reliability/scenarios.hpp"

namespace attnkit_test {
namespace {

TEST(ReliabilityDeterminism, SameCallTwiceIsBitwiseIdentical) {
  for (const auto& sc : make_scenarios()) {
    SCOPED_TRACE(sc->name);
    HostTensor o1 = sc->make_o(), lse1 = sc->make_lse();
    ASSERT_TRUE(sc->run_into(&o1, &lse1));
    for (int repeat = 0; repeat < 3; ++repeat) {
      HostTensor o2 = sc->make_o(), lse2 = sc->make_lse();
      // The previous contents of the outputs must not matter.
      if (repeat == 1) std::memset(o2.bytes.data(), 0, o2.bytes.size());
      if (repeat == 2) std::memset(o2.bytes.data(), 0x5a, o2.bytes.size());
      ASSERT_TRUE(sc->run_into(&o2, &lse2));
      EXPECT_TRUE(bitwise_equal(o1, o2)) << "O differs on repeat " << repeat;
      EXPECT_TRUE(bitwise_equal(lse1, lse2)) << "LSE differs on repeat " << repeat;
    }
  }
}

TEST(ReliabilityDeterminism, QueryCallsInBetweenChangeNothing) {
  // forward() and is_supported()/explain() are pure functions of their arguments: calling
  // the query functions in between changes nothing.
  for (const auto& sc : make_scenarios()) {
    SCOPED_TRACE(sc->name);
    HostTensor o1 = sc->make_o(), lse1 = sc->make_lse();
    ASSERT_TRUE(sc->run_into(&o1, &lse1));
    std::string why, description;
    EXPECT_TRUE(attnkit::is_supported(sc->params, &why)) << why;
    EXPECT_TRUE(attnkit::explain(sc->params, &description));
    HostTensor o2 = sc->make_o(), lse2 = sc->make_lse();
    ASSERT_TRUE(sc->run_into(&o2, &lse2));
    EXPECT_TRUE(bitwise_equal(o1, o2));
    EXPECT_TRUE(bitwise_equal(lse1, lse2));
  }
}

TEST(ReliabilityDeterminism, InputsAreNeverModified) {
  for (const auto& sc : make_scenarios()) {
    SCOPED_TRACE(sc->name);
    const HostTensor q = sc->c.q, k = sc->c.k, v = sc->c.v;
    HostTensor o = sc->make_o(), lse = sc->make_lse();
    ASSERT_TRUE(sc->run_into(&o, &lse));
    EXPECT_TRUE(bitwise_equal(q, sc->c.q));
    EXPECT_TRUE(bitwise_equal(k, sc->c.k));
    EXPECT_TRUE(bitwise_equal(v, sc->c.v));
  }
}

}  // namespace
}  // namespace attnkit_test
