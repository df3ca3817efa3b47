/* SPDX-License-Identifier: ISC */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#define REDRAW_NS 200000000L	/* five times a second at most */

static double
seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
draw(struct progress *p, const struct timespec *now, int final)
{
	double secs = seconds_between(&p->start, now);
	double rate = secs > 0 ? (double)p->done_bytes / secs : 0;
	double left = rate > 0 ? (double)(p->total_bytes - p->done_bytes) /
	    rate : 0;

	fprintf(stderr, "\r%s: %.2f/%.2f GB, %llu/%llu tensors, %.0f MB/s, ",
	    p->what, (double)p->done_bytes / 1e9, (double)p->total_bytes / 1e9,
	    (unsigned long long)p->done_tensors,
	    (unsigned long long)p->total_tensors, rate / 1e6);
	if (final)
		fprintf(stderr, "%.1f s\033[K\n", secs);
	else
		fprintf(stderr, "ETA %d:%02d\033[K", (int)left / 60,
		    (int)left % 60);
	fflush(stderr);
	p->last = *now;
}

void
progress_init(struct progress *p, int enabled, const char *what,
    uint64_t total_bytes, uint64_t total_tensors)
{
	p->enabled = enabled;
	p->what = what;
	p->total_bytes = total_bytes;
	p->total_tensors = total_tensors;
	p->done_bytes = p->done_tensors = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

static void
maybe_draw(struct progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (seconds_between(&p->last, &now) * 1e9 >= REDRAW_NS)
		draw(p, &now, 0);
}

void
progress_bytes(struct progress *p, uint64_t n)
{
	if (p == NULL || !p->enabled)
		return;
	p->done_bytes += n;
	maybe_draw(p);
}

void
progress_tensor(struct progress *p)
{
	if (p == NULL || !p->enabled)
		return;
	p->done_tensors++;
	maybe_draw(p);
}

void
progress_done(struct progress *p)
{
	struct timespec now;

	if (p == NULL || !p->enabled)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	draw(p, &now, 1);
}

int
progress_wanted(int progress_flag, int quiet_flag)
{
	if (quiet_flag)
		return 0;
	return progress_flag || isatty(STDERR_FILENO);
}
