/* SPDX-License-Identifier: ISC */
/* unit.h - the suites of the unit test binary. */
#ifndef BN_UNIT_H
#define BN_UNIT_H

#include <check.h>

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
