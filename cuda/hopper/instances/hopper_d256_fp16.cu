// Hopper (sm_90a) forward instance: head dim 256, fp16. Every variant is a runtime flag inside.
#include "cuda/hopper/hopper_launch_template.cuh"

ATTNKIT_INSTANTIATE_HOPPER(/*kHeadDim=*/256, /*kIsBf16=*/false)
