// SPDX-License-Identifier: ISC
// The page: greedy generation with transformers.js, as it ships (its own
// browser build, onnxruntime-web inside), from a bundle of onnx-emit
// served under /models/.  The query string sets the choices
// (?model=NAME&dtype=q2&device=wasm&prompt=...&max=20&run=1); with run=1
// it generates at once and leaves the outcome in window.bitnetResult.
import { AutoModelForCausalLM, AutoTokenizer, env } from '/tjs/transformers.min.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = '/models/';
env.backends.onnx.wasm.wasmPaths = {
  mjs: '/ort/ort-wasm-simd-threaded.asyncify.mjs',
  wasm: '/ort/ort-wasm-simd-threaded.asyncify.wasm',
};

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
const models = (q.get('models') || q.get('model') || '').split(',').filter(Boolean);
for (const m of models)
  $('model').append(new Option(m, m));
$('dtype').value = q.get('dtype') || 'q2';
$('device').value = q.get('device') || 'wasm';
$('prompt').value = q.get('prompt') || 'Once upon a time';
$('max').value = q.get('max') || '20';
$('status').textContent = models.length ? 'ready' :
  'no model: open this page with ?model=NAME (a bundle the server serves)';

async function generate() {
  const name = $('model').value, dtype = $('dtype').value;
  const device = $('device').value, prompt = $('prompt').value;
  const max = Number($('max').value);
  $('status').textContent = `loading ${name} (${dtype}, ${device})…`;
  $('text').textContent = '';
  const t0 = performance.now();
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const model = await AutoModelForCausalLM.from_pretrained(name, { dtype, device });
  const t1 = performance.now();
  const inputs = tokenizer(prompt);
  const out = await model.generate({ ...inputs, max_new_tokens: max, do_sample: false });
  const t2 = performance.now();
  const all = Array.from(out.tolist()[0], Number);
  const promptIds = Array.from(inputs.input_ids.tolist()[0], Number);
  const newIds = all.slice(promptIds.length);
  const text = tokenizer.decode(newIds);
  const rate = newIds.length / ((t2 - t1) / 1000);
  const b = document.createElement('b');
  b.textContent = prompt;
  $('text').append(b, text);
  $('status').textContent = `${newIds.length} tokens at ${rate.toFixed(1)} tokens/s ` +
    `(${name}, ${dtype}, ${device}; load ${((t1 - t0) / 1000).toFixed(1)} s)`;
  await model.dispose();
  return { prompt_ids: promptIds, new_ids: newIds, text, tokens_per_s: rate,
           load_s: (t1 - t0) / 1000, device, dtype, model: name };
}

function fail(e) {
  $('status').textContent = String(e && e.message || e);
  $('status').className = 'meta error';
  return { error: String(e && e.message || e) };
}

$('form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  generate().catch(fail);
});
if (q.get('run') === '1' && models.length)
  window.bitnetResult = await generate().catch(fail);
