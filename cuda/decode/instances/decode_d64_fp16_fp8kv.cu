// Decode kernel instance: head dim 64, fp16 Q / O, FP8 (E4M3 or E5M2) K / V cache. Every
// feature is a runtime flag inside.
#include "cuda/decode/decode_launch_template.cuh"

ATTNKIT_INSTANTIATE_DECODE(/*kHeadDim=*/64, /*kIsBf16=*/false, /*kKvFp8=*/true)
