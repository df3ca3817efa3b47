/* SPDX-License-Identifier: ISC */
/*
 * npy.h - write one array as a NumPy .npy file (format version 1.0), so
 * that a stream's tensors can be looked at with numpy.
 */
#ifndef BN_NPY_H
#define BN_NPY_H

#include <stdint.h>
#include <stdio.h>

#include "diag.h"

/* Write the .npy header for an array of descr ("<f4", "|u1", ...) and
 * shape; the caller writes the row-major data after it. */
int npy_write_header(FILE *fp, const char *path, const char *descr,
    const uint64_t *shape, size_t rank, struct diag *d);

#endif
