/* SPDX-License-Identifier: ISC */
/* The unit tests (Check); CK_FORK=yes runs each test in its own process. */
#include <stdlib.h>

#include "unit.h"

Suite *
unit_suite(const char *name, const TTest *const *tests)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create("core");

	while (*tests != NULL)
		tcase_add_test(tc, *tests++);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite_dtype());
	int failed;

	srunner_add_suite(sr, suite_crc32c());
	srunner_add_suite(sr, suite_safetensors());
	srunner_add_suite(sr, suite_tstream());
	srunner_add_suite(sr, suite_ternary());
	srunner_add_suite(sr, suite_selection());
	srunner_add_suite(sr, suite_config());
	srunner_add_suite(sr, suite_pbwire());
	srunner_add_suite(sr, suite_compact());
	srunner_add_suite(sr, suite_plan());
	srunner_add_suite(sr, suite_ggml());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
