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
// The inputs of ids at positions from start after the cache past.
function feedsOf(ids, past, start) {
  return Object.assign({
    input_ids: int64(ids),
    attention_mask: int64(new Array(start + ids.length).fill(1)),
    position_ids: int64(ids.map((_, i) => start + i)),
  }, past);
}

async function step(session, ids, past, start) {
  const out = await session.run(feedsOf(ids, past, start));
  const next = {};
  for (const [name, t] of Object.entries(out)) {
    if (name.startsWith('present.')) {
      next[name.replace('present.', 'past_key_values.')] = t;
    }
  }
  return { token: argmaxLast(out.logits), logits: out.logits, past: next };
}

// The cache bound in place: each present.* output is written into a view
// of one of two buffers per output, sized for maxTotal positions, taken in
// turn (a step reads its past from one and writes its present into the
// other), and a decode step's logits into one buffer too; so onnxruntime
// allocates no output and nothing is copied.  Returns step's result.
function boundCache(session, kvHeads, headDim, maxTotal, vocab) {
  const perPos = kvHeads * headDim;
  const names = session.outputNames.filter((n) => n.startsWith('present.'));
  const bufs = names.map(() => [0, 1].map(() =>
    new ArrayBuffer(4 * perPos * maxTotal)));
  const logits = new ort.Tensor('float32', new Float32Array(vocab),
    [1, 1, vocab]);
  let turn = 0;
  return async function boundStep(ids, past, start) {
    const total = start + ids.length;
    const fetches = { logits: ids.length === 1 ? logits : null };
    names.forEach((n, i) => {
      fetches[n] = new ort.Tensor('float32', new Float32Array(
        bufs[i][turn], 0, perPos * total), [1, kvHeads, total, headDim]);
    });
    turn ^= 1;
    const out = await session.run(feedsOf(ids, past, start), fetches);
    const next = {};
    for (const n of names) {
      next[n.replace('present.', 'past_key_values.')] = out[n];
    }
    return { token: argmaxLast(out.logits), logits: out.logits, past: next };
  };
}

module.exports = { ort, sessionOptions, emptyPast, int64, step, boundCache };
