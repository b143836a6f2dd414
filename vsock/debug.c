/* The debug shell server (docs/debug-shell.md): with task.debug, every
 * connection to task.debug_port (vsock) or task.debug_unix gets a shell on
 * a pseudo-terminal of its own, and the bytes are relayed both ways through
 * two bounded buffers.
 *
 * A session ends in one place, session_maybe_end(), once three things are
 * over: the client connection, the shell (reaped by init/signals.c, which
 * hands unclaimed pids here), and the hang-up of what the shell left in its
 * session (SIGHUP, then SIGKILL after HANGUP_GRACE_MS). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "init/init.h"
#include "tasks/tasks.h"
#include "vsock/conn.h"
#include "vsock/debug.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

enum {
	DBG_BUF = 16384,	/* per direction */
	PREAMBLE_WAIT_MS = 100, /* how long a client has to ask for a terminal */
	HANGUP_GRACE_MS = 1000, /* SIGHUP, then SIGKILL this much later */
	SETTLE_MS = 100,	/* after the shell exits: its last output is on its way */
	FLUSH_MS = 5000,	/* then the client has this long to read the rest */
};

struct debug_server {
	struct listener vsock, unix_;
	struct session *sessions;
	unsigned n_sessions;
	uint64_t next_id;
	bool stopped; /* shutdown has begun */
};

enum phase {
	PH_PREAMBLE, /* connected; the shell starts on the first bytes or after a moment */
	PH_RUNNING,  /* the shell runs (or ran: see reaped) */
};

struct session {
	struct agent *a;
	struct session *next, *prev;
	uint64_t id;
	char peer[64];
	struct watch sock; /* the client */
	struct watch pty;  /* the master side of the shell's terminal */
	struct timer io;   /* preamble wait; then the settle and flush deadlines */
	struct timer grace;
	unsigned refs; /* the list, and each watch in the loop */
	enum phase phase;
	bool terminal; /* the client asked for a terminal: echo on, its TERM */
	struct term_request req;
	pid_t pid; /* the shell, also its session id; 0 before it started */
	bool running;
	int wstatus;
	bool client_eof; /* half-closed: no more input, output still goes */
	bool hung_up;	 /* the session got its SIGHUP */
	bool settled;	 /* the shell's last output had time to arrive */
	const char *why; /* how it ended; the first reason wins */
	uint64_t t_start, bytes_in, bytes_out;
	size_t in_len, out_len;
	char in[DBG_BUF];  /* client -> terminal */
	char out[DBG_BUF]; /* terminal -> client */
};

static void session_step(struct session *s);

static struct debug_server *server(struct agent *a)
{
	return a->debug;
}

static void session_unref(struct session *s)
{
	if (--s->refs == 0)
		free(s);
}

static void release_sock(struct watch *w)
{
	session_unref(container_of(w, struct session, sock));
}

static void release_pty(struct watch *w)
{
	session_unref(container_of(w, struct session, pty));
}

static void set_why(struct session *s, const char *why)
{
	if (!s->why)
		s->why = why;
}

/* ---- the shell's session: signalling what is in it ---- */

/* Signals every process whose session id is sid (zombies aside); returns
 * how many there were. Only ever sid == a shell's pid: the kernel keeps that
 * number from being reused while anything is still in the session. */
