// Decode kernel instance: head dim 128, fp16. Every feature is a runtime flag inside.
#include "cuda/decode/decode_launch_template.cuh"

ATTNKIT_INSTANTIATE_DECODE(/*kHeadDim=*/128, /*kIsBf16=*/false, /*kKvFp8=*/false)
