/* SPDX-License-Identifier: ISC */
/*
 * cli.h - what every front end does the same way: the input stream, the
 * refusal to write binary data to a terminal, --version.
 */
#ifndef BN_CLI_H
#define BN_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "diag.h"

/* Open path for reading, "-" or NULL meaning standard input; *name is
 * set to what messages call it. */
FILE *cli_open_input(const char *path, const char **name, struct diag *d);

/* Fail when standard output is a terminal (binary data would be lost). */
int cli_refuse_tty_stdout(const char *what, struct diag *d);

/* Print "prog (bitnet-onnx) VERSION" on stdout. */
void cli_print_version(const char *prog);

/* Signals: a write past the file size limit (SIGXFSZ) fails with EFBIG
 * and is reported like any write error instead of killing the tool. */
void cli_init(void);

/* A byte count: digits, optionally followed by k, M or G (2^10, 2^20,
 * 2^30); -1 unless it is one in [min, max]. */
int cli_parse_bytes(const char *s, uint64_t min, uint64_t max,
    uint64_t *out);

/* Give stdout a large buffer for streaming payloads. */
void cli_stream_stdout(void);

#endif
