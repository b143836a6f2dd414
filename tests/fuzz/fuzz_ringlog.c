/* libFuzzer target for ringlog: the input is a sequence of operations
 * (append, reserve/commit/cancel, seeks, reads, peeks, misuse), each run
 * against ringlog and the reference model of tests/unit/test_ringlog_model.c,
 * and any disagreement aborts. Needs no corpus and no options:
 *   build/fuzz/fuzz_ringlog -max_total_time=60 */
#define RINGLOG_MODEL_NO_MAIN
#include "tests/unit/test_ringlog_model.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!model_run(data, size, NULL))
		abort();
	return 0;
}
