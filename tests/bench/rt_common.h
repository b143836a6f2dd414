/* What the round trip benchmarks (rt_client, rt_floor) share: a clock, a
 * way to give up, and the `raw NAME US...` lines task_bench.py reads. */
#ifndef TASKINIT_BENCH_RT_COMMON_H
#define TASKINIT_BENCH_RT_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
	exit(1);
}

static inline void print_raw(const char *name, const double *xs, int n)
{
	printf("raw %s", name);
	for (int i = 0; i < n; i++)
		printf(" %.1f", xs[i]);
	printf("\n");
}

#endif
