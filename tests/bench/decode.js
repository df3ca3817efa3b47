#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Time one BitNet ONNX model in onnxruntime-node (CPU): session load,
// prefill of PREFILL tokens, then DECODE greedy steps with the KV cache.
// KV_HEADS, HEAD_DIM and VOCAB (environment) are the model's sizes,
// THREADS the intra-op threads (default: every core);
// LOGITS_OUT, if set, receives the float32 logits of the prefill's last
// position; LOAD_ONLY=1 makes the session and prints its load_s and
// peak_rss_mib alone (run.sh times a load from a cold page cache so).
//
//   node decode.js MODEL [PREFILL [DECODE [SESSION_CONFIG_JSON]]]
//
// Generates twice, the same prompt: the first run warms the session up
// (the first few dozen steps after a session is made are up to half
// slower, its memory arena still growing), as llama-bench warms up before
// it times; the second is timed.  Prints one JSON line: load_s, prefill_s,
// prefill_tok_s, decode_s, decode_tok_s (the second run),
// first_prefill_tok_s and first_decode_tok_s (the first), peak_rss_mib
// (of this process: the session and its weights), and the tokens
// generated (their ids, so two forms can be compared).  SESSION_CONFIG_JSON is an object of session config entries,
// e.g. '{"mlas.use_lut_gemm":"1"}'.
'use strict';
const fs = require('fs');
const { ort, sessionOptions, emptyPast, step, boundCache } =
  require('./session.js');

function lastLogits(logits) {
  const [, seq, vocab] = logits.dims;
  return logits.data.slice((seq - 1) * vocab, seq * vocab);
}

async function main() {
  const [model, prefillArg, decodeArg, extraArg] = process.argv.slice(2);
  const prefill = Number(prefillArg || 64);
  const decode = Number(decodeArg || 32);
  const extra = extraArg ? JSON.parse(extraArg) : {};
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model,
    sessionOptions(extra));
  const t1 = process.hrtime.bigint();
  if (process.env.LOAD_ONLY === '1') {
    process.stdout.write(JSON.stringify({ load_s: Number(t1 - t0) / 1e9,
      peak_rss_mib: process.resourceUsage().maxRSS / 1024 }) + '\n');
    return;
  }
  if (!session.inputNames.some((n) => n.startsWith('past_key_values.'))) {
    throw new Error(`${model}: no past_key_values inputs`);
  }
  const kvHeads = Number(process.env.KV_HEADS || 5);
  const headDim = Number(process.env.HEAD_DIM || 128);
  const vocab = Number(process.env.VOCAB || 128256);
  let seed = 12345;
  const ids = Array.from({ length: prefill }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % vocab;
  });
  // BIND=1: the cache and logits bound in place (session.js boundCache)
  const run = process.env.BIND === '1' ? boundCache(session, kvHeads,
    headDim, prefill + decode + 1, vocab) : (i, p, s) => step(session, i, p, s);
  const first = await generate(run, ids, decode, kvHeads, headDim, session);
  const warm = await generate(run, ids, decode, kvHeads, headDim, session);
  if (process.env.LOGITS_OUT) {
    const l = lastLogits(warm.logits);
    fs.writeFileSync(process.env.LOGITS_OUT,
      Buffer.from(l.buffer, l.byteOffset, l.byteLength));
  }
  process.stdout.write(JSON.stringify({
    load_s: Number(t1 - t0) / 1e9,
    prefill_s: warm.prefill_s,
    prefill_tok_s: prefill / warm.prefill_s,
    decode_s: warm.decode_s,
    decode_tok_s: decode / warm.decode_s,
    first_prefill_tok_s: prefill / first.prefill_s,
    first_decode_tok_s: decode / first.decode_s,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    tokens: warm.tokens,
  }) + '\n');
}

// One generation: the prefill of ids, then decode greedy steps; its
// times, the prefill's logits and the tokens.
async function generate(run, ids, decode, kvHeads, headDim, session) {
  const t0 = process.hrtime.bigint();
  let r = await run(ids, emptyPast(session, kvHeads, headDim), 0);
  const logits = r.logits;
  const t1 = process.hrtime.bigint();
  const tokens = [r.token];
  for (let i = 0; i < decode; i++) {
    r = await run([r.token], r.past, ids.length + i);
    tokens.push(r.token);
  }
  const t2 = process.hrtime.bigint();
  return { prefill_s: Number(t1 - t0) / 1e9, decode_s: Number(t2 - t1) / 1e9,
    logits, tokens };
}

main().catch((e) => {
  process.stderr.write(`decode.js: ${e.message}\n`);
  process.exit(1);
});
