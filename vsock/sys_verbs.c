/* Verbs for clock and entropy (issue 7). */
#include "vsock/conn.h"

const struct verb *sys_verbs(size_t *n)
{
	*n = 0;
	return NULL;
}
