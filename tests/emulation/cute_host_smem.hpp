// Force-included into every translation unit of attnkit_cute_proof_tests (CMakeLists.txt), so
// that CuTe's shared-memory address (cute::cast_smem_ptr_to_uint, which make_gmma_desc takes
// its start address from) is the same inline function everywhere: on the host it calls the
// device intrinsic __cvta_generic_to_shared, defined here as the emulator's shared-memory
// address (the byte offset from the buffer of attnkit_emu::set_shared_memory), the address the
// emulated wgmma and TMA twins work with.
#pragma once

#include <cstddef>

#include "emu_runtime.hpp"

inline size_t __cvta_generic_to_shared(const void* ptr) {
  return static_cast<size_t>(static_cast<const unsigned char*>(ptr) - attnkit_emu::shared_base());
}

#define CUTE_CVTA_GENERIC_TO_SHARED_ACTIVATED 1
