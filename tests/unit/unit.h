/* SPDX-License-Identifier: ISC */
/* unit.h - the suites of the unit test binary. */
#ifndef BN_UNIT_H
#define BN_UNIT_H

#include <check.h>

/* A suite of one case holding the tests of the NULL-ended list. */
Suite *unit_suite(const char *name, const TTest *const *tests);
#define UNIT_SUITE(name, ...) \
	unit_suite((name), (const TTest *const[]){ __VA_ARGS__, NULL })

Suite *suite_dtype(void);
Suite *suite_crc32c(void);
Suite *suite_safetensors(void);
Suite *suite_tstream(void);
Suite *suite_ternary(void);
Suite *suite_selection(void);
Suite *suite_config(void);
Suite *suite_pbwire(void);
Suite *suite_compact(void);
Suite *suite_plan(void);
Suite *suite_ggml(void);

#endif
