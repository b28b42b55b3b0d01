/* bench_common: helpers shared by the benchmarks: a monotonic clock, a heap-allocation
 * counter (malloc/calloc/realloc interposed in the benchmark binary only), percentiles, and
 * the one-line JSON records that scripts/bench.sh merges into build/bench.json. */
#ifndef SV_BENCH_COMMON_H
#define SV_BENCH_COMMON_H


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Heap allocations made by this process (every malloc, calloc and growing realloc). */
extern volatile uint64_t bench_allocs;

#define BENCH_COUNT_ALLOCS                                                                        \
    volatile uint64_t bench_allocs;                                                               \
    extern void *__libc_malloc(size_t);                                                           \
    extern void *__libc_calloc(size_t, size_t);                                                   \
    extern void *__libc_realloc(void *, size_t);                                                  \
    void *malloc(size_t n)                                                                        \
    {                                                                                             \
        bench_allocs++;                                                                           \
        return __libc_malloc(n);                                                                  \
    }                                                                                             \
    void *calloc(size_t a, size_t b)                                                              \
    {                                                                                             \
        bench_allocs++;                                                                           \
        return __libc_calloc(a, b);                                                               \
    }                                                                                             \
    void *realloc(void *p, size_t n)                                                              \
    {                                                                                             \
        bench_allocs++;                                                                           \
        return __libc_realloc(p, n);                                                              \
    }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* p-th percentile (0..100) of n samples; sorts them. */
static inline int64_t bench_percentile(int64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Prints "name value unit" for the table and a JSON fragment line for bench.json. */
static inline void bench_report(const char *name, double value, const char *unit)
{
    printf("%-32s %14.2f  %s\n", name, value, unit);
    fprintf(stderr, "BENCH_JSON \"%s\": %.4f\n", name, value);
}

#endif
