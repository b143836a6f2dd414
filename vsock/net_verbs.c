/* Verbs for network links, addresses, routes (issue 7). */
#include "vsock/conn.h"

const struct verb *net_verbs(size_t *n)
{
	*n = 0;
	return NULL;
}
