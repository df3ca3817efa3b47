// SPDX-License-Identifier: ISC
// The page: greedy generation with transformers.js, as it ships (its own
// browser build, onnxruntime-web inside), from a bundle of onnx-emit
// served under /models/ (the server lists them in /models/index.json).
// The query string sets the choices
// (?model=NAME&dtype=q2&device=wasm&threads=2&prompt=...&max=20&run=1,
// verbose=1 for onnxruntime's log on the console);
// with run=1 it generates at once and leaves the outcome in
// window.bitnetResult.  Device "auto" takes WebGPU when the browser has
// an adapter, WebAssembly otherwise; form "auto" leaves the choice to the
// bundle's config.json (its transformers.js_config.device_config), or
// takes the first form the bundle has of those that suit the device.
import { AutoModelForCausalLM, AutoTokenizer, TextStreamer, env }
  from '/tjs/transformers.min.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = '/models/';
env.backends.onnx.wasm.wasmPaths = {
  mjs: '/ort/ort-wasm-simd-threaded.asyncify.mjs',
  wasm: '/ort/ort-wasm-simd-threaded.asyncify.wasm',
};

// The forms each device runs best first (onnx-emit(1), Bundles).
const SUITS = { webgpu: ['q2', 'fp32', 'int8'], wasm: ['int8', 'fp32', 'q2'] };
const DTYPE_FILE = { fp32: 'model.onnx', int8: 'model_int8.onnx', q2: 'model_q2.onnx' };

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
let bundles = [];

const heapMiB = () => Math.max(0, ...window.bitnetHeaps.map(
  (m) => m.buffer.byteLength)) / 2 ** 20;
const mb = (n) => (n / 1e6).toFixed(0);

async function listBundles() {
  const named = (q.get('models') || q.get('model') || '').split(',').filter(Boolean);
  let served = [];
  try {
    served = await (await fetch('/models/index.json')).json();
  } catch {
    served = [];
  }
  const byName = new Map(served.map((b) => [b.name, b]));
  return (named.length ? named : served.map((b) => b.name)).map(
    (name) => byName.get(name) || { name, forms: Object.keys(DTYPE_FILE), devices: {} });
}

function showForms() {
  const b = bundles.find((x) => x.name === $('model').value);
  const keep = $('dtype').value;
  $('dtype').length = 1;
  for (const f of b ? b.forms : [])
    $('dtype').append(new Option(f, f));
  $('dtype').value = [...$('dtype').options].some((o) => o.value === keep) ? keep : 'auto';
}

async function pickDevice(choice) {
  if (choice !== 'auto')
    return choice;
  try {
    return navigator.gpu && await navigator.gpu.requestAdapter() ? 'webgpu' : 'wasm';
  } catch {
    return 'wasm';
  }
}

// undefined: transformers.js takes the bundle's device_config choice.
function pickDtype(bundle, device, choice) {
  if (choice !== 'auto')
    return choice;
  if (bundle.devices && bundle.devices[device])
    return undefined;
  return SUITS[device].find((f) => bundle.forms.includes(f)) || bundle.forms[0];
}

