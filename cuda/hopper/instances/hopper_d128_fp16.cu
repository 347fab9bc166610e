// Hopper (sm_90a) forward instance: head dim 128, fp16, 128 keys per stage.
// Every variant is a runtime flag inside.
#include "cuda/hopper/hopper_launch_template.cuh"

ATTNKIT_INSTANTIATE_HOPPER(/*kHeadDim=*/128, /*kIsBf16=*/false, /*kBlockN=*/128)
