#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Time the one-projection models of kernel_models.py in one runtime:
//
//   node kernels.js DIR node|wasm THREADS [NAME...]
//
// node: onnxruntime-node as the tests install it (tests/ort), with the
// benchmarks' session options (session.js); wasm:
// onnxruntime-web's WebAssembly in Node, the copy transformers.js ships
// (tests/tjs), as a browser tab runs it.  Each model: three warm-up
// runs, then the median of ROUNDS (default 5) rounds of RUNS runs (by
// default as many as take half a second); the time of one copy of the
// projection is the run's over the model's copies.  Every output is
// checked against x @ W^T first: exactly for the exact forms, within 3%
// of its largest value at accuracy level 4 (which quantizes x per
// block); a form that computes something else fails the run.  Prints a
// JSON line per model: {"name", "copies", "ms" (a copy's), "gbps" (a
// copy's weight bytes over that), "err"}.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

async function loadOrt(kind, threads) {
  if (kind === 'node') return require('./session.js').ort;
  if (kind !== 'wasm') throw new Error(`kernels.js: runtime '${kind}' is ` +
    'not node or wasm');
  const ort = await import(path.join(root, 'tjs', 'node_modules',
    'onnxruntime-web', 'dist', 'ort.node.min.mjs'));
  ort.env.wasm.numThreads = threads;
  return ort;
}

// node: the benchmarks' own session options, on THREADS threads.
function sessionOptions(kind, threads) {
  return kind === 'node'
    ? require('./session.js').sessionOptions({},
      { intraOpNumThreads: threads })
    : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
}

function input(ort, form, x) {
  if (form.input === 'uint8') {
    return new ort.Tensor('uint8', Uint8Array.from(x, (v) => v + 128),
      [1, x.length]);
  }
  return new ort.Tensor('float32', Float32Array.from(x), [1, x.length]);
}

// The largest |y - ref| over the largest |ref|.
function relErr(y, ref) {
  let diff = 0;
  let top = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(Number(y[i]) - ref[i]));
    top = Math.max(top, Math.abs(ref[i]));
  }
  return diff / top;
}

// ref rotated by c, as copy c's weight rows are (kernel_models.py).
function rotated(ref, c) {
  const n = ref.length;
  return Array.from(ref, (_, i) => ref[(i - (c % n) + n) % n]);
}

// A file's bytes as an ArrayBuffer of their own (a small file's Buffer
// is a view into a shared pool).
function bytes(file) {
  const b = fs.readFileSync(file);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
}

// The median ms of a run; runs a round: RUNS, or as many as take about
// half a second by the warm-up's time.
async function timeRuns(session, feeds, rounds) {
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const warm = (performance.now() - t0) / 3;
  const runs = Number(process.env.RUNS) ||
    Math.max(1, Math.min(200, Math.round(500 / warm)));
  const ms = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run(feeds);
    ms.push((performance.now() - t0) / runs);
  }
  ms.sort((a, b) => a - b);
  return ms[ms.length >> 1];
}

async function main() {
  const [dir, kind, threadArg, ...only] = process.argv.slice(2);
  if (!dir || !kind || !threadArg) {
    throw new Error('usage: kernels.js DIR node|wasm THREADS [NAME...]');
  }
  const threads = Number(threadArg);
  const ort = await loadOrt(kind, threads);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'forms.json')));
  const x = new Int8Array(bytes(path.join(dir, 'x.bin')));
  const ref = new Int32Array(bytes(path.join(dir, 'ref.bin')));
  const rounds = Number(process.env.ROUNDS || 5);
  let failed = 0;
  for (const form of spec.forms) {
    if (only.length && !only.includes(form.name)) continue;
    const file = path.join(dir, form.name + '.onnx');
    const session = await ort.InferenceSession.create(file,
      sessionOptions(kind, threads));
    const feeds = { x: input(ort, form, x) };
    const outs = await session.run(feeds);
    const err = Math.max(...Array.from({ length: form.copies }, (_, c) =>
      relErr(outs[`y${c}`].data, rotated(ref, c))));
    if (err > (form.exact ? 0 : 0.03)) {
      console.error(`kernels.js: ${file}: ${kind} gives x @ W^T with ` +
        `relative error ${err.toExponential(2)}, expected ` +
        (form.exact ? 'exactly' : 'within 3%'));
      failed++;
    }
    const ms = await timeRuns(session, feeds, rounds) / form.copies;
    console.log(JSON.stringify({ name: form.name, copies: form.copies, ms,
      gbps: form.weight_bytes / ms / 1e6, err }));
    if (session.release) await session.release();
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
