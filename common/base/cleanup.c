/* SPDX-License-Identifier: ISC */
#include "cleanup.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
#define N_CAUGHT (sizeof caught / sizeof caught[0])

void
cleanup_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaddset(&set, caught[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

void
cleanup_unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

int
cleanup_add(struct cleanup *c, const char *path, int is_dir)
{
	size_t len = strlen(path);

	if (c == NULL)
		return 0;
	if (len >= PATH_MAX)
		return -1;
	for (size_t i = 0; i < CLEANUP_MAX; i++) {
		if (c->used[i])
			continue;
		memcpy(c->path[i], path, len + 1);
		c->is_dir[i] = (unsigned char)(is_dir != 0);
		/* the path is whole before a handler can see the slot used */
		atomic_signal_fence(memory_order_seq_cst);
		c->used[i] = 1;
		return 0;
	}
	return -1;
}

void
cleanup_forget(struct cleanup *c, const char *path)
{
	if (c == NULL)
		return;
	for (size_t i = CLEANUP_MAX; i-- > 0;)
		if (c->used[i] && strcmp(c->path[i], path) == 0) {
			c->used[i] = 0;
			return;
		}
}

/* Files first, then folders, the longest path first (a folder after
 * everything in it). */
void
cleanup_run(struct cleanup *c)
{
	size_t best, len;

	if (c == NULL)
		return;
	for (size_t i = 0; i < CLEANUP_MAX; i++)
		if (c->used[i] && !c->is_dir[i]) {
			unlink(c->path[i]);
			c->used[i] = 0;
		}
	for (;;) {
		best = CLEANUP_MAX;
		len = 0;
		for (size_t i = 0; i < CLEANUP_MAX; i++)
			if (c->used[i] && strlen(c->path[i]) >= len) {
				len = strlen(c->path[i]);
				best = i;
			}
		if (best == CLEANUP_MAX)
			return;
		rmdir(c->path[best]);
		c->used[best] = 0;
	}
}

void
cleanup_on_signals(void (*handler)(int))
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaddset(&sa.sa_mask, caught[i]);
	for (size_t i = 0; i < N_CAUGHT; i++) {
		if (sigaction(caught[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(caught[i], &sa, NULL);
	}
}

_Noreturn void
cleanup_die(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}
