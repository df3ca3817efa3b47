/* SPDX-License-Identifier: ISC */
/* Fuzz config.json parsing. */
#include "bitnet_config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tstream__ModelConfig *c = NULL;
	struct diag d = { 0 };

	if (bitnet_config_parse((const char *)data, size, "config.json", &c,
	    &d) == 0)
		bitnet_config_free(c);
	return 0;
}
