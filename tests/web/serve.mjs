#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Serves the web page of bitnet-onnx on the loopback address, with no CDN:
// the page (this folder), transformers.js's browser build and
// onnxruntime-web's files from the npm packages tests/tjs installs, and
// each bundle folder given on the command line under /models/NAME/ (and
// their list, /models/index.json).
//
//   node serve.mjs [--port N] BUNDLE_DIR...
//
// Prints one line, "http://127.0.0.1:PORT/", when it listens.  The
// cross-origin isolation headers let onnxruntime-web use threads.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgs = path.join(here, '..', 'tjs', 'node_modules');
const args = process.argv.slice(2);
let port = 0;
if (args[0] === '--port') {
  port = Number(args[1]);
  args.splice(0, 2);
}
const roots = {
  '/app/': here,
  '/tjs/': path.join(pkgs, '@huggingface', 'transformers', 'dist'),
  '/ort/': path.join(pkgs, 'onnxruntime-web', 'dist'),
};
for (const dir of args)
  roots[`/models/${path.basename(path.resolve(dir))}/`] = path.resolve(dir);

const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript',
  '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.css': 'text/css',
};

// The file a URL path names under one of the roots, or null; never a
// path that climbs out of its root.
function resolve(urlPath) {
  for (const [prefix, root] of Object.entries(roots)) {
    if (!urlPath.startsWith(prefix))
      continue;
    const file = path.resolve(root, '.' + path.posix.normalize(
      '/' + urlPath.slice(prefix.length)));
    return file.startsWith(root + path.sep) || file === root ? file : null;
  }
  return null;
}

// The bundles served, for the page's list: name, the forms it has (by
// transformers.js dtype) and its config's device_config.
const DTYPES = { 'model.onnx': 'fp32', 'model_int8.onnx': 'int8', 'model_q2.onnx': 'q2' };
function index() {
  return args.map((dir) => {
    const name = path.basename(path.resolve(dir));
    let files = [], devices = {};
    try {
      files = fs.readdirSync(path.join(dir, 'onnx'));
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      devices = (cfg['transformers.js_config'] || {}).device_config || {};
    } catch {
      files = [];
    }
    return { name, forms: files.filter((f) => DTYPES[f]).map((f) => DTYPES[f]), devices };
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/') {
    res.writeHead(302, { Location: '/app/index.html' + url.search });
    return res.end();
  }
  if (url.pathname === '/models/index.json') {
    const body = JSON.stringify(index());
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store',
      'Cross-Origin-Resource-Policy': 'same-origin' });
    return res.end(body);
  }
  const file = resolve(decodeURIComponent(url.pathname));
  let st = null;
  try {
    st = file && fs.statSync(file);
  } catch {
    st = null;
  }
  if (!st || !st.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end('not found\n');
  }
  res.writeHead(200, {
    'Content-Type': types[path.extname(file)] || 'application/octet-stream',
    'Content-Length': st.size,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD')
    return res.end();
  fs.createReadStream(file).pipe(res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/\n`);
});
