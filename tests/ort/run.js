#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Run an ONNX model in onnxruntime-node (CPU) on raw little-endian inputs.
//
//   node run.js SPEC.json
//
// SPEC: {"model": PATH, "out_dir": DIR,
//        "inputs": {NAME: {"type": "int64"|"float32", "dims": [..],
//                          "file": PATH}},
//        "outputs": [NAME, ...]            (optional: all outputs)
//        "options": {...}}                 (optional session options)
// Writes DIR/NAME.bin for each output and prints a JSON object
// {"outputs": {NAME: {"dims": [..], "type": T}}, "load_ms": .., "run_ms": ..}.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function readTensor(spec) {
  const buf = fs.readFileSync(spec.file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  if (spec.type === 'int64') {
    return new ort.Tensor('int64', new BigInt64Array(ab), spec.dims);
  }
  if (spec.type === 'float32') {
    return new ort.Tensor('float32', new Float32Array(ab), spec.dims);
  }
  throw new Error(`unknown input type ${spec.type}`);
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(spec.model,
    Object.assign({ graphOptimizationLevel: 'all' }, spec.options || {}));
  const t1 = process.hrtime.bigint();
  const feeds = {};
  for (const [name, s] of Object.entries(spec.inputs)) {
    feeds[name] = readTensor(s);
  }
  const results = await session.run(feeds, spec.outputs || session.outputNames);
  const t2 = process.hrtime.bigint();
  const out = {};
  for (const [name, t] of Object.entries(results)) {
    const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    fs.writeFileSync(path.join(spec.out_dir, `${name}.bin`), data);
    out[name] = { dims: t.dims, type: t.type };
  }
  process.stdout.write(JSON.stringify({
    outputs: out,
    input_names: session.inputNames,
    output_names: session.outputNames,
    load_ms: Number(t1 - t0) / 1e6,
    run_ms: Number(t2 - t1) / 1e6,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run.js: ${e.message}\n`);
  process.exit(1);
});
