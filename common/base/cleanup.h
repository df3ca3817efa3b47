/* SPDX-License-Identifier: ISC */
/*
 * cleanup.h - the temporary files and folders a tool has made and must
 * remove if it fails or a signal (SIGINT, SIGTERM, SIGHUP) ends it.
 *
 * A tool keeps one struct cleanup in its main and hands a pointer to the
 * code that writes files; its signal handler calls cleanup_run, then
 * cleanup_die.  Entries are added with the signals blocked, so that a
 * handler never sees half a path, and removed in the reverse order of
 * their adding (the files of a folder before the folder).
 */
#ifndef BN_CLEANUP_H
#define BN_CLEANUP_H

#include <limits.h>
#include <signal.h>

#define CLEANUP_MAX	80

struct cleanup {
	char path[CLEANUP_MAX][PATH_MAX];
	unsigned char is_dir[CLEANUP_MAX];
	volatile sig_atomic_t used[CLEANUP_MAX];
};

/* Block (and restore) the signals that run the cleanup. */
void cleanup_block(sigset_t *old);
void cleanup_unblock(const sigset_t *old);

/* Remember path (a folder when is_dir) for removal; call with the signals
 * blocked, right after creating it.  -1 when the table is full.  c may be
 * NULL (nothing is remembered). */
int cleanup_add(struct cleanup *c, const char *path, int is_dir);

/* Forget path: it is no longer ours to remove. */
void cleanup_forget(struct cleanup *c, const char *path);

/* Remove everything remembered (async-signal-safe) and forget it. */
void cleanup_run(struct cleanup *c);

/* Run handler on SIGINT, SIGTERM and SIGHUP (unless they are ignored,
 * as under nohup). */
void cleanup_on_signals(void (*handler)(int));

/* End the process by sig, as if it had not been caught. */
_Noreturn void cleanup_die(int sig);

#endif
