/* SPDX-License-Identifier: ISC */
#include "diag.h"

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
diag_fail(struct diag *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
	d->code = code;
	return -1;
}

int
diag_errno(struct diag *d, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
	len = strlen(d->msg);
	snprintf(d->msg + len, sizeof d->msg - len, ": %s", strerror(saved));
	d->code = BN_EXIT_IO;
	return -1;
}

int
diag_prefix(struct diag *d, const char *fmt, ...)
{
	char head[4608], joined[sizeof head + sizeof d->msg + 2];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof joined, "%s: %s", head, d->msg);
	n = strlen(joined);
	if (n >= sizeof d->msg)
		n = sizeof d->msg - 1;
	memcpy(d->msg, joined, n);
	d->msg[n] = '\0';
	return -1;
}

void
diag_exit(const struct diag *d)
{
	errx(d->code ? d->code : BN_EXIT_INPUT, "%s", d->msg);
}
