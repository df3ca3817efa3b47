#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Drives Debian's chromium (headless, through puppeteer-core) to the page
// of tests/web for each run and prints one JSON line per run: what the
// page left in window.bitnetResult (or {"error": ...}); for device
// webgpu the adapter chromium offers; with "verbose": 1 the nodes
// onnxruntime placed on its CPU provider (cpu_nodes: [[op, name]...]);
// and the peak resident memory of chromium's processes so far, by type
// (peak_rss_mib: {renderer, gpu, ...}, from /proc).
//
//   node browser.mjs BASE_URL SPEC_JSON [SCREENSHOT.png]
//
// SPEC_JSON: [{"model": NAME, "dtype": "q2", "device": "wasm",
//              "prompt": "...", "max": 20}, ...] (any query parameter of
// the page).  The screenshot is of the page after the last run.
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const [base, specJson, shot] = process.argv.slice(2);
if (!base || !specJson) {
  process.stderr.write('usage: browser.mjs BASE_URL SPEC_JSON [SCREENSHOT.png]\n');
  process.exit(2);
}
const runs = JSON.parse(specJson);
const timeoutMs = Number(process.env.BROWSER_TIMEOUT_MS || 240000);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  protocolTimeout: timeoutMs + 60000,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
         '--enable-features=Vulkan', '--use-angle=swiftshader'],
});

// The processes under pid, with their chromium --type and VmHWM.
function peakRss(root) {
  const kids = new Map();
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      kids.set(Number(p), ppid);
    } catch { /* gone */ }
  }
  const peak = {};
  const walk = (pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const type = (cmd.match(/--type=([a-z-]+)/) || [, 'browser'])[1];
      const hwm = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/);
      if (hwm)
        peak[type] = Math.max(peak[type] || 0, Number(hwm[1]) / 1024);
    } catch { /* gone */ }
    for (const [kid, ppid] of kids)
      if (ppid === pid)
        walk(kid);
  };
  walk(root);
  return peak;
}

// The nodes of onnxruntime's verbose log placed on its CPU provider.
function cpuNodes(logs) {
  const out = [];
  let inCpu = false;
  for (const line of logs) {
    if (/Node\(s\) placed on \[/.test(line)) {
      inCpu = /placed on \[CPUExecutionProvider\]/.test(line);
      continue;
    }
    const m = inCpu && line.match(/VerifyEachNodeIsAssignedToAnEp\]\s+(\S+) \((.*)\)\s*$/);
    if (m)
      out.push([m[1], m[2]]);
    else if (inCpu && !/VerifyEachNodeIsAssignedToAnEp/.test(line))
      inCpu = false;
  }
  return out;
}

let page = null;
try {
  for (const run of runs) {
    if (page)
      await page.close();
    page = await browser.newPage();
    await page.setViewport({ width: 900, height: 700 });
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    const qs = new URLSearchParams({ ...run, max: String(run.max ?? 20), run: '1' });
    await page.goto(`${base}app/index.html?${qs}`);
    const adapter = run.device === 'webgpu' || run.device === 'auto' ? await page.evaluate(async () => {
      if (!navigator.gpu) return 'none (no navigator.gpu)';
      const a = await navigator.gpu.requestAdapter();
      if (!a) return 'none';
      const info = a.info || {};
      const f16 = a.features.has('shader-f16') ? 'shader-f16' : 'no shader-f16';
      return `${info.vendor || '?'} ${info.architecture || ''} (${f16})`;
    }).catch((e) => `unknown (${e.message})`) : undefined;
    let result;
    try {
      await page.waitForFunction('window.bitnetResult !== undefined',
        { timeout: timeoutMs, polling: 500 });
      result = await page.evaluate(() => window.bitnetResult);
    } catch (e) {
      result = { error: `no result: ${e.message}` };
    }
    if (result.error)
      result.log = logs.filter((l) => !/^\d{4}-\d\d-\d\d /.test(l)).slice(-5);
    if (run.verbose)
      result.cpu_nodes = cpuNodes(logs);
    result.peak_rss_mib = peakRss(browser.process().pid);
    process.stdout.write(JSON.stringify({ ...run, adapter, ...result }) + '\n');
  }
  if (shot && page)
    await page.screenshot({ path: shot });
} finally {
  await browser.close();
}
