/* tasks — starting and supervising processes.
 *
 * Promises (so far: the spawn primitive the main task uses):
 * - A spawned process starts with an empty signal mask, every signal
 *   disposition at SIG_DFL, only fds 0-2 open, in a new session and
 *   process group of its own.
 * - spawn never blocks PID 1 waiting on the child. An exec failure ends
 *   the child with 127 (not found) or 126 (any other exec error), the
 *   codes shells and tini use, after one line on its stderr.
 */
#ifndef TASKINIT_TASKS_H
#define TASKINIT_TASKS_H

#include <sys/types.h>

/* Returns the child's pid, or -1 with errno when fork itself failed. */
pid_t spawn_process(char *const argv[]);

#endif
