// SPDX-License-Identifier: ISC
// What the benchmark scripts share: onnxruntime-node as the tests install
// it, and one step of a BitNet decoder with its KV cache.
'use strict';
const os = require('os');
const path = require('path');
const ort = require(path.join(__dirname, '..', 'ort', 'node_modules',
  'onnxruntime-node'));

// The session options of every benchmark run: graph optimizations on and
// THREADS (environment) intra-op threads, every core when unset.  Set
// explicitly: onnxruntime's own default on a 2-core virtual machine ran
// one thread, which cost decode a quarter of its rate and prefill 40%.
function sessionOptions(extra, more) {
  const threads = Number(process.env.THREADS || os.cpus().length);
  return Object.assign({ graphOptimizationLevel: 'all',
    intraOpNumThreads: threads, extra }, more);
}

function argmaxLast(logits) {
  const [, seq, vocab] = logits.dims;
  const base = (seq - 1) * vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) {
    if (logits.data[base + v] > logits.data[base + best]) best = v;
  }
  return best;
}

function emptyPast(session, kvHeads, headDim) {
  const feeds = {};
  for (const name of session.inputNames) {
    if (name.startsWith('past_key_values.')) {
      feeds[name] = new ort.Tensor('float32', new Float32Array(0),
        [1, kvHeads, 0, headDim]);
    }
  }
  return feeds;
}

function int64(values) {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)),
    [1, values.length]);
}

// Run ids from position start after the cache past; returns the greedy
// next token, the logits and the cache for the next step.
async function step(session, ids, past, start) {
  const total = start + ids.length;
  const feeds = Object.assign({
    input_ids: int64(ids),
    attention_mask: int64(new Array(total).fill(1)),
    position_ids: int64(ids.map((_, i) => start + i)),
  }, past);
  const out = await session.run(feeds);
  const next = {};
  for (const [name, t] of Object.entries(out)) {
    if (name.startsWith('present.')) {
      next[name.replace('present.', 'past_key_values.')] = t;
    }
  }
  return { token: argmaxLast(out.logits), logits: out.logits, past: next };
}

module.exports = { ort, sessionOptions, emptyPast, int64, step };
