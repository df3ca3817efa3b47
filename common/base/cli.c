/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include "cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tstream.h"
#include "version.h"

/* A pipe of 1 MiB (the usual limit for users) instead of 64 KiB: fewer
 * switches between the filters.  Best effort. */
static void
widen_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, (int)TSTREAM_CHUNK);
}

int
cli_parse_bytes(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const char units[] = "kMG";
	const char *u;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0') {
		if ((u = strchr(units, *s)) == NULL || s[1] != '\0')
			return -1;
		for (long i = 0; i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return -1;
			v *= 1024;
		}
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

FILE *
cli_open_input(const char *path, const char **name, struct diag *d)
{
	FILE *fp;

	if (path == NULL || (path[0] == '-' && path[1] == '\0')) {
		*name = "<stdin>";
		widen_pipe(STDIN_FILENO);
		return stdin;
	}
	*name = path;
	if ((fp = fopen(path, "rb")) == NULL)
		diag_errno(d, "%s", path);
	return fp;
}

int
cli_refuse_tty_stdout(const char *what, struct diag *d)
{
	if (isatty(STDOUT_FILENO))
		return diag_fail(d, BN_EXIT_USAGE,
		    "refusing to write %s to a terminal; redirect or pipe "
		    "standard output", what);
	return 0;
}

void
cli_print_version(const char *prog)
{
	printf("%s (bitnet-onnx) %s\n", prog, BN_VERSION);
}

void
cli_init(void)
{
	signal(SIGXFSZ, SIG_IGN);
}

void
cli_stream_stdout(void)
{
	setvbuf(stdout, NULL, _IOFBF, TSTREAM_CHUNK);
	widen_pipe(STDOUT_FILENO);
}
