/* The machine's float32 FLOP peak, measured: every thread runs independent fused
 * multiply-adds on registers (enough chains to hide the FMA latency), nothing else, at
 * the widest vector the CPU has. GFLOP/s = threads x FMAs x lanes x 2 / seconds.
 * bench/cpu_peers.py compiles it with `cc -O3 -march=native -fopenmp` (at -O2 the
 * chains go through memory) and reads its one line: GFLOP/s, then the vector width in
 * bits. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 12
#define ROUNDS 100000000L

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define SUM _mm512_reduce_add_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float SUM(__m256 v) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    float s = 0;
    for (int i = 0; i < 8; i++) s += lanes[i];
    return s;
}
#endif

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : ROUNDS / 100;
    double sink = 0, start = omp_get_wtime();
    int threads = 1;
#pragma omp parallel reduction(+ : sink)
    {
#pragma omp single
        threads = omp_get_num_threads();
        vec acc[CHAINS];
        vec a = SET1(0.999999f), b = SET1(1e-7f);
        for (int c = 0; c < CHAINS; c++) acc[c] = SET1((float)c);
        for (long r = 0; r < rounds; r++) {
            for (int c = 0; c < CHAINS; c++) acc[c] = FMA(acc[c], a, b);
        }
        vec total = acc[0];
        for (int c = 1; c < CHAINS; c++) total = ADD(total, acc[c]);
        sink += SUM(total);
    }
    double seconds = omp_get_wtime() - start;
    printf("%.1f %d\n", threads * (double)rounds * CHAINS * LANES * 2 / seconds / 1e9, LANES * 32);
    return sink == 12345.0;  /* keeps the work from being optimised away */
}
