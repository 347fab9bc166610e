// Hopper (sm_90a) forward instance: head dim 64, fp16, 128 keys per stage.
// Every variant is a runtime flag inside.
#include "cuda/hopper/hopper_launch_template.cuh"

ATTNKIT_INSTANTIATE_HOPPER(/*kHeadDim=*/64, /*kIsBf16=*/false, /*kBlockN=*/128)
