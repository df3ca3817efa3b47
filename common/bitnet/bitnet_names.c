/* SPDX-License-Identifier: ISC */
#include "bitnet_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_PREFIX "model.layers."

/* Per-layer tensors, indexed by enum bitnet_layer_part; alt is the
 * spelling of the families with alt_names (1bitLLM's) where it
 * differs. */
static const struct {
	const char *suffix;
	int is_projection;
	char rows, cols;
	const char *alt;
} layer_parts[BITNET_LAYER_TENSORS] = {
	[BITNET_INPUT_NORM] = { "input_layernorm.weight", 0, 'h', 0, NULL },
	[BITNET_Q_PROJ] = { "self_attn.q_proj.weight", 1, 'q', 'h', NULL },
	[BITNET_K_PROJ] = { "self_attn.k_proj.weight", 1, 'k', 'h', NULL },
	[BITNET_V_PROJ] = { "self_attn.v_proj.weight", 1, 'k', 'h', NULL },
	[BITNET_ATTN_SUB_NORM] = { "self_attn.attn_sub_norm.weight", 0, 'q',
	    0, "self_attn.inner_attn_ln.weight" },
	[BITNET_O_PROJ] = { "self_attn.o_proj.weight", 1, 'h', 'q', NULL },
	[BITNET_POST_NORM] = { "post_attention_layernorm.weight", 0, 'h', 0,
	    NULL },
	[BITNET_GATE_PROJ] = { "mlp.gate_proj.weight", 1, 'f', 'h', NULL },
	[BITNET_UP_PROJ] = { "mlp.up_proj.weight", 1, 'f', 'h', NULL },
	[BITNET_FFN_SUB_NORM] = { "mlp.ffn_sub_norm.weight", 0, 'f', 0,
	    "mlp.ffn_layernorm.weight" },
	[BITNET_DOWN_PROJ] = { "mlp.down_proj.weight", 1, 'h', 'f', NULL },
};

const char *
bitnet_layer_name(enum bitnet_family f, unsigned layer,
    enum bitnet_layer_part part, char *buf, size_t len)
{
	const char *s = bitnet_family_of(f)->alt_names &&
	    layer_parts[part].alt ? layer_parts[part].alt :
	    layer_parts[part].suffix;

	snprintf(buf, len, LAYER_PREFIX "%u.%s", layer, s);
	return buf;
}

int
bitnet_family_has_part(enum bitnet_family f, enum bitnet_layer_part p)
{
	return bitnet_family_of(f)->sub_norms || (p != BITNET_ATTN_SUB_NORM &&
	    p != BITNET_FFN_SUB_NORM);
}

/* Is rest part i's name, in either spelling, with a stem this long? */
static int
is_part(const char *rest, size_t stem, int i)
{
	const char *alt = layer_parts[i].alt;

	return (strlen(layer_parts[i].suffix) == stem &&
	    strncmp(rest, layer_parts[i].suffix, stem) == 0) ||
	    (alt != NULL && strlen(alt) == stem &&
	    strncmp(rest, alt, stem) == 0);
}
#define N_PARTS BITNET_LAYER_TENSORS

/* Does rest end with suffix?  Its length without it into *stem. */
static int
ends_with(const char *rest, const char *suffix, size_t *stem)
{
	size_t rlen = strlen(rest), slen = strlen(suffix);

	*stem = rlen;
	if (rlen <= slen || strcmp(rest + rlen - slen, suffix) != 0)
		return 0;
	*stem = rlen - slen;
	return 1;
}

/* A layer tensor: part i's weight, its weight_scale before it, or the
 * scales of its compact form after it. */
static void
parse_layer_part(const char *rest, struct bitnet_name *out)
{
	size_t stem;
	int is_scale = ends_with(rest, BITNET_CKPT_SCALE_SUFFIX, &stem);
	int is_compact = !is_scale && ends_with(rest, BITNET_FORM_SCALES_SUFFIX,
	    &stem);

	out->rank = 3 * N_PARTS + 1;
	if (strcmp(rest, BITNET_ROTARY_SUFFIX) == 0) {
		out->rank = 3 * N_PARTS;
		out->is_rotary = 1;
		return;
	}
	for (int i = 0; i < N_PARTS; i++) {
		if (!is_part(rest, stem, i))
			continue;
		if ((is_scale || is_compact) && !layer_parts[i].is_projection)
			continue;
		out->rank = 3 * i + (is_scale ? 0 : is_compact ? 2 : 1);
		out->part = i;
		out->is_projection = layer_parts[i].is_projection &&
		    !is_scale && !is_compact;
		out->is_scale = is_scale;
		out->is_compact_scales = is_compact;
		out->rows = is_scale ? 0 : layer_parts[i].rows;
		out->cols = is_scale || is_compact ? 0 : layer_parts[i].cols;
		return;
	}
}

/* The embedding or head, or the scales of its block-q8 form (sorted
 * after it); 0 for another name. */
static int
parse_table(const char *name, const char *table, enum bitnet_group g,
    struct bitnet_name *out)
{
	size_t n = strlen(table);

	if (strncmp(name, table, n) != 0 || (name[n] != '\0' &&
	    strcmp(name + n, BITNET_FORM_SCALES_SUFFIX) != 0))
		return 0;
	out->group = g;
	out->is_compact_scales = name[n] != '\0';
	out->rank = out->is_compact_scales;
	return 1;
}

void
bitnet_name_parse(const char *name, struct bitnet_name *out)
{
	memset(out, 0, sizeof *out);
	out->layer = -1;
	out->part = -1;
	if (parse_table(name, BITNET_EMBED_NAME, BITNET_GROUP_EMBED, out) ||
	    parse_table(name, BITNET_HEAD_NAME, BITNET_GROUP_HEAD, out)) {
		return;
	} else if (strcmp(name, BITNET_NORM_NAME) == 0) {
		out->group = BITNET_GROUP_NORM;
	} else if (strncmp(name, LAYER_PREFIX, strlen(LAYER_PREFIX)) == 0) {
		const char *p = name + strlen(LAYER_PREFIX);
		char *end;
		long n;

		if (*p < '0' || *p > '9') {
			out->group = BITNET_GROUP_OTHER;
			return;
		}
		n = strtol(p, &end, 10);
		if (*end != '.' || n < 0) {
			out->group = BITNET_GROUP_OTHER;
			return;
		}
		out->group = BITNET_GROUP_LAYER;
		out->layer = n;
		parse_layer_part(end + 1, out);
	} else {
		out->group = BITNET_GROUP_OTHER;
	}
}

int
bitnet_name_cmp(const char *a, const char *b)
{
	struct bitnet_name x, y;

	bitnet_name_parse(a, &x);
	bitnet_name_parse(b, &y);
	if (x.group != y.group)
		return x.group < y.group ? -1 : 1;
	if (x.layer != y.layer)
		return x.layer < y.layer ? -1 : 1;
	if (x.rank != y.rank)
		return x.rank < y.rank ? -1 : 1;
	return strcmp(a, b);
}
