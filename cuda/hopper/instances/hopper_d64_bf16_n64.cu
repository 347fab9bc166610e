// Hopper (sm_90a) forward instance: head dim 64, bf16, 64 keys per stage (block masks of 64-key blocks).
// Every variant is a runtime flag inside.
#include "cuda/hopper/hopper_launch_template.cuh"

ATTNKIT_INSTANTIATE_HOPPER(/*kHeadDim=*/64, /*kIsBf16=*/true, /*kBlockN=*/64)
