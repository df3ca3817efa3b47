/* SPDX-License-Identifier: ISC */
#include "manifest_print.h"

#include <inttypes.h>

#include "dtype.h"
#include "io.h"
#include "tstream.h"

void
manifest_print_tensor(FILE *fp, const Tstream__TensorInfo *t)
{
	char sb[256];

	fprintf(fp, "%-48s %-5s %-14s %-17s %12" PRIu64, t->name,
	    dtype_name(t->dtype), shape_format(t->shape, t->n_shape, sb,
	    sizeof sb), tstream_encoding_name(t->encoding), t->payload_length);
	if (t->has_scale)
		fprintf(fp, "  scale %.9g", (double)t->scale);
	fputc('\n', fp);
}

void
manifest_print_summary(FILE *fp, const Tstream__StreamHeader *h)
{
	const Tstream__ModelConfig *c = h->config;

	fprintf(fp, "source     %s\n", h->source ? h->source : "-");
	fprintf(fp, "producers ");
	for (size_t i = 0; i < h->n_producers; i++)
		fprintf(fp, "%s %s", i ? " |" : "", h->producers[i]);
	fprintf(fp, "\nmodel      %s (%s): hidden %u, layers %u, heads %u/%u "
	    "of %u, ffn %u, vocab %u\n", c->architecture ? c->architecture :
	    "?", c->model_type ? c->model_type : "?", c->hidden_size,
	    c->num_hidden_layers, c->num_attention_heads,
	    c->num_key_value_heads, c->head_dim, c->intermediate_size,
	    c->vocab_size);
	fprintf(fp, "           act %s, rope_theta %g, rms_norm_eps %g, "
	    "tied %s\n", c->hidden_act ? c->hidden_act : "?", c->rope_theta,
	    c->rms_norm_eps, c->tie_word_embeddings ? "yes" : "no");
	if (c->rope_llama3 != NULL)
		fprintf(fp, "rope       llama3: factor %g, low_freq_factor %g, "
		    "high_freq_factor %g, original %u\n", c->rope_llama3->factor,
		    c->rope_llama3->low_freq_factor,
		    c->rope_llama3->high_freq_factor,
		    c->rope_llama3->original_max_position_embeddings);
	fprintf(fp, "quant      %s %s %s\n",
	    c->quant_method ? c->quant_method : "none",
	    c->linear_class ? c->linear_class : "-",
	    c->quantization_mode ? c->quantization_mode : "-");
	for (size_t i = 0; i < h->n_side_files; i++)
		fprintf(fp, "side file  %s (%zu bytes)\n",
		    h->side_files[i]->name, h->side_files[i]->content.len);
}

void
manifest_print_text(FILE *fp, const Tstream__StreamHeader *h)
{
	uint64_t total = 0;

	for (size_t i = 0; i < h->n_manifest; i++) {
		manifest_print_tensor(fp, h->manifest[i]);
		total += h->manifest[i]->payload_length;
	}
	fprintf(fp, "%zu tensors, %" PRIu64 " payload bytes\n", h->n_manifest,
	    total);
}

json_t *
manifest_tensor_json(const Tstream__TensorInfo *t)
{
	json_t *shape = json_array();
	json_t *o;

	for (size_t i = 0; i < t->n_shape; i++)
		json_array_append_new(shape, json_integer((json_int_t)
		    t->shape[i]));
	o = json_pack("{s:s, s:s, s:o, s:s, s:I}", "name", t->name, "dtype",
	    dtype_name(t->dtype), "shape", shape, "encoding",
	    tstream_encoding_name(t->encoding), "bytes",
	    (json_int_t)t->payload_length);
	if (o != NULL && t->has_scale)
		json_object_set_new(o, "scale", json_real(t->scale));
	if (o != NULL && t->source != NULL)
		json_object_set_new(o, "source", json_string(t->source));
	return o;
}

static json_t *
config_json(const Tstream__ModelConfig *c)
{
	json_t *eos = json_array(), *rope = json_null();
	const Tstream__RopeLlama3 *r = c->rope_llama3;

	for (size_t i = 0; i < c->n_eos_token_id; i++)
		json_array_append_new(eos, json_integer(c->eos_token_id[i]));
	if (r != NULL)	/* transformers' spelling */
		rope = json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type",
		    "llama3", "factor", r->factor, "low_freq_factor",
		    r->low_freq_factor, "high_freq_factor", r->high_freq_factor,
		    "original_max_position_embeddings",
		    r->original_max_position_embeddings);
	return json_pack("{s:s?, s:s?, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
	    "s:s?, s:f, s:o, s:f, s:i, s:b, s:I, s:o, s:s?, s:s?, s:s?}",
	    "model_type", c->model_type, "architecture", c->architecture,
	    "hidden_size", c->hidden_size, "num_hidden_layers",
	    c->num_hidden_layers, "num_attention_heads",
	    c->num_attention_heads, "num_key_value_heads",
	    c->num_key_value_heads, "head_dim", c->head_dim,
	    "intermediate_size", c->intermediate_size, "vocab_size",
	    c->vocab_size, "hidden_act", c->hidden_act, "rope_theta",
	    c->rope_theta, "rope_scaling", rope, "rms_norm_eps", c->rms_norm_eps,
	    "max_position_embeddings", c->max_position_embeddings,
	    "tie_word_embeddings", c->tie_word_embeddings, "bos_token_id",
	    (json_int_t)c->bos_token_id, "eos_token_id", eos, "quant_method",
	    c->quant_method, "linear_class", c->linear_class,
	    "quantization_mode", c->quantization_mode);
}

json_t *
manifest_header_json(const Tstream__StreamHeader *h)
{
	json_t *prod = json_array(), *side = json_array(), *ts = json_array();

	for (size_t i = 0; i < h->n_producers; i++)
		json_array_append_new(prod, json_string(h->producers[i]));
	for (size_t i = 0; i < h->n_side_files; i++)
		json_array_append_new(side, json_pack("{s:s, s:I}", "name",
		    h->side_files[i]->name, "bytes",
		    (json_int_t)h->side_files[i]->content.len));
	for (size_t i = 0; i < h->n_manifest; i++)
		json_array_append_new(ts, manifest_tensor_json(h->manifest[i]));
	return json_pack("{s:i, s:s?, s:o, s:o, s:o, s:o}", "version",
	    h->version, "source", h->source, "producers", prod, "config",
	    config_json(h->config), "side_files", side, "tensors", ts);
}

int
manifest_list(FILE *fp, const Tstream__StreamHeader *h, int json,
    struct diag *d)
{
	if (json) {
		json_t *j = manifest_header_json(h);
		int rc = j ? json_dumpf(j, fp, JSON_INDENT(2)) : -1;

		json_decref(j);
		if (rc == -1)
			return diag_fail(d, BN_EXIT_IO, "cannot write the "
			    "manifest as JSON");
		fputc('\n', fp);
	} else {
		manifest_print_summary(fp, h);
		manifest_print_text(fp, h);
	}
	return io_flush(fp, "stdout", d);
}
