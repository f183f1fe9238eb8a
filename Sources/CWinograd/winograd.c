#include "winograd.h"

#include <string.h>

// Eight channels at a time: one AVX register, two SSE ones.
typedef float lanes __attribute__((vector_size(32)));
typedef uint32_t words __attribute__((vector_size(32)));
typedef uint16_t halves __attribute__((vector_size(16)));
typedef __bf16 bfloats __attribute__((vector_size(16)));
#define LANES 8

#define INLINE static inline __attribute__((always_inline))
// Each entry point is compiled for AVX2 and for any x86-64; the loader picks one.
#define CLONED __attribute__((target_clones("arch=x86-64-v3", "default")))
// bf16 maps and matrices are for CPUs with AVX512-BF16 (mgpr makes bf16 plans only
// there): compiled for it, floats are rounded to bf16 by its instruction.
#define NATIVE_BF16 __attribute__((target("avx512bf16,avx512vl,avx512bw,avx512f,avx2,fma")))

// The element types a map or matrix can have. Each is a constant where the functions
// below are inlined, so each caller compiles to one of them.
enum { F32, BF16 };

// Element i of an array of `type`, and the seven after it.
INLINE lanes load(const void *p, long i, const int type) {
    lanes v;
    if (type == F32) {
        memcpy(&v, (const float *)p + i, sizeof v);
        return v;
    }
    halves h;
    memcpy(&h, (const uint16_t *)p + i, sizeof h);
    const words w = __builtin_convertvector(h, words) << 16;  // bf16 is float32's top half
    memcpy(&v, &w, sizeof v);
    return v;
}

INLINE void store(void *p, long i, lanes v, const int type) {
    if (type == F32) {
        memcpy((float *)p + i, &v, sizeof v);
        return;
    }
    // Rounded to nearest, ties to even, as oneDNN rounds.
    const bfloats b = __builtin_convertvector(v, bfloats);
    memcpy((uint16_t *)p + i, &b, sizeof b);
}

static inline long tiles_across(long extent) { return (extent + 1) / 2; }

// Column x of a tile row (the map's rows y0 to y0 + 3, `inside` saying which exist)
// with B^T applied down it, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Pixels outside
// the map are the padding's zeros.
INLINE void column(const mgpr_winograd_input_t *in, long base, long y0, const int inside[4], long x, lanes s[4],
                   const int type) {
    lanes d[4] = {0};
    if (x >= 0 && x < in->width) {
        for (int i = 0; i < 4; i++) {
            if (inside[i]) d[i] = load(in->source, base + ((y0 + i) * in->width + x) * in->block, type);
        }
    }
    s[0] = d[0] - d[2];
    s[1] = d[1] + d[2];
    s[2] = d[2] - d[1];
    s[3] = d[1] - d[3];
}

INLINE void input_tiles(const mgpr_winograd_input_t *in, long first, long count, void *matrices, long plane,
                        const int type) {
    const long C = in->channels, H = in->height, W = in->width, block = in->block;
    const long across = tiles_across(W), perImage = tiles_across(H) * across;
    // A run at a time: the chunk's tiles in one tile row. Neighbours in a run share two
    // columns, so each tile reads the two it adds (B^T d B: down the columns, then along
    // the rows, the last two columns' first pass kept for the next tile).
    for (long t = first; t < first + count;) {
        const long n = t / perImage, y0 = (t % perImage) / across * 2 - 1, start = (t % perImage) % across;
        const long run = across - start < first + count - t ? across - start : first + count - t;
        int inside[4];
        for (int i = 0; i < 4; i++) inside[i] = y0 + i >= 0 && y0 + i < H;
        for (long c = 0; c < C; c += LANES) {
            const long base = n * C * H * W + (c / block) * H * W * block + c % block;
            lanes s[4][4];  // the tile's columns after the first pass: s[column][row]
            column(in, base, y0, inside, start * 2 - 1, s[2], type);
            column(in, base, y0, inside, start * 2, s[3], type);
            for (long k = 0, x = start * 2 + 1; k < run; k++, x += 2) {
                for (int i = 0; i < 4; i++) {
                    s[0][i] = s[2][i];
                    s[1][i] = s[3][i];
                }
                column(in, base, y0, inside, x, s[2], type);
                column(in, base, y0, inside, x + 1, s[3], type);
                long at = (t - first + k) * C + c;
                for (int i = 0; i < 4; i++, at += 4 * plane) {
                    store(matrices, at, s[0][i] - s[2][i], type);
                    store(matrices, at + plane, s[1][i] + s[2][i], type);
                    store(matrices, at + 2 * plane, s[2][i] - s[1][i], type);
                    store(matrices, at + 3 * plane, s[1][i] - s[3][i], type);
                }
            }
        }
        t += run;
    }
}

