/* A main task that reports the state it was started in: the signal mask,
 * ignored signals and open fds, one "KEY: value" line each. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
			fputs(line, stdout);
	fclose(f);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	printf("FDS:");
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			printf(" %s", e->d_name);
	printf("\n");
	closedir(d);
	return 0;
}
