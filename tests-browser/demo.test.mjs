// The demo page in real headless Chromium, against a running han-server.
//
//   HAN_URL=http://127.0.0.1:PORT node tests-browser/demo.test.mjs
//
// Usually started by tests-browser/run.sh, which builds and starts the server. Checks that
// what the page shows equals what the JSON API answers for exactly what the page sent:
//   0. GET /, /assets/app.js and /assets/style.css serve han-server/assets/ (fails fast if not);
//   1. an image model: draw strokes with mouse events; the bars equal the API's answer for the
//      pixels the page sent, and those pixels look like the dataset's (range, centring);
//   2. the checkerboard: every cell of both decision maps and a clicked point equal the API;
//   3. MNIST-1D (when served): a bundled test sample's bars equal the API;
//   4. a failing request shows the server's error message on the page.
// Only 127.0.0.1 is contacted; any other request fails the test. Screenshots go to
// tests-browser/screenshots/ (and to docs/ with HAN_DOCS=1).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = new URL(process.env.HAN_URL || 'http://127.0.0.1:8080/');
assert.equal(BASE.hostname, '127.0.0.1', 'HAN_URL must be a loopback address (127.0.0.1)');
const SHOTS = path.join(here, 'screenshots');
const DOCS = process.env.HAN_DOCS ? path.join(here, '..', 'docs') : null;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

const url = (p) => new URL(p, BASE).href;
const log = (...a) => console.log('  ', ...a);
let failures = 0;

async function apiGet(p) {
  const r = await fetch(url(p));
  assert.equal(r.status, 200, `GET ${p}: HTTP ${r.status}`);
  return r.json();
}

async function apiPredict(name, body) {
  const r = await fetch(url(`v1/models/${encodeURIComponent(name)}/predict`), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  });
  const text = await r.text();
  assert.equal(r.status, 200, `POST predict ${name}: HTTP ${r.status} ${text}`);
  return JSON.parse(text);
}

// Every bar on screen equals the API's prediction, in order.
function assertSamePredictions(shown, api, what) {
  assert.equal(shown.length, api.length, `${what}: ${shown.length} bars on the page, ${api.length} predictions from the API`);
  let worst = 0;
  shown.forEach((s, i) => {
    assert.equal(s.label, api[i].label, `${what}: bar ${i} label`);
    assert.equal(s.index, api[i].index, `${what}: bar ${i} index`);
    worst = Math.max(worst, Math.abs(s.score - api[i].score));
  });
  assert.ok(worst <= 1e-6, `${what}: scores differ from the API's by ${worst}`);
  return worst;
}

