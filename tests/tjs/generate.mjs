#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Greedy generation with transformers.js (@huggingface/transformers) from a
// local bundle written by `onnx-emit --bundle`, remote loading off.
//
//   node generate.mjs BUNDLE_DIR PROMPT MAX_NEW_TOKENS [DTYPE [SESSION_JSON]]
//
// DTYPE is fp32 (onnx/model.onnx), int8 (model_int8.onnx) or q2
// (model_q2.onnx); SESSION_JSON, e.g. '{"mlas.use_lut_gemm":"1"}', gives
// onnxruntime session config entries; THREADS (environment) the intra-op
// threads, every core when unset (onnxruntime's own default ran one on a
// 2-core virtual machine).  Prints one JSON line:
// {"prompt_ids": [...], "new_ids": [...], "text": "...", "tokens_per_s": N,
//  "decode_tok_s": N, "load_s": S, "peak_rss_mib": M}
// (tokens_per_s: the rate of the whole generate call, prompt included;
// decode_tok_s: of the tokens after the first).
import os from 'node:os';
import path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, TextStreamer, env } from '@huggingface/transformers';

const [dir, prompt, maxNew, dtype = 'fp32', extra] = process.argv.slice(2);
if (!dir || prompt === undefined || !maxNew) {
  process.stderr.write('usage: generate.mjs BUNDLE_DIR PROMPT MAX_NEW_TOKENS [DTYPE [SESSION_JSON]]\n');
  process.exit(2);
}
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(dir)) + path.sep;
const name = path.basename(path.resolve(dir));

const tLoad = performance.now();
const tokenizer = await AutoTokenizer.from_pretrained(name);
const model = await AutoModelForCausalLM.from_pretrained(name, {
  dtype,
  device: 'cpu',
  session_options: {
    intraOpNumThreads: Number(process.env.THREADS || os.cpus().length),
    ...(extra ? { extra: JSON.parse(extra) } : {}),
  },
});
const inputs = tokenizer(prompt);
const times = [];
const streamer = new TextStreamer(tokenizer, {
  skip_prompt: true,
  callback_function: () => {},
  token_callback_function: () => times.push(performance.now()),
});
const t0 = performance.now();
const out = await model.generate({
  ...inputs,
  max_new_tokens: Number(maxNew),
  do_sample: false,
  streamer,
});
const seconds = (performance.now() - t0) / 1000;
const n = times.length;
const all = Array.from(out.tolist()[0], Number);
const promptIds = Array.from(inputs.input_ids.tolist()[0], Number);
const newIds = all.slice(promptIds.length);
process.stdout.write(JSON.stringify({
  prompt_ids: promptIds,
  new_ids: newIds,
  text: tokenizer.decode(newIds),
  tokens_per_s: newIds.length / seconds,
  decode_tok_s: n > 1 ? (n - 1) / ((times[n - 1] - times[0]) / 1000) : 0,
  load_s: (t0 - tLoad) / 1000,
  peak_rss_mib: process.resourceUsage().maxRSS / 1024,
}) + '\n');
