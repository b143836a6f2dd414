/* REQUIRE(cond): a fuzz target's invariant check; a violation aborts, which
 * libFuzzer reports with the input that caused it. */
#ifndef TASKINIT_TESTS_FUZZ_REQUIRE_H
#define TASKINIT_TESTS_FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: violated: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
