#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Time one BitNet ONNX model in onnxruntime-node (CPU): session load,
// prefill of PREFILL tokens, then DECODE greedy steps with the KV cache.
// KV_HEADS, HEAD_DIM and VOCAB (environment) are the model's sizes,
// THREADS the intra-op threads (default: every core);
// LOGITS_OUT, if set, receives the float32 logits of the prefill's last
// position.
//
//   node decode.js MODEL [PREFILL [DECODE [SESSION_CONFIG_JSON]]]
//
// Prints one JSON line: load_s, prefill_s, prefill_tok_s, decode_s,
// decode_tok_s, peak_rss_mib (of this process: the session and its
// weights), and the tokens generated (their ids, so two forms can be
// compared).  SESSION_CONFIG_JSON is an object of session config entries,
// e.g. '{"mlas.use_lut_gemm":"1"}'.
'use strict';
const fs = require('fs');
const { ort, sessionOptions, emptyPast, step } =
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
  const t2 = process.hrtime.bigint();
  let r = await step(session, ids, emptyPast(session, kvHeads, headDim), 0);
  const t3 = process.hrtime.bigint();
  if (process.env.LOGITS_OUT) {
    const l = lastLogits(r.logits);
    fs.writeFileSync(process.env.LOGITS_OUT,
      Buffer.from(l.buffer, l.byteOffset, l.byteLength));
  }
  const tokens = [r.token];
  for (let i = 0; i < decode; i++) {
    r = await step(session, [r.token], r.past, prefill + i);
    tokens.push(r.token);
  }
  const t4 = process.hrtime.bigint();
  const s = (a, b) => Number(b - a) / 1e9;
  process.stdout.write(JSON.stringify({
    load_s: s(t0, t1),
    prefill_s: s(t2, t3),
    prefill_tok_s: prefill / s(t2, t3),
    decode_s: s(t3, t4),
    decode_tok_s: decode / s(t3, t4),
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    tokens,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`decode.js: ${e.message}\n`);
  process.exit(1);
});