const readBars = (page, sel) => page.$$eval(`${sel} .bar`, (bars) => bars.map((b) => ({
  label: b.dataset.label, index: Number(b.dataset.index), score: Number(b.dataset.score),
  text: b.querySelector('.pct').textContent, width: parseFloat(b.querySelector('.fill').style.width),
})));

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}\n${err.stack || err}`);
  }
}

// Waits until the page has predicted the current drawing and nothing is queued.
async function settled(page, sel) {
  await page.waitForFunction((s) => {
    const st = document.querySelector(s).dataset.status;
    return !window.hanDemo.pending() && (st === 'ok' || st === 'error');
  }, sel, { timeout: 15000 });
}

async function strokes(page, box, paths) {
  for (const pts of paths) {
    const [x0, y0] = pts[0];
    await page.mouse.move(box.x + x0 * box.width, box.y + y0 * box.height);
    await page.mouse.down();
    for (const [x, y] of pts.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 12 });
    await page.mouse.up();
  }
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  // The page and its assets, embedded in the binary, with their content types.
  for (const [p, type, marker] of [['', 'text/html', 'assets/app.js'], ['assets/app.js', 'javascript', 'hanDemo'], ['assets/style.css', 'text/css', '.bar']]) {
    const r = await fetch(url(p));
    const body = await r.text();
    const ct = r.headers.get('content-type') || '';
    if (r.status !== 200 || !ct.includes(type) || !body.includes(marker)) {
      console.log(`FAIL GET /${p}: HTTP ${r.status}, content-type "${ct}"; expected the demo page's file from han-server/assets/ ` +
        `as ${type} (han-server must serve index.html at /, app.js and style.css under /assets/)`);
      process.exit(1);
    }
  }
  const list = await apiGet('v1/models');
  const cards = Array.isArray(list) ? list : list.models;
  assert.ok(Array.isArray(cards) && cards.length > 0, 'GET v1/models: expected a non-empty list of cards');
  const names = cards.map((c) => c.name);
  log(`server at ${BASE.href} serves ${names.length} models: ${names.join(', ')}`);
  const size = (c) => c.input.shape.reduce((a, b) => a * b, 1);

  const profile = mkdtempSync(path.join(tmpdir(), 'han-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS,
    viewport: { width: 1120, height: 760 }, deviceScaleFactor: 1,
  });
  const outside = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') return route.continue();
    outside.push(u.href);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const consoleErrors = []; // shown only when a check fails (the error check causes some)
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const sent = []; // bodies of every predict request the page made
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/predict')) sent.push({ url: r.url(), body: r.postData() }); });

  try {
    // ------------------------------------------------------------------ image model
    const image = cards.find((c) => c.name === 'hannet-mnist') || cards.find((c) => [784, 64].includes(size(c)));
    await step(`image model (${image ? image.name : 'none served'}): a drawn digit predicts as the API does for the same pixels`, async () => {
      assert.ok(image, 'the server serves no image model (28x28 or 8x8)');
      await page.goto(url(`#${image.name}`));
      await page.waitForFunction(() => window.hanDemo && window.hanDemo.ready, null, { timeout: 15000 });
      assert.equal(await page.$eval('#model', (s) => s.value), image.name);
      // The card shows the card's numbers.
      const acc = await page.$eval('[data-field="accuracy"]', (e) => e.textContent);
      assert.equal(acc, `${(100 * image.metrics.test_accuracy).toFixed(2)} %`);
      const params = await page.$eval('[data-field="params"]', (e) => e.textContent);
      assert.equal(params, image.params.total.toLocaleString('en-US'));
      const cardText = await page.$eval('#card', (e) => e.textContent);
      assert.ok(cardText.includes(`${image.metrics.test_correct.toLocaleString('en-US')} / ${image.metrics.test_total.toLocaleString('en-US')}`), 'card shows correct / total');
      assert.ok(cardText.includes(image.dataset.name), 'card shows the dataset');

      // The downsampling itself, on synthetic pads whose answer follows from geometry.
      const geometry = await page.evaluate(() => {
        const pad = (rects) => {
          const a = new Uint8ClampedArray(280 * 280 * 4);
          for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) a.fill(255, 4 * (y * 280 + x), 4 * (y * 280 + x) + 4);
          return a;
        };
        const f = window.hanDemo.padToInput;
        return {
          // 28x28 without framing: 10x10 blocks; a 100x5 bar half-covers 10 cells of row 10.
          bar: f(pad([[50, 100, 150, 105]]), 280, 280, { side: 28, max: 255, fit: null }),
          // 8x8, values 0..16: 35x35 blocks; a 70x35 block fills cells (0, 2) and (0, 3).
          digits: f(pad([[70, 0, 140, 35]]), 280, 280, { side: 8, max: 16, fit: null }),
          // MNIST framing: a 40x80 bar in a corner becomes 10x20 pixels, centred at (14, 14).
          framed: f(pad([[0, 0, 40, 80]]), 280, 280, { side: 28, max: 255, fit: { box: 20 / 28, centre: 'mass' } }),
        };
      });
      const cells = (arr, side) => arr.map((v, i) => [Math.floor(i / side), i % side, v]).filter((c) => c[2] > 0);
      assert.deepEqual(cells(geometry.bar, 28), Array.from({ length: 10 }, (_, k) => [10, 5 + k, 128]), '28x28 area average');
      assert.deepEqual(cells(geometry.digits, 8), [[0, 2, 16], [0, 3, 16]], '8x8 area average, 0..16');
      // (Bilinear resampling blurs the bar's edges by a fraction of a pixel.)
      const strong = cells(geometry.framed, 28).filter((c) => c[2] >= 128);
      assert.deepEqual(strong.map((c) => [c[0], c[1]]), Array.from({ length: 200 }, (_, k) => [4 + Math.floor(k / 10), 9 + (k % 10)]),
        'MNIST framing: the bar fills rows 4..23 and columns 9..18');
      const faint = cells(geometry.framed, 28).filter((c) => c[2] < 128);
      assert.ok(faint.every((c) => c[2] < 40), `MNIST framing: only a faint blur outside the bar (${JSON.stringify(faint)})`);

      // A "7": a bar across the top, then a diagonal down to the bottom.
      const box = await page.locator('#pad').boundingBox();
      const before = sent.length;
      await strokes(page, box, [[[0.28, 0.22], [0.72, 0.22], [0.45, 0.85]]]);
      await settled(page, '#bars');
      assert.equal(await page.$eval('#bars', (e) => e.dataset.status), 'ok', 'the page shows predictions');
      assert.ok(sent.length - before >= 1, 'the page sent a predict request');

      const shown = await page.evaluate(() => window.hanDemo.shown);
      assert.equal(shown.model, image.name);
      assert.ok(sent.some((s) => s.body === shown.body && s.url.includes(`/v1/models/${image.name}/predict`)),
        'the bars belong to a request the page really sent');
      const req = JSON.parse(shown.body);
      assert.equal(req.inputs.length, 1);
      const px = req.inputs[0];
      const side = Math.round(Math.sqrt(size(image)));
      const max = side === 8 ? 16 : 255;
      assert.equal(px.length, side * side, 'one value per pixel');
      assert.ok(px.every((v) => Number.isInteger(v) && v >= 0 && v <= max), `pixels are integers in 0..${max}`);
      const ink = px.filter((v) => v > 0).length;
      assert.ok(ink > px.length / 20 && ink < px.length / 2, `a stroke covers some pixels, not all (${ink} of ${px.length})`);
      assert.ok(Math.max(...px) >= max * 0.9, 'the stroke reaches full intensity');
      if (side === 28 && !image.dataset.name.toLowerCase().includes('fashion')) {
        // MNIST framing: centre of mass at the image centre, digit inside a 20x20 box.
        let t = 0, cx = 0, cy = 0, r0 = 28, r1 = -1, c0 = 28, c1 = -1;
        px.forEach((v, i) => {
          const r = Math.floor(i / 28), c = i % 28;
          t += v; cx += v * (c + 0.5); cy += v * (r + 0.5);
          if (v > 0) { r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c); }
        });
        log(`sent 28x28: centre of mass (${(cx / t).toFixed(2)}, ${(cy / t).toFixed(2)}), ink rows ${r0}..${r1}, columns ${c0}..${c1}`);
        assert.ok(Math.abs(cx / t - 14) < 1 && Math.abs(cy / t - 14) < 1, 'centre of mass at (14, 14)');
        assert.ok(r1 - r0 + 1 <= 22 && c1 - c0 + 1 <= 22, 'the digit fits a 20x20 box (plus anti-aliasing)');
      }

      const api = await apiPredict(image.name, shown.body);
      assert.equal(api.model, image.name);
      const bars = await readBars(page, '#bars');
      const worst = assertSamePredictions(bars, api.predictions[0], 'drawn digit');
      assert.equal(bars[0].text, `${(100 * api.predictions[0][0].score).toFixed(1)} %`);
      log(`page: ${bars.map((b) => `${b.label} ${b.text}`).join(', ')}; API agrees (max score difference ${worst})`);
      await page.screenshot({ path: path.join(SHOTS, 'image.png') });
      if (DOCS) await page.screenshot({ path: path.join(DOCS, 'demo.png'), clip: { x: 0, y: 0, width: 1120, height: 560 } });
      if (/mnist$/.test(image.name) && image.metrics.test_accuracy > 0.95) {
        assert.equal(bars[0].label, '7', 'a drawn 7 is read as 7 by an MNIST model');
      }

      // Clear empties the input and the bars.
      await page.click('#clear');
      await page.waitForFunction(() => document.querySelector('#bars').dataset.status === 'empty' && !window.hanDemo.pending());
    });

    // ------------------------------------------------------------------ checkerboard
    const board = cards.find((c) => c.name === 'hannet-checkerboard') || cards.find((c) => size(c) === 2);
    await step(`checkerboard (${board ? board.name : 'none served'}): decision maps and a clicked point equal the API`, async () => {
      assert.ok(board, 'the server serves no 2-D point model');
      await page.goto(url(`#${board.name}`));
      await page.waitForFunction(() => window.hanDemo && window.hanDemo.ready);
      const panels = await page.$$eval('.panel', (ps) => ps.map((p) => p.dataset.model));
      const fc = board.name.replace(/^hannet-/, 'fcnet-');
      if (names.includes(fc) && fc !== board.name) assert.deepEqual(panels, [board.name, fc], 'Han and FC side by side');
      log(`panels: ${panels.join(' | ')}`);
      await page.waitForFunction((n) => [...document.querySelectorAll('.panel')].every((p) => p.dataset.status === 'ok') &&
        document.querySelectorAll('.panel').length === n, panels.length, { timeout: 30000 });

      // Each decision map: the 81x81 grid, every cell's class as the API answers it.
      for (const name of panels) {
        const map = await page.evaluate((n) => window.hanDemo.maps[n], name);
        const inputs = map.bodies.flatMap((b) => JSON.parse(b).inputs);
        assert.equal(inputs.length, 81 * 81, 'the map covers the 81x81 grid');
        const xs = [...new Set(inputs.map((p) => p[0]))].sort((a, b) => a - b);
        assert.equal(xs.length, 81);
        assert.ok(Math.abs(xs[0] + 1) < 1e-9 && Math.abs(xs[80] - 1) < 1e-9 && Math.abs(xs[40]) < 1e-9, 'grid spans [-1, 1]');
        const argmax = [];
        for (const b of map.bodies) argmax.push(...(await apiPredict(name, b)).predictions.map((p) => p[0].index));
        const diff = argmax.filter((a, i) => a !== map.argmax[i]).length;
        assert.equal(diff, 0, `${name}: ${diff} of 6561 map cells differ from the API`);
        log(`${name}: decision map (${map.bodies.length} request(s)) equals the API at all 6561 points`);
      }

      // Click the centre of a board cell: column a = 3, row b = 8 (from the bottom).
      const centre = (k) => -1 + 0.025 * (4 + 6 * k + 2.5);
      const want = { x1: centre(3), x2: centre(8) };
      const cv = await page.locator('.panel canvas').first().boundingBox();
      await page.mouse.click(cv.x + ((want.x1 + 1) / 2) * cv.width, cv.y + ((1 - want.x2) / 2) * cv.height);
      await page.waitForFunction((n) => [...document.querySelectorAll('.readout')].filter((r) => r.dataset.status === 'ok').length === n,
        panels.length, { timeout: 15000 });
      await page.waitForTimeout(300); // a hover request racing the click would land by now
      for (const name of panels) {
        const r = await page.$eval(`.panel[data-model="${name}"] .readout`, (e) => ({ ...e.dataset }));
        const x1 = Number(r.x1), x2 = Number(r.x2);
        assert.ok(Math.abs(x1 - want.x1) < 0.01 && Math.abs(x2 - want.x2) < 0.01,
          `${name}: clicked (${want.x1}, ${want.x2}) but the page classified (${x1}, ${x2})`);
        const api = await apiPredict(name, JSON.stringify({ inputs: [[x1, x2]], top_k: 2 }));
        const top = api.predictions[0][0];
        assert.equal(r.label, top.label, `${name}: label at (${x1}, ${x2})`);
        assert.equal(Number(r.index), top.index);
        assert.ok(Math.abs(Number(r.score) - top.score) <= 1e-6, `${name}: score ${r.score} vs API ${top.score}`);
        log(`${name} at (${x1}, ${x2}): page ${r.label} ${Number(r.score).toFixed(4)}, API ${top.label} ${top.score.toFixed(4)}`);
        if (name.startsWith('hannet') && board.metrics.test_accuracy > 0.99) {
          assert.equal(top.index, (3 + 8) % 2, 'the HanNet gets a cell centre right (class 1: odd a + b)');
        }
      }
      await page.screenshot({ path: path.join(SHOTS, 'checkerboard.png') });
      if (DOCS) await page.screenshot({ path: path.join(DOCS, 'demo-checkerboard.png'), clip: { x: 0, y: 0, width: 1120, height: 620 } });
    });

    // ------------------------------------------------------------------ MNIST-1D
    const seq = cards.find((c) => c.name === 'hannet-mnist1d') || cards.find((c) => size(c) === 40);
    if (seq) {
      await step(`MNIST-1D (${seq.name}): a bundled test sample predicts as the API does`, async () => {
        await page.goto(url(`#${seq.name}`));
        await page.waitForFunction(() => window.hanDemo && window.hanDemo.ready);
        const samples = await page.$$('.sample');
        if (samples.length) await samples[Math.min(1, samples.length - 1)].click();
        await settled(page, '#seq-bars');
        const shown = await page.evaluate(() => window.hanDemo.shown);
        assert.equal(JSON.parse(shown.body).inputs[0].length, 40);
        const api = await apiPredict(seq.name, shown.body);
        assertSamePredictions(await readBars(page, '#seq-bars'), api.predictions[0], 'MNIST-1D sample');
        log(`${samples.length} bundled samples; page and API agree: ${api.predictions[0][0].label}`);
        await page.screenshot({ path: path.join(SHOTS, 'mnist1d.png') });
      });
    } else {
      log('no MNIST-1D model served; skipped');
    }

    // ------------------------------------------------------------------ errors
    await step('a failing request shows the server\'s error on the page', async () => {
      assert.ok(image, 'needs an image model');
      await page.goto(url(`#${image.name}`));
      await page.waitForFunction(() => window.hanDemo && window.hanDemo.ready);
      // Send the page's next prediction to a model that does not exist: the real server's 404.
      await page.route('**/v1/models/*/predict', (route) => route.continue({ url: url('v1/models/no-such-model/predict') }));
      const box = await page.locator('#pad').boundingBox();
      await strokes(page, box, [[[0.5, 0.2], [0.5, 0.8]]]);
      await page.waitForSelector('#error:not([hidden])', { timeout: 15000 });
      const text = await page.$eval('#error-text', (e) => e.textContent);
      const direct = await fetch(url('v1/models/no-such-model/predict'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [[0]] }),
      });
      const err = await direct.json();
      assert.equal(direct.status, 404);
      assert.ok(text.includes(err.error) && text.includes('HTTP 404'), `page shows "${text}"; the server said "${err.error}"`);
      log(`page shows: ${text}`);
      await page.screenshot({ path: path.join(SHOTS, 'error.png') });
      await page.unroute('**/v1/models/*/predict');
    });

    await step('no request left 127.0.0.1 and the page threw nothing', async () => {
      assert.deepEqual(outside, [], 'requests to other hosts');
      assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
    });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  if (DOCS) log(`docs screenshots written to ${DOCS}`);
  log(`screenshots in ${SHOTS}`);
  if (failures) {
    if (consoleErrors.length) console.log(`page console errors:\n  ${consoleErrors.join('\n  ')}`);
    console.log(`${failures} browser check(s) failed`);
    process.exit(1);
  }
  console.log('all browser checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });
