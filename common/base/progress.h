/* SPDX-License-Identifier: ISC */
/*
 * progress.h - one line of progress on standard error, redrawn in place:
 * bytes and tensors done of the total, rate and time left.  Quiet unless
 * enabled (the tools enable it when standard error is a terminal, or on
 * --progress).
 */
#ifndef BN_PROGRESS_H
#define BN_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct progress {
	int enabled;
	const char *what;
	uint64_t total_bytes, done_bytes;
	uint64_t total_tensors, done_tensors;
	struct timespec start, last;
};

void progress_init(struct progress *p, int enabled, const char *what,
    uint64_t total_bytes, uint64_t total_tensors);
void progress_bytes(struct progress *p, uint64_t n);
void progress_tensor(struct progress *p);
/* The last line, ended with a newline. */
void progress_done(struct progress *p);

/* --progress / --quiet / neither: whether to show progress. */
int progress_wanted(int progress_flag, int quiet_flag);

#endif
