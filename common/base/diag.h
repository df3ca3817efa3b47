/* SPDX-License-Identifier: ISC */
/*
 * diag.h - error reports carried from library code up to a tool's main.
 *
 * Library functions never print or exit: they fill a struct diag and
 * return -1.  The front end prints the one line with diag_exit().
 */
#ifndef BN_DIAG_H
#define BN_DIAG_H

/* Exit statuses shared by every tool (see the EXIT STATUS of the pages). */
enum bn_exit {
	BN_EXIT_OK = 0,
	BN_EXIT_INPUT = 1,	/* the input is malformed or unsupported */
	BN_EXIT_USAGE = 2,	/* bad command line */
	BN_EXIT_IO = 3		/* a read or write failed, out of memory */
};

struct diag {
	int code;
	char msg[8192];	/* room for a PATH_MAX path and the reason */
};

/* Record a message with exit code; returns -1 for "return diag_fail(...)". */
int diag_fail(struct diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As diag_fail with BN_EXIT_IO, appending ": strerror(errno)". */
int diag_errno(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix an existing message with "what: " (adds context on the way up). */
int diag_prefix(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "prog: msg" on stderr and exit with d->code. */
_Noreturn void diag_exit(const struct diag *d);

#endif
