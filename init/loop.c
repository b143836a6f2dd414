/* One thread, one epoll loop, and deadline timers kept in a short list
 * (a handful: the shutdown timer, one idle timer per connection, and
 * timer_when_idle's, which fire only when an epoll_wait found nothing). */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "init/init.h"

#define LOOP_BATCH 64

int loop_init(struct agent *a)
{
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	return a->epfd < 0 ? -1 : 0;
}

int loop_add(struct agent *a, struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	w->events = events;
	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int loop_mod(struct agent *a, struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (w->events == events)
		return 0;
	w->events = events;
	int r = epoll_ctl(a->epfd, EPOLL_CTL_MOD, w->fd, &ev);
	if (r < 0 && errno == ENOENT) /* taken out by loop_del */
		r = epoll_ctl(a->epfd, EPOLL_CTL_ADD, w->fd, &ev);
	return r;
}

int loop_del(struct agent *a, struct watch *w)
{
	w->events = 0;
	return epoll_ctl(a->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void loop_release(struct agent *a, struct watch *w)
{
	if (w->fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, w->fd, NULL);
		close(w->fd);
		w->fd = -1;
	}
	w->on_event = NULL;
	if (w->release) {
		w->next_released = a->released;
		a->released = w;
	}
}

void timer_cancel(struct agent *a, struct timer *t)
{
	struct timer **pp;

	if (!t->armed)
		return;
	for (pp = &a->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

static void timer_insert(struct agent *a, struct timer *t, uint64_t deadline_ns, bool idle)
{
	timer_cancel(a, t);
	t->deadline_ns = deadline_ns;
	t->idle = idle;
	t->armed = true;
	t->next = a->timers;
	a->timers = t;
}

void timer_arm(struct agent *a, struct timer *t, uint64_t delay_ms)
{
	timer_insert(a, t, now_ns() + delay_ms * 1000000u, false);
}

/* Due at once, so the next epoll_wait does not sleep; run_timers fires it
 * only after an epoll_wait that found nothing. */
void timer_when_idle(struct agent *a, struct timer *t)
{
	timer_insert(a, t, 0, true);
}

static int next_timeout_ms(struct agent *a)
{
	uint64_t now = now_ns(), best = UINT64_MAX;

	for (struct timer *t = a->timers; t; t = t->next)
		if (t->deadline_ns < best)
			best = t->deadline_ns;
	if (best == UINT64_MAX)
		return -1;
	if (best <= now)
		return 0;
	/* Round up so we never wake just before the deadline and spin. */
	uint64_t ms = (best - now + 999999u) / 1000000u;
	return ms > 60000 ? 60000 : (int)ms;
}

/* Fires one expired timer at a time: a handler may arm or cancel others. */
static void run_timers(struct agent *a, bool idle)
{
	for (;;) {
		uint64_t now = now_ns();
		struct timer *due = NULL;

		for (struct timer *t = a->timers; t; t = t->next) {
			if (t->deadline_ns <= now && (idle || !t->idle)) {
				due = t;
				break;
			}
		}
		if (!due)
			return;
		timer_cancel(a, due);
		due->on_fire(a, due);
	}
}

static void free_released(struct agent *a)
{
	while (a->released) {
		struct watch *w = a->released;
		a->released = w->next_released;
		w->release(w);
	}
}

void loop_run(struct agent *a)
{
	struct epoll_event evs[LOOP_BATCH];

	for (;;) {
		int n = epoll_wait(a->epfd, evs, LOOP_BATCH, next_timeout_ms(a));
		if (n < 0 && errno != EINTR)
			agent_fatal(a, "epoll_wait failed");
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			if (w->on_event)
				w->on_event(a, w, evs[i].events);
		}
		free_released(a);
		run_timers(a, n == 0);
		free_released(a);
	}
}
