#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Drives Debian's chromium (headless, through puppeteer-core) to the page
// of tests/web for each run and prints one JSON line per run: what the
// page left in window.bitnetResult (or {"error": ...}), and for device
// webgpu the adapter chromium offers.
//
//   node browser.mjs BASE_URL SPEC_JSON [SCREENSHOT.png]
//
// SPEC_JSON: [{"model": NAME, "dtype": "q2", "device": "wasm",
//              "prompt": "...", "max": 20}, ...].  The screenshot is of
// the page after the last run.
import puppeteer from 'puppeteer-core';

const [base, specJson, shot] = process.argv.slice(2);
if (!base || !specJson) {
  process.stderr.write('usage: browser.mjs BASE_URL SPEC_JSON [SCREENSHOT.png]\n');
  process.exit(2);
}
const runs = JSON.parse(specJson);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
         '--enable-features=Vulkan', '--use-angle=swiftshader'],
});
const timeoutMs = Number(process.env.BROWSER_TIMEOUT_MS || 240000);
let page = null;
try {
  for (const run of runs) {
    if (page)
      await page.close();
    page = await browser.newPage();
    await page.setViewport({ width: 900, height: 640 });
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    const qs = new URLSearchParams({ ...run, max: String(run.max ?? 20), run: '1' });
    await page.goto(`${base}app/index.html?${qs}`);
    const adapter = run.device === 'webgpu' ? await page.evaluate(async () => {
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
        { timeout: timeoutMs, polling: 200 });
      result = await page.evaluate(() => window.bitnetResult);
    } catch (e) {
      result = { error: `no result: ${e.message}` };
    }
    if (result.error)
      result.log = logs.slice(-5);
    process.stdout.write(JSON.stringify({ ...run, adapter, ...result }) + '\n');
  }
  if (shot && page)
    await page.screenshot({ path: shot });
} finally {
  await browser.close();
}
