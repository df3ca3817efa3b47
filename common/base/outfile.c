/* SPDX-License-Identifier: ISC */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define TMP_TRIES	64

static const char *
kind_name(mode_t m)
{
	if (S_ISDIR(m)) return "a directory";
	if (S_ISSOCK(m)) return "a socket";
	if (S_ISBLK(m)) return "a block device";
	if (S_ISCHR(m)) return "a character device";
	if (S_ISFIFO(m)) return "a FIFO";
	return "not a regular file";
}

/* path, or the file a symbolic link at path names, in *final. */
static int
resolve(const char *path, struct stat *st, int *exists, char **final,
    struct diag *d)
{
	char buf[PATH_MAX];

	*exists = 1;
	if (lstat(path, st) == -1) {
		if (errno != ENOENT)
			return diag_errno(d, "%s", path);
		*exists = 0;
		*final = strdup(path);
	} else if (S_ISLNK(st->st_mode)) {
		if (stat(path, st) == -1)
			return diag_fail(d, BN_EXIT_USAGE, "%s: a symbolic "
			    "link to nothing (%s); name the file itself",
			    path, strerror(errno));
		/* a pipe or socket has no path to resolve to (/dev/stdout
		 * into a pipe: /proc/self/fd/1, "pipe:[N]"); the link opens
		 * it, and it is only ever written through */
		if (realpath(path, buf) == NULL && (S_ISREG(st->st_mode) ||
		    S_ISDIR(st->st_mode)))
			return diag_errno(d, "%s", path);
		*final = strdup(realpath(path, buf) != NULL ? buf : path);
	} else {
		*final = strdup(path);
	}
	if (*final == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

int
outfile_target(struct outfile *f, const char *path, int through_ok,
    struct cleanup *c, struct diag *d)
{
	struct stat st;
	int exists;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->cleanup = c;
	if (resolve(path, &st, &exists, &f->final, d) == -1)
		return -1;
	if (!exists) {
		f->kind = OUTFILE_NEW;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		f->kind = OUTFILE_REPLACE;
		f->mode = st.st_mode & 07777;
		f->uid = st.st_uid;
		f->gid = st.st_gid;
		return 0;
	}
	if (through_ok && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
		f->kind = OUTFILE_THROUGH;
		return 0;
	}
	return diag_fail(d, BN_EXIT_USAGE, "%s: %s; refusing to replace it "
	    "with a regular file", path, kind_name(st.st_mode));
}

/* Open a new temporary beside f->final, with the signals blocked until
 * it is in the cleanup table. */
static int
create_temp(struct outfile *f, mode_t mode, struct diag *d)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^
	    (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)f;
	size_t len = strlen(f->final);
	sigset_t old;

	if ((f->tmp = malloc(len + 12)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (int tries = 0; tries < TMP_TRIES; tries++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		memcpy(f->tmp, f->final, len);
		memcpy(f->tmp + len, ".tmp-", 5);
		for (int i = 0; i < 6; i++)
			f->tmp[len + 5 + i] = digits[(seed >> (8 + 6 * i)) %
			    (sizeof digits - 1)];
		f->tmp[len + 11] = '\0';
		cleanup_block(&old);
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    mode);
		if (f->fd >= 0 && cleanup_add(f->cleanup, f->tmp, 0) == -1) {
			close(f->fd);
			unlink(f->tmp);
			f->fd = -1;
			errno = EMFILE;
		}
		cleanup_unblock(&old);
		if (f->fd >= 0 || errno != EEXIST)
			break;
	}
	if (f->fd == -1) {
		diag_errno(d, "%s", f->final);
		free(f->tmp);
		f->tmp = NULL;
		return -1;
	}
	return 0;
}

int
outfile_create(struct outfile *f, struct diag *d)
{
	if (f->kind == OUTFILE_THROUGH) {
		if ((f->fd = open(f->final, O_WRONLY | O_CLOEXEC)) == -1)
			return diag_errno(d, "%s", f->final);
		return 0;
	}
	if (create_temp(f, f->kind == OUTFILE_NEW ? 0666 : 0600, d) == -1)
		return -1;
	if (f->kind == OUTFILE_REPLACE) {
		/* the owner first: fchown may clear set-id bits */
		if (fchown(f->fd, f->uid, f->gid) == -1)
			f->mode &= 0777;
		if (fchmod(f->fd, f->mode) == -1)
			return diag_errno(d, "%s", f->tmp);
	}
	return 0;
}

FILE *
outfile_stdio(struct outfile *f, size_t bufsize, struct diag *d)
{
	if ((f->fp = fdopen(f->fd, "wb")) == NULL) {
		diag_errno(d, "%s", f->tmp ? f->tmp : f->final);
		return NULL;
	}
	setvbuf(f->fp, NULL, _IOFBF, bufsize);
	return f->fp;
}

int
outfile_sync_dir(const char *path, struct diag *d)
{
	char dir[PATH_MAX];
	int fd, rc = 0;

	io_dirname(path, dir, sizeof dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return diag_errno(d, "%s", dir);
	if (fsync(fd) == -1 && errno != EINVAL)
		rc = diag_errno(d, "%s: fsync", dir);
	close(fd);
	return rc;
}

int
outfile_close_synced(struct outfile *f, struct diag *d)
{
	const char *name = f->final;
	int rc = 0;

	if (f->fp != NULL && fflush(f->fp) == EOF)
		rc = diag_errno(d, "%s: write", name);
	if (rc == 0 && f->kind != OUTFILE_THROUGH && fsync(f->fd) == -1)
		rc = diag_errno(d, "%s: fsync", name);
	if (f->fp != NULL) {
		if (fclose(f->fp) == EOF && rc == 0)
			rc = diag_errno(d, "%s: write", name);
	} else if (close(f->fd) == -1 && rc == 0) {
		rc = diag_errno(d, "%s", name);
	}
	f->fp = NULL;
	f->fd = -1;
	return rc;
}

int
outfile_commit(struct outfile *f, struct diag *d)
{
	sigset_t old;
	int rc;

	if (f->fd >= 0 && outfile_close_synced(f, d) == -1)
		return -1;
	if (f->tmp == NULL)
		return 0;
	cleanup_block(&old);
	rc = rename(f->tmp, f->final);
	if (rc == 0)
		cleanup_forget(f->cleanup, f->tmp);
	cleanup_unblock(&old);
	if (rc == -1)
		return diag_errno(d, "%s", f->final);
	free(f->tmp);
	f->tmp = NULL;
	/* a file whose name may not survive a crash is no file to keep */
	if (outfile_sync_dir(f->final, d) == -1) {
		unlink(f->final);
		return -1;
	}
	return 0;
}

void
outfile_discard(struct outfile *f)
{
	if (f->fp != NULL)
		fclose(f->fp);
	else if (f->fd >= 0)
		close(f->fd);
	if (f->tmp != NULL) {
		unlink(f->tmp);
		cleanup_forget(f->cleanup, f->tmp);
	}
	free(f->tmp);
	free(f->final);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}

int
outfile_write_all(const char *path, const void *buf, size_t n,
    struct cleanup *c, struct diag *d)
{
	struct outfile f;
	const char *p = buf;
	int rc;

	rc = outfile_target(&f, path, 0, c, d);
	if (rc == 0)
		rc = outfile_create(&f, d);
	while (rc == 0 && n > 0) {
		ssize_t w = write(f.fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			rc = diag_errno(d, "%s: write", f.tmp);
		else {
			p += w;
			n -= (size_t)w;
		}
	}
	if (rc == 0)
		rc = outfile_commit(&f, d);
	outfile_discard(&f);
	return rc;
}
