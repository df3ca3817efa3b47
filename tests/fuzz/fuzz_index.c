/* SPDX-License-Identifier: ISC */
/* Fuzz a model folder's index: the input is model.safetensors.index.json
 * beside a valid config.json and one small shard; the whole model is
 * opened, planned and every tensor written to a stream on /dev/null. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "hf_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config[] = "{\"model_type\": \"bitnet\", "
    "\"hidden_size\": 8, \"num_hidden_layers\": 1, "
    "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
    "\"intermediate_size\": 8, \"vocab_size\": 4, "
    "\"quantization_config\": {\"quant_method\": \"bitnet\", "
    "\"linear_class\": \"autobitlinear\"}}";

/* a shard with a packed projection, its scale, and a norm */
static const char shard_header[] = "{"
    "\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"U8\","
    "\"shape\":[2,8],\"data_offsets\":[0,16]},"
    "\"model.layers.0.mlp.up_proj.weight_scale\":{\"dtype\":\"BF16\","
    "\"shape\":[1],\"data_offsets\":[16,18]},"
    "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[8],"
    "\"data_offsets\":[18,34]}}";

static int
write_file(const char *path, const void *a, size_t na, const void *b,
    size_t nb)
{
	FILE *fp = fopen(path, "wb");
	int rc;

	if (fp == NULL)
		return -1;
	rc = (fwrite(a, 1, na, fp) == na && fwrite(b, 1, nb, fp) == nb) ? 0 :
	    -1;
	return fclose(fp) == 0 ? rc : -1;
}

static void
write_shard(const char *dir)
{
	unsigned char data[34], len[8] = { 0 };
	size_t hl = strlen(shard_header);
	char path[256], *blob = malloc(8 + hl);

	memset(data, 0x55, sizeof data);	/* codes 1: zeros */
	data[16] = 0x80;
	data[17] = 0x3f;			/* bf16 1.0 */
	len[0] = (unsigned char)hl;
	memcpy(blob, len, 8);
	memcpy(blob + 8, shard_header, hl);
	snprintf(path, sizeof path, "%s/a.safetensors", dir);
	write_file(path, blob, 8 + hl, data, sizeof data);
	free(blob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/bn-fuzz-index-XXXXXX", path[256];
	struct hf_model m;
	struct diag d = { 0 };

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/config.json", dir);
	write_file(path, config, strlen(config), "", 0);
	write_shard(dir);
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
	write_file(path, data, size, "", 0);
	hf_model_open(&m, dir, NULL, &d);
	hf_model_close(&m);
	unlink(path);
	snprintf(path, sizeof path, "%s/config.json", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/a.safetensors", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}
