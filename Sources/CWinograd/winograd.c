#include "winograd.h"

#include <string.h>

// Eight channels at a time: one AVX register, two SSE ones.
typedef float lanes __attribute__((vector_size(32)));
typedef uint32_t words __attribute__((vector_size(32)));
typedef uint16_t halves __attribute__((vector_size(16)));
#define LANES 8

#define INLINE static inline __attribute__((always_inline))
// Each entry point is compiled for AVX2 and for any x86-64; the loader picks one.
#define CLONED __attribute__((target_clones("arch=x86-64-v3", "default")))

// Element i of a float32 (`bf16` 0) or bf16 array, and the seven after it. `bf16` is a
// constant where these are inlined, so each caller compiles to one of the two.
INLINE lanes load(const void *p, long i, int bf16) {
    lanes v;
    if (!bf16) {
        memcpy(&v, (const float *)p + i, sizeof v);
        return v;
    }
    halves h;
    memcpy(&h, (const uint16_t *)p + i, sizeof h);
    const words w = __builtin_convertvector(h, words) << 16;  // bf16 is float32's top half
    memcpy(&v, &w, sizeof v);
    return v;
}

INLINE void store(void *p, long i, lanes v, int bf16) {
    if (!bf16) {
        memcpy((float *)p + i, &v, sizeof v);
        return;
    }
    words w;
    memcpy(&w, &v, sizeof w);
    // Round to nearest, ties to even (as oneDNN rounds); a NaN stays a (quiet) NaN.
    const words nan = (words)(v != v);
    const words rounded = w + 0x7fff + ((w >> 16) & 1);
    w = (nan & (w | 0x400000)) | (~nan & rounded);
    const halves h = __builtin_convertvector(w >> 16, halves);
    memcpy((uint16_t *)p + i, &h, sizeof h);
}

static inline long tiles_across(long extent) { return (extent + 1) / 2; }

INLINE void input_tiles(const mgpr_winograd_input_t *in, long first, long count, void *matrices, long plane,
                        const int bf16) {
    const long C = in->channels, H = in->height, W = in->width, block = in->block;
    const long across = tiles_across(W), perImage = tiles_across(H) * across;
    const lanes zero = {0};
    for (long t = first, row = 0; t < first + count; t++, row++) {
        const long n = t / perImage, y0 = (t % perImage) / across * 2 - 1, x0 = (t % perImage) % across * 2 - 1;
        // Each of the tile's 16 pixels: its offset within a channel block, or -1 outside
        // the map (the padding's zeros).
        long at[4][4];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                const long y = y0 + i, x = x0 + j;
                at[i][j] = y >= 0 && y < H && x >= 0 && x < W ? (y * W + x) * block : -1;
            }
        }
        for (long c = 0; c < C; c += LANES) {
            const long base = n * C * H * W + (c / block) * H * W * block + c % block;
            lanes d[4][4];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) d[i][j] = at[i][j] >= 0 ? load(in->source, base + at[i][j], bf16) : zero;
            }
            // B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: down the columns, then
            // along the rows.
            lanes s[4][4];
            for (int j = 0; j < 4; j++) {
                s[0][j] = d[0][j] - d[2][j];
                s[1][j] = d[1][j] + d[2][j];
                s[2][j] = d[2][j] - d[1][j];
                s[3][j] = d[1][j] - d[3][j];
            }
            long k = row * C + c;
            for (int i = 0; i < 4; i++, k += 4 * plane) {
                store(matrices, k, s[i][0] - s[i][2], bf16);
                store(matrices, k + plane, s[i][1] + s[i][2], bf16);
                store(matrices, k + 2 * plane, s[i][2] - s[i][1], bf16);
                store(matrices, k + 3 * plane, s[i][1] - s[i][3], bf16);
            }
        }
    }
}

INLINE void output_tiles(const mgpr_winograd_output_t *out, const float *matrices, long plane, long first, long count,
                         const int bf16) {
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
                const lanes m0 = load(m, j * plane, 0), m1 = load(m, (4 + j) * plane, 0);
                const lanes m2 = load(m, (8 + j) * plane, 0), m3 = load(m, (12 + j) * plane, 0);
                s[0][j] = m0 + m1 + m2;
                s[1][j] = m1 - m2 - m3;
            }
            const lanes bias = load(out->bias, c, 0);
            const long base = n * K * H * W + (c / block) * H * W * block + c % block;
            for (int a = 0; a < 2 && y0 + a < H; a++) {
                const lanes y[2] = {s[a][0] + s[a][1] + s[a][2] + bias, s[a][1] - s[a][2] - s[a][3] + bias};
                for (int b = 0; b < 2 && x0 + b < W; b++) {
                    const long to = base + ((y0 + a) * W + x0 + b) * block;
                    lanes v = y[b];
                    if (out->accumulate) v += load(out->destination, to, bf16);
                    if (out->relu) v = __builtin_elementwise_max(v, zero);
                    store(out->destination, to, v, bf16);
                }
            }
        }
    }
}

CLONED void mgpr_winograd_f23_input(const mgpr_winograd_input_t *in, long first, long count, void *matrices, long plane) {
    if (in->bf16) input_tiles(in, first, count, matrices, plane, 1);
    else input_tiles(in, first, count, matrices, plane, 0);
}

CLONED void mgpr_winograd_f23_output(const mgpr_winograd_output_t *out, const float *matrices, long plane, long first,
                                     long count) {
    if (out->bf16) output_tiles(out, matrices, plane, first, count, 1);
    else output_tiles(out, matrices, plane, first, count, 0);
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
