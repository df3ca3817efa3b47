#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Where a decode step's time goes: one BitNet ONNX model in
// onnxruntime-node with its profiler on, a prefill of 16 tokens, WARM
// (environment, default 24) decode steps not counted, then STEPS decode
// steps; prints each operator type's time per token (the
// decode steps only), its share of the kernels' time, its nodes per token,
// and the MatMulNBits / MatMulInteger / Gemm time per weight shape.
// KV_HEADS and HEAD_DIM (environment) are the model's cache sizes,
// THREADS the intra-op threads (default: every core).  The
// profiler itself slows the run down; read the shares, not the totals.
//
//   node profile.js MODEL [STEPS [SESSION_CONFIG_JSON]]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ort, sessionOptions, emptyPast, step } =
  require('./session.js');

// Decode steps run before the profiled ones: the first few dozen after a
// session is made are slower (its memory arena still growing).
const WARM = Number(process.env.WARM || 24);

async function run(model, steps, extra) {
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(),
    'bn-profile-')), 'p');
  const session = await ort.InferenceSession.create(model,
    sessionOptions(extra, { enableProfiling: true,
      profileFilePrefix: prefix }));
  const kv = Number(process.env.KV_HEADS || 5);
  const hd = Number(process.env.HEAD_DIM || 128);
  const ids = Array.from({ length: 16 }, (_, i) => (i * 7919) % 1000);
  let r = await step(session, ids, emptyPast(session, kv, hd), 0);
  for (let k = 0; k < WARM + steps; k++) {
    r = await step(session, [5], r.past, ids.length + k);
  }
  session.endProfiling();	/* the file: PREFIX_DATE.json */
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.rmSync(dir, { recursive: true });
  return events;
}

function report(events, steps) {
  const runs = events.filter((e) => e.cat === 'Session' &&
    e.name === 'model_run');
  runs.sort((a, b) => a.ts - b.ts);
  const after = runs[WARM].ts + runs[WARM].dur;
  const byOp = new Map();
  const byShape = new Map();
  let kernels = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') ||
        e.ts < after) continue;
    const op = e.args.op_name;
    const o = byOp.get(op) || { us: 0, n: 0 };
    o.us += e.dur;
    o.n++;
    byOp.set(op, o);
    kernels += e.dur;
    if (/^(MatMulNBits|MatMulInteger|Gemm)$/.test(op)) {
      const w = (e.args.input_type_shape || []).slice(1, 2)
        .map((t) => JSON.stringify(Object.values(t)[0])).join('');
      const key = `${op} ${w}`;
      byShape.set(key, (byShape.get(key) || 0) + e.dur);
    }
  }
  const wall = runs.slice(WARM + 1).reduce((s, r) => s + r.dur, 0);
  console.log(`decode, profiled: ${(wall / steps / 1000).toFixed(1)} ms ` +
    `a token, ${(kernels / steps / 1000).toFixed(1)} ms of it in kernels`);
  for (const [op, o] of [...byOp].sort((a, b) => b[1].us - a[1].us)
    .slice(0, 12)) {
    console.log(`  ${op.padEnd(30)} ${(o.us / steps / 1000).toFixed(2)
      .padStart(7)} ms ${(100 * o.us / kernels).toFixed(1).padStart(5)}%` +
      `  ${Math.round(o.n / steps)} nodes`);
  }
  for (const [k, us] of [...byShape].sort((a, b) => b[1] - a[1])) {
    console.log(`    ${k.padEnd(40)} ${(us / steps / 1000).toFixed(2)
      .padStart(7)} ms`);
  }
}

async function main() {
  const [model, stepsArg, extraArg] = process.argv.slice(2);
  const steps = Number(stepsArg || 8);
  report(await run(model, steps, extraArg ? JSON.parse(extraArg) : {}),
    steps);
}

main().catch((e) => {
  process.stderr.write(`profile.js: ${e.message}\n`);
  process.exit(1);
});
