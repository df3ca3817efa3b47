/* SPDX-License-Identifier: ISC */
#include "npy.h"

#include <inttypes.h>
#include <string.h>

#include "io.h"

int
npy_write_header(FILE *fp, const char *path, const char *descr,
    const uint64_t *shape, size_t rank, struct diag *d)
{
	char dict[1024], head[10];
	size_t len = 0, total;

	len += (size_t)snprintf(dict, sizeof dict,
	    "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (size_t i = 0; i < rank && len < sizeof dict; i++)
		len += (size_t)snprintf(dict + len, sizeof dict - len,
		    "%" PRIu64 "%s", shape[i], rank == 1 ? "," :
		    i + 1 < rank ? ", " : "");
	if (len < sizeof dict)
		len += (size_t)snprintf(dict + len, sizeof dict - len, "), }");
	if (len + 64 >= sizeof dict)
		return diag_fail(d, BN_EXIT_INPUT, "%s: shape too long", path);
	/* pad with spaces so that the data starts at a multiple of 64 */
	total = (10 + len + 1 + 63) / 64 * 64;
	memset(dict + len, ' ', total - 10 - len - 1);
	dict[total - 10 - 1] = '\n';
	memcpy(head, "\x93NUMPY\x01\x00", 8);
	head[8] = (char)((total - 10) & 0xff);
	head[9] = (char)((total - 10) >> 8);
	if (io_write_full(fp, head, sizeof head, path, d) == -1)
		return -1;
	return io_write_full(fp, dict, total - 10, path, d);
}