static unsigned signal_session(pid_t sid, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[64], buf[512], state = 0;
		int pid = atoi(e->d_name), ppid, pgrp, session = 0;
		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		char *close_paren = strrchr(buf, ')');
		if (!close_paren ||
		    sscanf(close_paren + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
			continue;
		if (session == sid && state != 'Z') {
			kill(pid, sig);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Signals the shell's session, and the shell itself while it runs: a
 * child that has not reached setsid() yet is in no session of its own.
 * Once the shell is reaped its pid stays reserved as long as anything is
 * still in its session; after that, pids are handed out cyclically, so the
 * number is not another session's within the grace. */
static unsigned signal_shell_session(struct session *s, int sig)
{
	unsigned n = signal_session(s->pid, sig);

	if (s->running && kill(s->pid, sig) == 0 && n == 0)
		n = 1;
	return n;
}

static void on_grace_over(struct agent *a, struct timer *t)
{
	struct session *s = container_of(t, struct session, grace);
	unsigned n = signal_shell_session(s, SIGKILL);

	if (n)
		log_msg(a, LL_INFO, "debug: session %llu: SIGKILL to %u processes left after %u ms",
			(unsigned long long)s->id, n, (unsigned)HANGUP_GRACE_MS);
	/* A process that left the session may still hold the terminal. */
	if (s->pty.fd >= 0)
		loop_release(a, &s->pty);
	session_step(s);
}

/* What a terminal hang-up does, for every process of the session (not only
 * the leader and the foreground group): SIGHUP, and SIGCONT for stopped
 * jobs; then SIGKILL for whatever is left after the grace. */
static void hang_up(struct session *s)
{
	if (s->hung_up || !s->pid)
		return;
	s->hung_up = true;
	if (signal_shell_session(s, SIGHUP) == 0)
		return;
	signal_shell_session(s, SIGCONT);
	s->grace.on_fire = on_grace_over;
	timer_arm(s->a, &s->grace, HANGUP_GRACE_MS);
}

/* ---- starting the shell ---- */

static const char *shell_path(const struct config *c)
{
	if (c->debug_shell[0])
		return c->debug_shell;
	return access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

/* In the forked child: its own session with the terminal as controlling
 * tty, a clean signal state, fds 0-2 only, cwd /. Never returns. */
static __attribute__((noreturn)) void exec_shell(int slave, const char *shell, char **envp)
{
	sigset_t none;
	char *argv[] = {(char *)shell, NULL};

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(126);
	for (int fd = 0; fd < 3; fd++)
		dup2(slave, fd);
	syscall(SYS_close_range, 3u, ~0u, 0u);
	umask(022);
	if (chdir("/") < 0)
		_exit(126);
	execve(shell, argv, envp);
	int err = errno;
	dprintf(2, "taskinit: cannot run the debug shell %s: %s\r\n", shell, strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/* Line mode (no terminal request): the client's own terminal echoes and
 * edits, so the pty must not echo too. With ECHO off and ICANON on, bash's
 * readline and busybox's line editing both step aside and read plain lines;
 * TERM=dumb keeps programs from sending escape sequences. */
static int open_terminal(struct session *s, int *slave)
{
	struct winsize ws = {.ws_col = s->terminal ? s->req.cols : DEBUG_DEFAULT_COLS,
			     .ws_row = s->terminal ? s->req.rows : DEBUG_DEFAULT_ROWS};
	struct termios tio;
	char path[64];
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, path, sizeof(path)) != 0 ||
	    (*slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(m);
		return -1;
	}
	ioctl(m, TIOCSWINSZ, &ws);
	if (!s->terminal && tcgetattr(*slave, &tio) == 0) {
		tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		tcsetattr(*slave, TCSANOW, &tio);
	}
	fcntl(m, F_SETFL, O_NONBLOCK);
	return m;
}

static void queue_out(struct session *s, const char *msg)
{
	size_t n = strlen(msg);

	if (n > DBG_BUF - s->out_len)
		n = DBG_BUF - s->out_len;
	memcpy(s->out + s->out_len, msg, n);
	s->out_len += n;
}

static void on_pty(struct agent *a, struct watch *w, uint32_t events);

static void start_shell(struct session *s)
{
	struct agent *a = s->a;
	const char *shell = shell_path(&a->cfg);
	struct stat st;
	char term[8 + DEBUG_TERM_MAX], sh[8 + CONFIG_PATH_MAX], home[16];
	char *envp[] = {
	    term, home,	       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    sh,	  "USER=root", "LOGNAME=root",
	    NULL};
	char msg[160];
	int slave = -1;

	s->phase = PH_RUNNING;
	if (server(a)->stopped) {
		/* Still in its preamble when the shutdown began: no new shell. */
		queue_out(s, "taskinit: shutting down\r\n");
		set_why(s, "shutdown");
		return;
	}
	snprintf(term, sizeof(term), "TERM=%s", s->terminal ? s->req.term : "dumb");
	snprintf(sh, sizeof(sh), "SHELL=%s", shell);
	snprintf(home, sizeof(home), "HOME=%s",
		 stat("/root", &st) == 0 && S_ISDIR(st.st_mode) ? "/root" : "/");
	int m = open_terminal(s, &slave);
	pid_t pid = m < 0 ? -1 : fork();
	if (pid == 0)
		exec_shell(slave, shell, envp);
	if (slave >= 0)
		close(slave);
	if (pid < 0) {
		snprintf(msg, sizeof(msg), "taskinit: cannot start a debug shell: %s\r\n",
			 strerror(errno));
		log_msg(a, LL_WARN, "debug: session %llu: %s", (unsigned long long)s->id,
			m < 0 ? "no pseudo-terminal" : "fork failed");
		if (m >= 0)
			close(m);
		queue_out(s, msg);
		set_why(s, "the shell could not start");
		return;
	}
	s->pid = pid;
	s->running = true;
	s->pty.fd = m;
	s->pty.on_event = on_pty;
	s->pty.release = release_pty;
	if (loop_add(a, &s->pty, EPOLLIN) == 0)
		s->refs++;
	else
		s->pty.fd = -1, close(m);
	if (s->terminal)
		log_msg(a, LL_INFO, "debug: session %llu: %s pid %d, terminal %ux%u TERM=%s",
			(unsigned long long)s->id, shell, pid, s->req.cols, s->req.rows,
			s->req.term);
	else
		log_msg(a, LL_INFO, "debug: session %llu: %s pid %d, line mode",
			(unsigned long long)s->id, shell, pid);
}

/* Before the shell starts: a client may ask for a terminal first. */
static void take_preamble(struct session *s, bool waited_enough)
{
	size_t used;

	switch (debug_preamble_parse(s->in, s->in_len, &s->req, &used)) {
	case PREAMBLE_MORE:
		if (!waited_enough && !s->client_eof)
			return;
		used = s->in_len; /* an unfinished request: dropped */
		break;
	case PREAMBLE_TERMINAL:
		s->terminal = true;
		break;
	case PREAMBLE_BAD:
		log_msg(s->a, LL_INFO, "debug: session %llu: malformed terminal request ignored",
			(unsigned long long)s->id);
		break;
	case PREAMBLE_NONE:
		/* Nothing yet: wait (a client that left is session_step's). */
		if (!s->in_len && (!waited_enough || s->client_eof))
			return;
		break;
	}
	memmove(s->in, s->in + used, s->in_len - used);
	s->in_len -= used;
	timer_cancel(s->a, &s->io);
	start_shell(s);
}

/* ---- relaying ---- */

static void client_gone(struct session *s, const char *why)
{
	set_why(s, why);
	if (s->sock.fd >= 0)
		loop_release(s->a, &s->sock);
	s->out_len = 0;
}

static void read_client(struct session *s)
{
	if (s->client_eof || s->in_len == DBG_BUF)
		return;
	ssize_t n = recv(s->sock.fd, s->in + s->in_len, DBG_BUF - s->in_len, MSG_DONTWAIT);
	if (n > 0) {
		s->in_len += (size_t)n;
		s->bytes_in += (uint64_t)n;
	} else if (n == 0) {
		/* The person left (ncat half-closes at Ctrl-D on its own terminal). */
		s->client_eof = true;
		set_why(s, "client closed");
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		client_gone(s, "client connection failed");
	}
}

static void send_client(struct session *s)
{
	if (s->sock.fd < 0 || !s->out_len)
		return;
	ssize_t n = send(s->sock.fd, s->out, s->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		memmove(s->out, s->out + n, s->out_len - (size_t)n);
		s->out_len -= (size_t)n;
		s->bytes_out += (uint64_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		client_gone(s, "client went away");
	}
}

static void read_terminal(struct session *s)
{
	if (s->pty.fd < 0 || s->out_len == DBG_BUF)
		return;
	ssize_t n = read(s->pty.fd, s->out + s->out_len, DBG_BUF - s->out_len);
	if (n > 0) {
		/* Nobody to show it to once the client is gone: drop it. */
		if (s->sock.fd >= 0)
			s->out_len += (size_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		/* EIO: nothing holds the terminal any more. */
		loop_release(s->a, &s->pty);
	}
}

static void write_terminal(struct session *s)
{
	if (!s->in_len)
		return;
	if (s->pty.fd < 0) {
		s->in_len = 0;
		return;
	}
	ssize_t n = write(s->pty.fd, s->in, s->in_len);
	if (n > 0) {
		memmove(s->in, s->in + n, s->in_len - (size_t)n);
		s->in_len -= (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		s->in_len = 0; /* nobody reads the terminal any more */
	}
}

static void update_interest(struct session *s)
{
	if (s->sock.fd >= 0) {
		uint32_t ev = 0;
		if (!s->client_eof && s->in_len < DBG_BUF)
			ev |= EPOLLIN;
		if (s->out_len)
			ev |= EPOLLOUT;
		loop_mod(s->a, &s->sock, ev);
	}
	if (s->pty.fd >= 0) {
		uint32_t ev = 0;
		if (s->out_len < DBG_BUF)
			ev |= EPOLLIN;
		if (s->in_len)
			ev |= EPOLLOUT;
		/* A hung-up master reports EPOLLHUP whatever it is asked for: edge
		 * triggered while nothing is wanted, so a full buffer cannot spin. */
		loop_mod(s->a, &s->pty, ev ? ev : EPOLLET);
	}
}

/* ---- the end of a session ---- */

static void describe_status(int st, char *buf, size_t cap)
{
	if (WIFSIGNALED(st)) {
		const char *name = signal_name(WTERMSIG(st));
		if (name)
			snprintf(buf, cap, "killed by SIG%s", name);
		else
			snprintf(buf, cap, "killed by signal %d", WTERMSIG(st));
	} else
		snprintf(buf, cap, "exited %d", WEXITSTATUS(st));
}

static void unlink_session(struct session *s)
{
	struct debug_server *d = server(s->a);

	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->n_sessions--;
}

static void session_end(struct session *s)
{
	struct agent *a = s->a;
	uint64_t ms = (now_ns() - s->t_start) / 1000000u;
	char shell[48];

	if (s->running)
		snprintf(shell, sizeof(shell), "pid %d still running", s->pid);
	else if (s->pid)
		describe_status(s->wstatus, shell, sizeof(shell));
	else
		snprintf(shell, sizeof(shell), "never started");
	log_msg(a, LL_INFO,
		"debug: session %llu from %s ended after %llu.%03llu s (%s): shell %s; "
		"%llu bytes in, %llu out",
		(unsigned long long)s->id, s->peer, (unsigned long long)(ms / 1000),
		(unsigned long long)(ms % 1000), s->why ? s->why : "?", shell,
		(unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
	timer_cancel(a, &s->io);
	timer_cancel(a, &s->grace);
	if (s->sock.fd >= 0)
		loop_release(a, &s->sock);
	if (s->pty.fd >= 0)
		loop_release(a, &s->pty);
	unlink_session(s);
	session_unref(s);
}

static void on_io_timer(struct agent *a, struct timer *t);

/* Closes the connection once the shell is gone and its last output went
 * out (or the client took too long for it); ends the session once the
 * hang-up is over too. Returns true when the session is gone. */
static bool session_maybe_end(struct session *s)
{
	/* Also when it never started. */
	bool shell_done = s->phase == PH_RUNNING && !s->running;

	if (s->sock.fd >= 0 && shell_done && !s->out_len && (s->settled || s->pty.fd < 0))
		client_gone(s, "shell exited");
	if (s->sock.fd >= 0 || (s->phase == PH_RUNNING && s->running) || s->grace.armed)
		return false;
	session_end(s);
	return true;
}

static void session_step(struct session *s)
{
	if (s->sock.fd >= 0)
		send_client(s);
	if (s->phase == PH_PREAMBLE && (s->sock.fd < 0 || (s->client_eof && !s->in_len))) {
		set_why(s, "client left before the shell started");
		s->phase = PH_RUNNING; /* with no shell: nothing more to wait for */
	}
	if (s->phase == PH_RUNNING) {
		write_terminal(s);
		if (s->running && (s->sock.fd < 0 || s->client_eof))
			hang_up(s);
	}
	if (session_maybe_end(s))
		return;
	update_interest(s);
}

static void on_io_timer(struct agent *a, struct timer *t)
{
	struct session *s = container_of(t, struct session, io);

	if (s->phase == PH_PREAMBLE) {
		take_preamble(s, true);
	} else if (!s->settled) {
		s->settled = true;
		timer_arm(a, &s->io, FLUSH_MS);
	} else if (s->sock.fd >= 0) {
		log_msg(a, LL_INFO, "debug: session %llu: client did not read the last %zu bytes",
			(unsigned long long)s->id, s->out_len);
		client_gone(s, "shell exited");
	}
	session_step(s);
}

static void on_sock(struct agent *a, struct watch *w, uint32_t events)
{
	struct session *s = container_of(w, struct session, sock);

	(void)a;
	if (events & EPOLLERR) {
		client_gone(s, "client connection failed");
	} else if (events & EPOLLHUP && !(events & EPOLLIN)) {
		client_gone(s, "client hung up");
	} else {
		if (events & (EPOLLIN | EPOLLHUP))
			read_client(s);
		if (events & EPOLLHUP && s->sock.fd >= 0 && !s->client_eof)
			client_gone(s, "client hung up");
	}
	if (s->phase == PH_PREAMBLE && s->sock.fd >= 0)
		take_preamble(s, false);
	session_step(s);
}

static void on_pty(struct agent *a, struct watch *w, uint32_t events)
{
	struct session *s = container_of(w, struct session, pty);

	(void)a;
	if (events & EPOLLHUP)
		s->in_len = 0; /* no one has the terminal open to read it */
	if (events & EPOLLOUT)
		write_terminal(s);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_terminal(s);
	session_step(s);
}

bool debug_on_reaped(struct agent *a, int pid, int wstatus)
{
	struct debug_server *d = server(a);

	if (!d)
		return false;
	for (struct session *s = d->sessions; s; s = s->next) {
		if (s->pid != pid || !s->running)
			continue;
		s->running = false;
		s->wstatus = wstatus;
		set_why(s, "shell exited");
		/* Jobs the shell left behind get the hang-up the terminal would
		 * give them; its last output gets a moment to arrive. */
		hang_up(s);
		s->io.on_fire = on_io_timer;
		timer_arm(a, &s->io, SETTLE_MS);
		if (s->pty.fd >= 0)
			read_terminal(s);
		session_step(s);
		return true;
	}
	return false;
}

/* ---- accepting ---- */

static void refuse_text(struct agent *a, int fd, const char *text)
{
	refuse_line(a, fd, text, strlen(text));
}

static void on_accepted(struct agent *a, struct listener *l, int fd,
			const struct sockaddr_storage *ss)
{
	struct debug_server *d = server(a);
	char peer[64], msg[160];
	struct session *s;

	if (!peer_allowed(a, l, fd, ss, peer, sizeof(peer))) {
		log_msg(a, LL_WARN, "debug: refused %s (not an allowed peer)", peer);
		snprintf(msg, sizeof(msg), "taskinit: peer %s is not allowed\r\n", peer);
		refuse_text(a, fd, msg);
		return;
	}
	if (a->sd_phase != SD_NONE) {
		refuse_text(a, fd, "taskinit: shutting down\r\n");
		return;
	}
	if (d->n_sessions >= a->cfg.debug_max) {
		log_msg(a, LL_WARN, "debug: refused %s: %u sessions open (task.debug_max)", peer,
			d->n_sessions);
		snprintf(msg, sizeof(msg), "taskinit: too many debug sessions (limit %u)\r\n",
			 a->cfg.debug_max);
		refuse_text(a, fd, msg);
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		refuse_text(a, fd, "taskinit: out of memory\r\n");
		return;
	}
	s->a = a;
	s->id = ++d->next_id;
	s->t_start = now_ns();
	s->pty.fd = -1;
	s->sock.fd = fd;
	s->sock.on_event = on_sock;
	s->sock.release = release_sock;
	s->io.on_fire = on_io_timer;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	if (loop_add(a, &s->sock, EPOLLIN) < 0) {
		free(s);
		refuse_text(a, fd, "taskinit: internal error (epoll)\r\n");
		return;
	}
	s->refs = 2; /* the list and the socket's watch */
	s->next = d->sessions;
	if (s->next)
		s->next->prev = s;
	d->sessions = s;
	d->n_sessions++;
	log_msg(a, LL_INFO, "debug: session %llu from %s (%u open)", (unsigned long long)s->id,
		peer, d->n_sessions);
	timer_arm(a, &s->io, PREAMBLE_WAIT_MS);
}

void debug_start(struct agent *a)
{
	struct debug_server *d;

	if (!a->cfg.debug) {
		if (a->cfg.debug_unix[0])
			log_msg(a, LL_INFO, "debug: task.debug_unix ignored without task.debug");
		return;
	}
	if (!a->cfg.debug_port && !a->cfg.debug_unix[0])
		return;
	if (!(d = calloc(1, sizeof(*d))))
		agent_fatal(a, "out of memory");
	a->debug = d;
	d->vsock.w.fd = d->unix_.w.fd = -1;
	d->vsock.what = d->unix_.what = "debug";
	d->vsock.accepted = d->unix_.accepted = on_accepted;
	if (a->cfg.debug_port)
		listener_open_vsock(a, &d->vsock, a->cfg.debug_port);
	if (a->cfg.debug_unix[0])
		listener_open_unix(a, &d->unix_, a->cfg.debug_unix);
	log_msg(a, LL_WARN, "debug: task.debug is set: a root shell for allowed peers");
}

void debug_stop(struct agent *a)
{
	struct debug_server *d = server(a);

	if (!d || d->stopped)
		return;
	d->stopped = true;
	listener_close(a, &d->vsock);
	listener_close(a, &d->unix_);
	if (a->cfg.debug_unix[0])
		unlink(a->cfg.debug_unix);
	for (struct session *s = d->sessions, *next; s; s = next) {
		next = s->next;
		set_why(s, "shutdown");
		queue_out(s, "\r\ntaskinit: shutting down\r\n");
		if (s->running)
			hang_up(s);
		session_step(s);
	}
}

void debug_close_all(struct agent *a)
{
	struct debug_server *d = server(a);

	if (!d)
		return;
	debug_stop(a);
	while (d->sessions) {
		struct session *s = d->sessions;
		send_client(s);
		set_why(s, "shutdown");
		session_end(s);
	}
}