INLINE void output_tiles(const mgpr_winograd_output_t *out, const float *matrices, long plane, long first, long count,
                         const int type) {
    const long K = out->channels, H = out->height, W = out->width, block = out->block;
    const long across = tiles_across(W), perImage = tiles_across(H) * across;
    const lanes zero = {0};
    for (long t = first, row = 0; t < first + count; t++, row++) {
        const long n = t / perImage, y0 = (t % perImage) / across * 2, x0 = (t % perImage) % across * 2;
        for (long c = 0; c < K; c += LANES) {
            // A^T m A, A^T = [1 1 1 0; 0 1 -1 -1]: down the columns, then along the rows.
            const float *m = matrices + row * K + c;
            lanes s[2][4];
            for (int j = 0; j < 4; j++) {
                const lanes m0 = load(m, j * plane, F32), m1 = load(m, (4 + j) * plane, F32);
                const lanes m2 = load(m, (8 + j) * plane, F32), m3 = load(m, (12 + j) * plane, F32);
                s[0][j] = m0 + m1 + m2;
                s[1][j] = m1 - m2 - m3;
            }
            const lanes bias = load(out->bias, c, F32);
            const long base = n * K * H * W + (c / block) * H * W * block + c % block;
            for (int a = 0; a < 2 && y0 + a < H; a++) {
                const lanes y[2] = {s[a][0] + s[a][1] + s[a][2] + bias, s[a][1] - s[a][2] - s[a][3] + bias};
                for (int b = 0; b < 2 && x0 + b < W; b++) {
                    const long to = base + ((y0 + a) * W + x0 + b) * block;
                    lanes v = y[b];
                    if (out->accumulate) v += load(out->destination, to, type);
                    if (out->relu) v = __builtin_elementwise_max(v, zero);
                    store(out->destination, to, v, type);
                }
            }
        }
    }
}

NATIVE_BF16 static void input_bf16(const mgpr_winograd_input_t *in, long first, long count, void *matrices, long plane) {
    input_tiles(in, first, count, matrices, plane, BF16);
}

NATIVE_BF16 static void output_bf16(const mgpr_winograd_output_t *out, const float *matrices, long plane, long first,
                                    long count) {
    output_tiles(out, matrices, plane, first, count, BF16);
}

CLONED void mgpr_winograd_f23_input(const mgpr_winograd_input_t *in, long first, long count, void *matrices, long plane) {
    if (in->bf16) input_bf16(in, first, count, matrices, plane);
    else input_tiles(in, first, count, matrices, plane, F32);
}

CLONED void mgpr_winograd_f23_output(const mgpr_winograd_output_t *out, const float *matrices, long plane, long first,
                                     long count) {
    if (out->bf16) output_bf16(out, matrices, plane, first, count);
    else output_tiles(out, matrices, plane, first, count, F32);
}

void mgpr_winograd_f23_weights(const float *weight, long inputs, long outputs, float *planes) {
    static const double g[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (long k = 0; k < outputs; k++) {
        for (long c = 0; c < inputs; c++) {
            const float *w = weight + (k * inputs + c) * 9;
            double left[4][3];  // G w
            for (int i = 0; i < 4; i++) {
                for (int b = 0; b < 3; b++) left[i][b] = g[i][0] * w[b] + g[i][1] * w[3 + b] + g[i][2] * w[6 + b];
            }
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    const double u = left[i][0] * g[j][0] + left[i][1] * g[j][1] + left[i][2] * g[j][2];
                    planes[((long)(i * 4 + j) * inputs + c) * outputs + k] = (float)u;
                }
            }
        }
    }
}
