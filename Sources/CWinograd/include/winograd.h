#ifndef MGPR_WINOGRAD_H
#define MGPR_WINOGRAD_H
// The data transforms of Winograd's F(2x2, 3x3) convolution (a 3x3 kernel, stride 1,
// padding 1): 4x4 input tiles at a stride of 2 become 16 matrices [tiles, channels]
// that a batched matrix product meets with the transformed weights; each 2x2 output
// tile comes back from 16 such products. Kept in C, compiled optimised in every build
// (debug builds of the tests run them at speed), once for AVX2 and once for any
// x86-64, the one the CPU runs chosen when the program loads.
//
// A feature map is [N, C, H, W] in a channel-blocked layout: blocks of `block`
// channels, each [H, W, block] (oneDNN's nChw16c for block 16, nChw8c for 8; plain NHWC
// is block == C). C and block are multiples of 8. Its values are float32, or bf16 where
// `bf16` is set. Tile t counts images, then tile rows, then tile columns; a chunk is the
// tiles [first, first + count), whose matrices start at row 0 of `matrices` (the matrix
// of position k at k * plane elements on, rows of C or K).
//
// The input matrices take the map's type (bf16 ones are what a bf16 matrix product
// reads), rounded to nearest even; the products the output transform reads are float32.
// bf16 needs a CPU with AVX512-BF16, whose instruction rounds.

#include <stdint.h>

typedef struct {
    const void *source;
    long channels, block, height, width;
    int bf16;            // source and matrices in bf16 (else float32)
} mgpr_winograd_input_t;

typedef struct {
    void *destination;
    long channels, block, height, width;
    const float *bias;   // per output channel
    int accumulate;      // add the destination's values (a residual in its buffer)
    int relu;
    int bf16;            // destination in bf16 (else float32)
} mgpr_winograd_output_t;

/// Transforms tiles [first, first + count) into `matrices` (16 matrices of rows
/// `channels` wide, `plane` elements apart).
void mgpr_winograd_f23_input(const mgpr_winograd_input_t *input, long first, long count, void *matrices, long plane);

/// Assembles the output tiles [first, first + count) from `matrices` (16 float32
/// matrices of rows `channels` wide, `plane` floats apart).
void mgpr_winograd_f23_output(const mgpr_winograd_output_t *output, const float *matrices, long plane, long first, long count);

/// Transforms `weight` ([outputs, inputs, 3, 3]) into 16 matrices [inputs, outputs], one
/// after the other: for tile position (i, j), entry (i, j) of G w G^T, with
/// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], computed in double.
void mgpr_winograd_f23_weights(const float *weight, long inputs, long outputs, float *planes);

#endif
