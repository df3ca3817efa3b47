/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include "cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
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
