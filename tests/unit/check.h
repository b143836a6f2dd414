/* Minimal unit-test harness shared by tests/unit/test_*.c.
 *
 * A test file defines functions `static void test_xxx(void)` and lists them
 * in main() with RUN(test_xxx); main ends with `return check_summary();`.
 * Each RUN prints "PASS name" or "FAIL name" with the failing checks; the
 * last line is "unit: N passed, M failed", which tests/run.sh adds up. */
#ifndef TASKINIT_TESTS_CHECK_H
#define TASKINIT_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_in_test;
static int check_tests_passed;
static int check_tests_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			check_failed_in_test++;                                                    \
			printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		if (check_a_ != check_b_) {                                                        \
			check_failed_in_test++;                                                    \
			printf("  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, \
			       #b, check_a_, check_b_);                                            \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
			check_failed_in_test++;                                                    \
			printf("  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
			       #a, #b, check_a_ ? check_a_ : "(null)",                             \
			       check_b_ ? check_b_ : "(null)");                                    \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		check_failed_in_test = 0;                                                          \
		fn();                                                                              \
		if (check_failed_in_test) {                                                        \
			check_tests_failed++;                                                      \
			printf("FAIL %s\n", #fn);                                                  \
		} else {                                                                           \
			check_tests_passed++;                                                      \
			printf("PASS %s\n", #fn);                                                  \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

static inline int check_summary(void)
{
	printf("unit: %d passed, %d failed\n", check_tests_passed, check_tests_failed);
	return check_tests_failed ? 1 : 0;
}

#endif
