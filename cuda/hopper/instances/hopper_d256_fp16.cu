// Hopper (sm_90a) forward instance: head dim 256, fp16, 64 keys per stage.
// Every variant is a runtime flag inside.
#include "cuda/hopper/hopper_launch_template.cuh"

ATTNKIT_INSTANTIATE_HOPPER(/*kHeadDim=*/256, /*kIsBf16=*/false, /*kBlockN=*/64)
