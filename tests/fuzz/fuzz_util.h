/* SPDX-License-Identifier: ISC */
/*
 * fuzz_util.h - helpers of the fuzz targets: the input as a file that the
 * readers can open by path (a memfd, seen through /proc/self/fd).
 */
#ifndef BN_FUZZ_UTIL_H
#define BN_FUZZ_UTIL_H

/* built with -D_GNU_SOURCE, for memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Write data to a new memfd; its path goes into path.  Returns the fd. */
static inline int
fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz", 0);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
