/* SPDX-License-Identifier: ISC */
/*
 * outfile.h - a file a tool was asked to write, written the way a careful
 * user would by hand:
 *
 *  - a regular file, or a name that does not exist yet, is written under a
 *    temporary name beside it (PATH.tmp-XXXXXX) and renamed over PATH once
 *    it is whole and on disk (fsync of the file before the rename, of the
 *    folder after it): a failure, a signal or a power cut leaves the old
 *    file or the new one, never a short one under the final name;
 *  - a new file gets the mode the umask allows (0666 & ~umask); a replaced
 *    one keeps its permission bits (and its owner, where that is allowed);
 *  - a symbolic link is followed: the file it names is replaced and the
 *    link stays; a link to nothing is refused;
 *  - a character device or a FIFO is written through in place, without a
 *    rename, where the caller allows it (a model to /dev/null, or into a
 *    pipe); otherwise, and for a directory, socket or block device, PATH
 *    is refused and left alone.
 */
#ifndef BN_OUTFILE_H
#define BN_OUTFILE_H

#include <stdio.h>
#include <sys/types.h>

#include "cleanup.h"
#include "diag.h"

enum outfile_kind {
	OUTFILE_NEW,		/* no file of that name yet */
	OUTFILE_REPLACE,	/* a regular file, replaced by rename */
	OUTFILE_THROUGH		/* a character device or FIFO, written in */
};

struct outfile {
	char *final;		/* the path written, a link resolved */
	char *tmp;		/* the temporary; NULL when written through */
	int fd;
	FILE *fp;		/* from outfile_stdio, or NULL */
	enum outfile_kind kind;
	mode_t mode;		/* of the file replaced */
	uid_t uid;
	gid_t gid;
	struct cleanup *cleanup;	/* temporaries go in here; may be NULL */
};

/* Decide how path is written (see above), creating nothing; through_ok
 * allows writing through a character device or FIFO. */
int outfile_target(struct outfile *f, const char *path, int through_ok,
    struct cleanup *c, struct diag *d);

/* Create the temporary (or open the device or FIFO) for writing. */
int outfile_create(struct outfile *f, struct diag *d);

/* A stdio stream on the file, with a buffer of bufsize bytes. */
FILE *outfile_stdio(struct outfile *f, size_t bufsize, struct diag *d);

/* Flush and close the file, fsync'd first unless written through. */
int outfile_close_synced(struct outfile *f, struct diag *d);

/* outfile_close_synced (unless done), rename the file to its final name
 * and fsync the folder; if that fsync fails, the file is removed again.
 * Nothing is left to discard afterwards. */
int outfile_commit(struct outfile *f, struct diag *d);

/* Close and remove the temporary (if any) and free f. */
void outfile_discard(struct outfile *f);

/* fsync the folder that holds path. */
int outfile_sync_dir(const char *path, struct diag *d);

/* Write buf to path as above (not through a device or FIFO). */
int outfile_write_all(const char *path, const void *buf, size_t n,
    struct cleanup *c, struct diag *d);

#endif