// The download bar: every file's bytes as transformers.js reports them;
// then the session's creation, which reports nothing, as elapsed time.
function progressTracker(t0) {
  const files = new Map();
  let timer = null;
  const track = {
    events: 0, downloaded: 0, session_s: 0,
    callback(info) {
      track.events++;
      if (info.status === 'progress' && info.file) {
        files.set(info.file, { loaded: info.loaded, total: info.total });
        let loaded = 0, total = 0;
        for (const f of files.values()) {
          loaded += f.loaded;
          total += f.total;
        }
        track.downloaded = loaded;
        $('bar').value = total ? (100 * loaded) / total : 0;
        $('phase').textContent = `downloading ${info.file}: ${mb(loaded)} of ${mb(total)} MB`;
      } else if (info.status === 'done' && [...files.values()].every(
        (f) => f.loaded >= f.total) && timer === null && files.size > 0) {
        const t1 = performance.now();
        $('bar').removeAttribute('value');	// indeterminate
        timer = setInterval(() => {
          track.session_s = (performance.now() - t1) / 1000;
          $('phase').textContent = `creating the session: ${track.session_s.toFixed(0)} s ` +
            `(${mb(track.downloaded)} MB downloaded in ${((t1 - t0) / 1000).toFixed(1)} s)`;
        }, 250);
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
  return track;
}

async function generate() {
  const name = $('model').value, prompt = $('prompt').value;
  const max = Number($('max').value);
  const bundle = bundles.find((b) => b.name === name);
  const device = await pickDevice($('device').value);
  const dtype = pickDtype(bundle, device, $('dtype').value);
  const threads = Number($('threads').value);
  if (device === 'wasm' && threads)
    env.backends.onnx.wasm.numThreads = threads;
  $('status').textContent = `loading ${name} (${dtype || 'its form'} for ${device})…`;
  $('status').className = 'meta';
  $('text').textContent = '';
  $('rate').textContent = '';
  $('load').hidden = false;
  const t0 = performance.now();
  const track = progressTracker(t0);
  let model;
  try {
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    model = await AutoModelForCausalLM.from_pretrained(name, {
      dtype, device, progress_callback: track.callback,
      // ?verbose=1: onnxruntime's own log, where each node is placed
      session_options: q.get('verbose') === '1' ?
        { logSeverityLevel: 0, logVerbosityLevel: 0 } : undefined });
    track.stop();
    $('load').hidden = true;
    const t1 = performance.now();
    const form = dtype || bundle.devices[device].dtype;
    const b = document.createElement('b');
    b.textContent = prompt;
    $('text').append(b);
    const times = [];
    const streamer = new TextStreamer(tokenizer, {
      skip_prompt: true,
      callback_function: (s) => $('text').append(s),
      token_callback_function: () => {
        times.push(performance.now());
        const n = times.length;
        if (n > 1)
          $('rate').textContent = `${n} tokens, ${((n - 1) / ((times[n - 1] - times[0]) / 1000)).toFixed(2)} tokens/s`;
      },
    });
    const inputs = tokenizer(prompt);
    const t2 = performance.now();
    const out = await model.generate({ ...inputs, max_new_tokens: max, do_sample: false, streamer });
    const t3 = performance.now();
    const all = Array.from(out.tolist()[0], Number);
    const promptIds = Array.from(inputs.input_ids.tolist()[0], Number);
    const newIds = all.slice(promptIds.length);
    const decode = times.length > 1 ? (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000) : 0;
    const result = {
      prompt_ids: promptIds, new_ids: newIds, text: tokenizer.decode(newIds),
      tokens_per_s: newIds.length / ((t3 - t2) / 1000), decode_tok_s: decode,
      first_token_s: times.length ? (times[0] - t2) / 1000 : 0,
      load_s: (t1 - t0) / 1000, session_s: track.session_s,
      downloaded_mb: track.downloaded / 1e6, progress_events: track.events,
      heap_mib: heapMiB(), device, dtype: form, model: name,
      threads: device === 'wasm' ? env.backends.onnx.wasm.numThreads : undefined,
    };
    $('status').textContent = `${newIds.length} tokens, ${decode.toFixed(2)} tokens/s after the first ` +
      `(${name}, ${form} on ${device}; loaded in ${result.load_s.toFixed(1)} s` +
      (device === 'wasm' ? `, ${heapMiB().toFixed(0)} MiB of WebAssembly memory)` : ')');
    return result;
  } finally {
    track.stop();
    if (model)
      await model.dispose();
  }
}

function fail(e) {
  $('load').hidden = true;
  $('status').textContent = String(e && e.message || e);
  $('status').className = 'meta error';
  return { error: String(e && e.message || e) };
}

bundles = await listBundles();
for (const b of bundles)
  $('model').append(new Option(b.name, b.name));
for (let n = 1; n <= (navigator.hardwareConcurrency || 1); n++)
  $('threads').append(new Option(String(n), String(n)));
$('model').addEventListener('change', showForms);
showForms();
$('dtype').value = q.get('dtype') || 'auto';
$('device').value = q.get('device') || 'auto';
$('threads').value = q.get('threads') || '';
$('prompt').value = q.get('prompt') || 'Once upon a time';
$('max').value = q.get('max') || '20';
$('status').textContent = bundles.length ? 'ready' :
  'no model: serve bundle folders with tests/web/serve.mjs, or open this page with ?model=NAME';
$('form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  generate().catch(fail);
});
if (q.get('run') === '1' && bundles.length)
  window.bitnetResult = await generate().catch(fail);
