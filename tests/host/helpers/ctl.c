/* A minimal control client for tests where no other exists (the guest
 * image has busybox only): sends its argument as one request line over a
 * Unix socket or AF_VSOCK, then prints everything the agent sends until it
 * closes.
 *   ctl /run/ctl.sock 'run --name x -- /bin/true'
 *   ctl vsock:1:1024 ping
 *   ctl vsock:1:1024 -     (sends nothing: only reads, e.g. a refusal)
 * A request is one argument, so a shell quotes it once. Exit: 0, or 1 when
 * it cannot connect. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	ssize_t n;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: ctl SOCKET REQUEST\n");
		return 2;
	}
	unsigned cid, port;
	if (sscanf(argv[1], "vsock:%u:%u", &cid, &port) == 2) {
		struct sockaddr_vm vm = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&vm, sizeof(vm)) < 0) {
			perror("ctl: connect");
			return 1;
		}
	} else {
		strcpy(sa.sun_path, argv[1]);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
	}
	if (fd < 0 || (sa.sun_path[0] && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
		perror("ctl: connect");
		return 1;
	}
	if (strcmp(argv[2], "-") != 0 &&
	    (write(fd, argv[2], strlen(argv[2])) < 0 || write(fd, "\n", 1) < 0))
		return 1;
	shutdown(fd, SHUT_WR); /* one request: the agent answers, then closes */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return 0;
}
