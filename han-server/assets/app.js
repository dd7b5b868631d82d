// The han demo page: a client of han-server's JSON API (GET v1/models, POST
// v1/models/{name}/predict) and nothing else. No dependencies, no build step.
//
// Inputs are sent raw, exactly as each model card describes them (pixels 0..255, digits
// 0..16, points in [-1, 1]^2, 40 MNIST-1D values); the server applies the preprocessing.
//
// `window.hanDemo` exposes what is on screen (the request body behind the bars, the decision
// maps) so that tests-browser/ can check it against the API.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const kid of kids) e.append(kid);
    return e;
  };
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  const fmtPct = (p, digits = 1) => `${(100 * p).toFixed(digits)} %`;

  const state = { cards: [], card: null, view: null, apiKey: sessionStorage.getItem('han-api-key') || '' };
  const hanDemo = { ready: false, shown: null, points: {}, maps: {}, pending: () => false };
  window.hanDemo = hanDemo;

  // ---------------------------------------------------------------- API client
  class ApiError extends Error {
    constructor(status, message, type) {
      super(message);
      this.status = status;
      this.type = type || '';
    }
  }

  // GET when `body` is undefined, else POST it as JSON (already a string, so that callers
  // can keep the exact bytes they sent).
  async function api(path, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (state.apiKey) headers.authorization = `Bearer ${state.apiKey}`;
    let res;
    try {
      res = await fetch(path, { method: body === undefined ? 'GET' : 'POST', headers, body });
    } catch (e) {
      throw new ApiError(0, `cannot reach the server (${e.message}); is han-server running?`, 'network');
    }
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* reported below */ }
    if (!res.ok) {
      const msg = (json && json.error) || text.slice(0, 300) || res.statusText;
      throw new ApiError(res.status, msg, json && json.error_type);
    }
    if (json === null) throw new ApiError(res.status, 'the server answered with something that is not JSON', 'decode');
    return json;
  }

  const predictPath = (name) => `v1/models/${encodeURIComponent(name)}/predict`;

  async function predict(name, inputs, topK) {
    const body = JSON.stringify({ inputs, top_k: topK });
    const response = await api(predictPath(name), body);
    if (!response || !Array.isArray(response.predictions) || response.predictions.length !== inputs.length) {
      throw new ApiError(200, `expected ${inputs.length} predictions from ${name}`, 'decode');
    }
    return { body, response };
  }

  // ---------------------------------------------------------------- errors
  function showError(what, err) {
    const status = err.status ? ` (HTTP ${err.status}${err.type ? `, ${err.type}` : ''})` : '';
    $('error-text').textContent = `${what}: ${err.message}${status}`;
    $('key-form').hidden = err.status !== 401;
    $('error').hidden = false;
    console.error(what, err);
  }
  const clearError = () => { $('error').hidden = true; };

  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.apiKey = $('key').value.trim();
    sessionStorage.setItem('han-api-key', state.apiKey);
    clearError();
    start();
  });

  // ---------------------------------------------------------------- what a model takes
  const inputLen = (card) => card.input.shape.reduce((a, b) => a * b, 1);

  // Which widget fits the card's raw input.
  function kindOf(card) {
    const n = inputLen(card);
    if (n === 2) return 'points';
    if (n === 40) return 'seq';
    const side = Math.round(Math.sqrt(n));
    if (side * side === n && (side === 8 || side === 28)) return 'image';
    return 'none';
  }

  // How a drawing becomes this model's raw input: output side, value range, and how the
  // dataset framed its images (MNIST: fitted into a 20x20 box and centred by centre of mass
  // in 28x28; Fashion-MNIST: longest side 28, centred; sklearn digits: the digit fills the 8x8
  // block grid, centred).
  function imageSpec(card) {
    const side = Math.round(Math.sqrt(inputLen(card)));
    const m = /0\s*\.\.\s*(\d+)/.exec(card.input.description || '');
    const max = m ? Number(m[1]) : side === 8 ? 16 : 255;
    const ds = `${card.dataset.name} ${card.name}`.toLowerCase();
    let fit = { box: 1, centre: 'box' };
    if (side === 28 && !ds.includes('fashion')) fit = { box: 20 / 28, centre: 'mass' };
    return { side, max, fit };
  }

  // ---------------------------------------------------------------- card
  function layerSummary(spec) {
    const tokens = [];
    for (const layer of spec.layers || []) {
      const t = layer.type;
      if ((t === 'abs' || t === 'relu') && tokens.length && !tokens[tokens.length - 1].act) {
        tokens[tokens.length - 1].act = t === 'abs' ? '|·|' : 'ReLU';
        continue;
      }
      let s;
      if (t === 'linear') s = `FC ${layer.in_features}→${layer.out_features}`;
      else if (t === 'han') s = `Han ${layer.dim}`;
      else if (t === 'conv2d') s = `conv ${layer.in_channels}→${layer.out_channels} ${layer.kernel_size}×${layer.kernel_size}`;
      else if (t === 'max_pool2d') s = `max-pool ${layer.kernel_size}`;
      else if (t === 'abs') s = '|·|';
      else if (t === 'relu') s = 'ReLU';
      else if (t === 'flatten') s = 'flatten';
      else if (t === 'reshape') s = `reshape ${(layer.shape || []).join('×')}`;
      else s = t;
      tokens.push({ s, kind: t, act: null });
    }
    const runs = [];
    for (const tok of tokens) {
      const label = tok.act ? `${tok.s} ${tok.act}` : tok.s;
      const prev = runs[runs.length - 1];
      if (prev && prev.label === label) prev.n += 1;
      else runs.push({ label, kind: tok.kind, n: 1 });
    }
    return runs;
  }

  function paramLine(p) {
    const parts = [];
    if (p.han) parts.push(`Han ${fmtInt(p.han)}`);
    if (p.fc) parts.push(`FC ${fmtInt(p.fc)}`);
    if (p.conv) parts.push(`conv ${fmtInt(p.conv)}`);
    return parts.join(' · ');
  }

  function renderCard(card) {
    const box = $('card');
    box.replaceChildren();
    const m = card.metrics || {};
    const p = card.params || {};
    const d = card.dataset || {};
    box.append(
      el('h2', { text: card.name }),
      el('p', { class: 'desc', text: card.description || '' }),
    );
    const stats = el('div', { class: 'stats' },
      el('div', { class: 'stat' },
        el('span', { class: 'big', 'data-field': 'accuracy', text: fmtPct(m.test_accuracy, 2) }),
        el('span', { class: 'small', text: `test accuracy · ${fmtInt(m.test_correct)} / ${fmtInt(m.test_total)} correct` })),
      el('div', { class: 'stat' },
        el('span', { class: 'big', 'data-field': 'params', text: fmtInt(p.total) }),
        el('span', { class: 'small', text: `parameters · ${paramLine(p)}` })),
    );
    box.append(stats);
    const dl = el('dl');
    const row = (k, v) => dl.append(el('dt', { text: k }), el('dd', {}, v));
    const split = [d.train && `${fmtInt(d.train)} train`, d.val && `${fmtInt(d.val)} val`, d.test && `${fmtInt(d.test)} test`]
      .filter(Boolean).join(' / ');
    row('Dataset', `${d.name}${split ? ` (${split})` : ''}`);
    const chips = el('span', { class: 'layers' });
    for (const r of layerSummary(card.architecture || {})) {
      chips.append(el('span', { class: `chip ${r.kind}`, text: r.n > 1 ? `${r.label} ×${r.n}` : r.label }));
    }
    row('Layers', chips);
    const shape = (card.input.shape || []).join(' x ');
    const desc = card.input.description || '';
    row('Input', desc.includes(shape) ? `${desc} (${card.input.dtype})` : `${shape} ${card.input.dtype}: ${desc}`);
    const labels = (card.head && card.head.labels) || [];
    row('Classes', labels.join(', '));
    if (d.licence) row('Data licence', d.licence);
    box.append(dl);
  }

  // ---------------------------------------------------------------- probability bars
  function renderBars(container, preds, labels) {
    container.replaceChildren();
    preds.forEach((p, i) => {
      const bar = el('div', { class: i === 0 ? 'bar top' : 'bar', 'data-label': p.label, 'data-index': String(p.index), 'data-score': String(p.score) },
        el('span', { class: 'name', text: p.label }),
        el('span', { class: 'track' }, el('span', { class: 'fill', style: `width: ${(100 * p.score).toFixed(2)}%` })),
        el('span', { class: 'pct', text: fmtPct(p.score) }));
      container.append(bar);
    });
    if (labels && preds.length < labels.length) {
      container.append(el('p', { class: 'hint', text: `top ${preds.length} of ${labels.length} classes` }));
    }
  }

  // Runs `task` at most once at a time and at most every `gap` ms; a request made while it
  // runs is kept (once) and served when it ends, so the last state is always predicted.
  function liveRunner(task, gap) {
    let busy = false, again = false, timer = null, last = 0;
    const go = async () => {
      timer = null;
      busy = true;
      last = performance.now();
      try { await task(); } finally {
        busy = false;
        if (again) { again = false; schedule(true); }
      }
    };
    const schedule = (now = false) => {
      if (busy) { again = true; return; }
      if (timer) { if (!now) return; clearTimeout(timer); }
      timer = setTimeout(go, now ? 0 : Math.max(0, gap - (performance.now() - last)));
    };
    schedule.pending = () => busy || again || timer !== null;
    return schedule;
  }

  // ---------------------------------------------------------------- image models
  const pad = $('pad');
  const padCtx = pad.getContext('2d', { willReadFrequently: true });
  // Brush diameter on the 280x280 pad, about the dataset's stroke width after framing: MNIST
  // strokes are 2-3 of 28 pixels, sklearn digits' about 2 of 8 cells.
  const brush = () => (state.card && imageSpec(state.card).side === 8 ? 60 : 22);
  let inked = false;

  function clearPad() {
    padCtx.fillStyle = '#000';
    padCtx.fillRect(0, 0, pad.width, pad.height);
    inked = false;
  }

  // Raw model input from the pad: optional dataset-like framing, then an area average onto
  // side x side cells, scaled to 0..max and rounded like the dataset's integers.
  // Pure function of (RGBA pixels, width, height, spec); exported on hanDemo for tests.
  function padToInput(rgba, W, H, spec) {
    const lum = new Float32Array(W * H);
    let total = 0, mx = 0, my = 0, x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = rgba[4 * (y * W + x)] / 255;
        lum[y * W + x] = v;
        if (v > 0) {
          total += v; mx += v * (x + 0.5); my += v * (y + 0.5);
          if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    }
    const out = new Array(spec.side * spec.side).fill(0);
    if (total === 0) return out;
    // Target (u, v) in pad coordinates samples the source at ((u - ox) / s + x0, ...).
    let s = 1, ox = 0, oy = 0, sx0 = 0, sy0 = 0;
    if (spec.fit) {
      x1 += 1; y1 += 1;
      s = (spec.fit.box * Math.min(W, H)) / Math.max(x1 - x0, y1 - y0);
      sx0 = x0; sy0 = y0;
      const cx = spec.fit.centre === 'mass' ? mx / total - x0 : (x1 - x0) / 2;
      const cy = spec.fit.centre === 'mass' ? my / total - y0 : (y1 - y0) / 2;
      ox = W / 2 - s * cx;
      oy = H / 2 - s * cy;
    }
    const at = (x, y) => (x >= 0 && y >= 0 && x < W && y < H ? lum[y * W + x] : 0);
    const sample = (fx, fy) => { // bilinear, pixel centres at i + 0.5
      const gx = fx - 0.5, gy = fy - 0.5;
      const ix = Math.floor(gx), iy = Math.floor(gy);
      const ax = gx - ix, ay = gy - iy;
      return (1 - ay) * ((1 - ax) * at(ix, iy) + ax * at(ix + 1, iy)) + ay * ((1 - ax) * at(ix, iy + 1) + ax * at(ix + 1, iy + 1));
    };
    const cellW = W / spec.side, cellH = H / spec.side;
    const sub = Math.max(1, Math.round(cellW)); // samples per cell edge: every pad pixel once
    for (let r = 0; r < spec.side; r++) {
      for (let c = 0; c < spec.side; c++) {
        let acc = 0;
        for (let j = 0; j < sub; j++) {
          const v = r * cellH + (j + 0.5) * (cellH / sub);
          for (let i = 0; i < sub; i++) {
            const u = c * cellW + (i + 0.5) * (cellW / sub);
            acc += sample((u - ox) / s + sx0, (v - oy) / s + sy0);
          }
        }
        out[r * spec.side + c] = Math.round(Math.min(1, acc / (sub * sub)) * spec.max);
      }
    }
    return out;
  }
  hanDemo.padToInput = padToInput;

  function drawPreview(values, spec) {
    const cv = $('preview');
    const ctx = cv.getContext('2d');
    const cell = cv.width / spec.side;
    for (let r = 0; r < spec.side; r++) {
      for (let c = 0; c < spec.side; c++) {
        const g = Math.round((255 * values[r * spec.side + c]) / spec.max);
        ctx.fillStyle = `rgb(${g},${g},${g})`;
        ctx.fillRect(Math.floor(c * cell), Math.floor(r * cell), Math.ceil(cell), Math.ceil(cell));
      }
    }
    $('preview-caption').textContent = `model input: ${spec.side}×${spec.side}, 0..${spec.max}`;
  }

  async function predictPad() {
    const card = state.card;
    if (!card || kindOf(card) !== 'image') return;
    const spec = imageSpec(card);
    if (!$('centre').checked) spec.fit = null;
    const img = padCtx.getImageData(0, 0, pad.width, pad.height);
    const values = padToInput(img.data, pad.width, pad.height, spec);
    drawPreview(values, spec);
    const bars = $('bars');
    if (!inked) {
      bars.dataset.status = 'empty';
      bars.replaceChildren(el('p', { class: 'hint', text: 'Draw something.' }));
      hanDemo.shown = null;
      return;
    }
    bars.dataset.status = 'pending';
    try {
      const { body, response } = await predict(card.name, [values], Math.min(5, card.head.classes));
      if (state.card !== card) return;
      renderBars(bars, response.predictions[0], card.head.labels);
      bars.dataset.status = 'ok';
      hanDemo.shown = { model: card.name, body, response };
      clearError();
    } catch (err) {
      if (state.card !== card) return;
      bars.dataset.status = 'error';
      showError(`predict with ${card.name}`, err);
    }
  }
  const livePad = liveRunner(predictPad, 120);

  (function wirePad() {
    let drawing = false, last = null;
    const pos = (e) => {
      const r = pad.getBoundingClientRect();
      return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
    };
    const stroke = (a, b) => {
      padCtx.strokeStyle = '#fff';
      padCtx.fillStyle = '#fff';
      const size = brush();
      padCtx.lineWidth = size;
      padCtx.lineCap = 'round';
      padCtx.lineJoin = 'round';
      padCtx.beginPath();
      if (a.x === b.x && a.y === b.y) {
        padCtx.arc(a.x, a.y, size / 2, 0, 2 * Math.PI);
        padCtx.fill();
      } else {
        padCtx.moveTo(a.x, a.y);
        padCtx.lineTo(b.x, b.y);
        padCtx.stroke();
      }
      inked = true;
    };
    pad.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      pad.setPointerCapture(e.pointerId);
      drawing = true;
      last = pos(e);
      stroke(last, last);
      livePad();
    });
    pad.addEventListener('pointermove', (e) => {
      if (!drawing) return;
      e.preventDefault();
      const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const ev of evs.length ? evs : [e]) {
        const p = pos(ev);
        stroke(last, p);
        last = p;
      }
      livePad();
    });
    const end = (e) => {
      if (!drawing) return;
      drawing = false;
      if (pad.hasPointerCapture(e.pointerId)) pad.releasePointerCapture(e.pointerId);
      livePad(true);
    };
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
    $('clear').addEventListener('click', () => { clearPad(); livePad(true); });
    $('centre').addEventListener('change', () => livePad(true));
  })();

  // ---------------------------------------------------------------- 2-D point models
  // The checkerboard's grid: 81 x 81 points evenly spaced on [-1, 1]^2.
  const GRID = 81;
  const gridCoord = (i) => Number((-1 + (2 * i) / (GRID - 1)).toFixed(4));
  const PALETTE = [[244, 241, 234], [47, 75, 124], [196, 110, 58], [90, 140, 90]];

  // The dataset's label at a point: a 12 x 12 board of 6 x 6-point cells on grid indices
  // 4..75, 0 elsewhere.
  function trueLabel(x1, x2) {
    const cell = (x) => Math.floor(((x + 1) / (2 / (GRID - 1)) - 3.5) / 6);
    const a = cell(x1), b = cell(x2);
    return a >= 0 && a < 12 && b >= 0 && b < 12 ? (a + b) % 2 : 0;
  }

  // Sends `inputs` in batches. The first try sends them all; if the server answers that the
  // batch is over its limit (`--max-batch-size`), the limit it names (else half) is used from
  // then on.
  async function predictMany(name, inputs, topK) {
    const preds = [];
    const bodies = [];
    for (let at = 0; at < inputs.length;) {
      const chunk = inputs.slice(at, at + (state.batchLimit || inputs.length));
      try {
        const { body, response } = await predict(name, chunk, topK);
        preds.push(...response.predictions);
        bodies.push(body);
        at += chunk.length;
      } catch (err) {
        if (err.status !== 422 || err.type !== 'batch_too_large' || chunk.length === 1) throw err;
        const m = /limit of (\d+)/.exec(err.message);
        state.batchLimit = Math.max(1, Math.min(chunk.length - 1, m ? Number(m[1]) : Math.ceil(chunk.length / 2)));
      }
    }
    return { preds, bodies };
  }

  const probsOf = (pred, classes) => {
    const p = new Array(classes).fill(0);
    for (const e of pred) p[e.index] = e.score;
    return p;
  };

  function buildPoints(cards) {
    const root = $('demo-points');
    root.replaceChildren();
    const view = { panels: [], pin: null, hover: null };
    const toolbar = el('div', { class: 'tools' },
      el('label', {}, el('input', { type: 'checkbox', id: 'truth', checked: true }), ' outline the true board'),
      el('span', { class: 'hint', text: 'Hover to classify a point in both models; click to pin it.' }));
    const row = el('div', { class: 'panels' });
    root.append(row, toolbar);
    for (const card of cards) {
      const canvas = el('canvas', { width: 405, height: 405, 'aria-label': `decision map of ${card.name}` });
      const readout = el('p', { class: 'readout', 'data-status': 'empty', text: '…' });
      const panel = el('div', { class: 'panel', 'data-model': card.name, 'data-status': 'loading' },
        el('h3', { text: card.name }),
        el('p', { class: 'meta', text: `${fmtPct(card.metrics.test_accuracy, 2)} test (${fmtInt(card.metrics.test_correct)}/${fmtInt(card.metrics.test_total)}) · ${fmtInt(card.params.total)} params${paramLine(card.params) ? ` (${paramLine(card.params)})` : ''}` }),
        el('div', { class: 'square' }, canvas, el('span', { class: 'axis x', text: 'x1 →' }), el('span', { class: 'axis y', text: 'x2 →' })),
        readout);
      row.append(panel);
      const map = document.createElement('canvas');
      map.width = canvas.width; map.height = canvas.height;
      view.panels.push({ card, canvas, readout, panel, map, probs: null });
    }
    const toPoint = (canvas, e) => {
      const r = canvas.getBoundingClientRect();
      const x1 = -1 + (2 * (e.clientX - r.left)) / r.width;
      const x2 = 1 - (2 * (e.clientY - r.top)) / r.height;
      const clamp = (v) => Math.max(-1, Math.min(1, Number(v.toFixed(3))));
      return { x1: clamp(x1), x2: clamp(x2) };
    };
    const redraw = () => {
      const truth = $('truth').checked;
      for (const p of view.panels) drawPanel(p, truth, view.pin, view.hover);
    };
    $('truth').addEventListener('change', redraw);

    const classify = async (pt, source) => {
      await Promise.all(view.panels.map(async (p) => {
        const card = p.card;
        p.readout.dataset.status = 'pending';
        try {
          const { body, response } = await predict(card.name, [[pt.x1, pt.x2]], card.head.classes);
          if (state.view !== view) return;
          const cur = source === 'pin' ? view.pin : view.hover || view.pin;
          if (!cur || cur.x1 !== pt.x1 || cur.x2 !== pt.x2) return; // a newer point is shown
          const best = response.predictions[0][0];
          const t = trueLabel(pt.x1, pt.x2);
          const tl = card.head.labels[t] !== undefined ? card.head.labels[t] : String(t);
          p.readout.replaceChildren(
            el('span', { class: 'coords', text: `(${pt.x1.toFixed(3)}, ${pt.x2.toFixed(3)})` }), ' → class ',
            el('b', { text: best.label }), ` · ${fmtPct(best.score)}`,
            el('span', { class: best.index === t ? 'truth ok' : 'truth bad', text: ` (board: ${tl})` }));
          Object.assign(p.readout.dataset, { status: 'ok', source, x1: String(pt.x1), x2: String(pt.x2), label: best.label, index: String(best.index), score: String(best.score) });
          hanDemo.points[card.name] = { source, x1: pt.x1, x2: pt.x2, body, response };
          clearError();
        } catch (err) {
          p.readout.dataset.status = 'error';
          showError(`classify a point with ${card.name}`, err);
        }
      }));
    };
    const liveHover = liveRunner(async () => { if (view.hover) await classify(view.hover, 'hover'); }, 60);
    for (const p of view.panels) {
      p.canvas.addEventListener('pointermove', (e) => {
        view.hover = toPoint(p.canvas, e);
        redraw();
        liveHover();
      });
      p.canvas.addEventListener('pointerleave', () => {
        view.hover = null;
        redraw();
        if (view.pin) classify(view.pin, 'pin');
      });
      p.canvas.addEventListener('click', (e) => {
        view.pin = toPoint(p.canvas, e);
        view.hover = null;
        redraw();
        classify(view.pin, 'pin');
      });
    }

    // The decision maps: the whole grid, one batch request per model.
    const grid = [];
    for (let r = 0; r < GRID; r++) for (let c = 0; c < GRID; c++) grid.push([gridCoord(c), gridCoord(GRID - 1 - r)]);
    for (const p of view.panels) {
      (async () => {
        try {
          const { preds, bodies } = await predictMany(p.card.name, grid, p.card.head.classes);
          if (state.view !== view) return;
          p.probs = preds.map((pr) => probsOf(pr, p.card.head.classes));
          paintMap(p);
          hanDemo.maps[p.card.name] = { bodies, argmax: preds.map((pr) => pr[0].index) };
          p.panel.dataset.status = 'ok';
          redraw();
        } catch (err) {
          p.panel.dataset.status = 'error';
          showError(`decision map of ${p.card.name}`, err);
        }
      })();
    }
    redraw();
    return view;
  }

  // Colours each grid cell by its class probabilities (a blend of the class colours).
  function paintMap(p) {
    const ctx = p.map.getContext('2d');
    const W = p.map.width, H = p.map.height;
    const step = W / (GRID - 1);
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        const probs = p.probs[r * GRID + c];
        const rgb = [0, 0, 0];
        probs.forEach((q, k) => { const col = PALETTE[k % PALETTE.length]; for (let i = 0; i < 3; i++) rgb[i] += q * col[i]; });
        ctx.fillStyle = `rgb(${rgb.map(Math.round).join(',')})`;
        const x = Math.max(0, (c - 0.5) * step), y = Math.max(0, (r - 0.5) * step);
        ctx.fillRect(Math.floor(x), Math.floor(y), Math.ceil(Math.min(W, (c + 0.5) * step) - x) + 1, Math.ceil(Math.min(H, (r + 0.5) * step) - y) + 1);
      }
    }
  }

  function drawPanel(p, truth, pin, hover) {
    const ctx = p.canvas.getContext('2d');
    const W = p.canvas.width, H = p.canvas.height;
    ctx.clearRect(0, 0, W, H);
    if (p.probs) ctx.drawImage(p.map, 0, 0);
    else { ctx.fillStyle = '#eee'; ctx.fillRect(0, 0, W, H); ctx.fillStyle = '#888'; ctx.font = '14px sans-serif'; ctx.fillText('computing the decision map…', 20, H / 2); }
    const px = (x1) => ((x1 + 1) / 2) * W;
    const py = (x2) => ((1 - x2) / 2) * H;
    if (truth) {
      // Outline the class-1 cells of the true board.
      ctx.strokeStyle = 'rgba(214, 120, 40, 0.9)';
      ctx.lineWidth = 1.5;
      const edge = (k) => -1 + (2 / (GRID - 1)) * (3.5 + 6 * k);
      for (let a = 0; a < 12; a++) {
        for (let b = 0; b < 12; b++) {
          if ((a + b) % 2 === 0) continue;
          const xa = px(edge(a)), xb = px(edge(a + 1)), ya = py(edge(b + 1)), yb = py(edge(b));
          ctx.strokeRect(xa, ya, xb - xa, yb - ya);
        }
      }
    }
    const mark = (pt, filled) => {
      ctx.beginPath();
      ctx.arc(px(pt.x1), py(pt.x2), 6, 0, 2 * Math.PI);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = '#d33';
      if (filled) { ctx.fillStyle = '#fff'; ctx.fill(); }
      ctx.stroke();
    };
    if (pin) mark(pin, true);
    if (hover) mark(hover, false);
  }

  // ---------------------------------------------------------------- MNIST-1D
  // A few MNIST-1D test samples: {index in the test split, label, 40 raw values}.
  // Generated by tests-browser/mnist1d-samples.mjs from the exported dataset in data/mnist1d.
  const SEQ_SAMPLES = [
    { index: 10, label: 0, x: [0.8848, 0.8731, 0.9834, 0.2087, -0.0863, 0.4329, 0.7152, 0.7236, 0.6423, 0.2556, -0.3231, -0.58, -0.5143, -0.1987, 1.5046, 2.5589, 2.8482, 2.8717, 2.4161, 1.2827, 0.0516, 0.2784, -0.2067, -0.5446, -0.7126, -0.8679, -0.8695, -0.6435, -0.5455, -0.1073, -0.5712, -1.0964, -1.1205, -1.0411, -0.5065, -0.0182, 0.2745, 0.6185, 0.6999, 1.0108] },
    { index: 6, label: 1, x: [-0.4876, -0.6348, -0.2927, 0.3106, 0.3322, -0.5451, -0.8044, -0.9035, 0.0251, 0.0859, 0.0955, 0.027, -0.3444, -0.71, -0.3366, 0.2626, 1.1087, 0.6136, -0.5001, -0.5468, 0.0673, -0.0796, -0.7756, -1.3286, -0.9366, 0.1137, -1.9077, -1.5973, -1.0358, -0.3812, 0.4755, 0.7841, 0.2966, 0.4215, 0.826, 0.8682, 0.4649, 0.1065, 0.4201, 1.0241] },
    { index: 0, label: 2, x: [-0.0788, -0.2107, -0.0918, 0.2827, 0.3261, 0.0384, -0.5308, -0.4489, 0.221, 0.6795, 0.5559, -0.4365, -0.7867, -0.2443, -0.093, -0.3556, -0.9264, -1.1766, -1.0008, -1.1683, -1.0839, -0.3088, 0.0899, -0.0506, -0.0952, 1.0161, 1.4904, 1.1698, 0.2513, -0.3314, -1.0271, -0.9057, -0.0649, 0.1285, -1.0197, -0.6019, 0.4196, 1.1342, 0.8463, 0.3461] },
    { index: 2, label: 3, x: [1.7739, 1.269, 1.3767, 1.3051, 2.2786, 2.8973, 2.5553, 0.837, 1.1393, 2.5878, 2.6594, 1.2994, 0.4398, 1.4418, 1.5048, 1.5992, 1.2438, 0.6594, -0.3934, -0.5449, -0.3411, 0.353, 0.3704, -0.703, -1.1886, -0.9036, -1.1592, -0.7491, -0.6642, -0.5696, -0.1381, 0.2282, 0.0774, -0.5338, -1.7996, -1.6481, -1.4448, -0.7002, -0.1029, 0.074] },
    { index: 4, label: 4, x: [-0.8358, -0.6119, -0.4067, -1.5032, -2.047, -1.7979, -1.7075, -1.1987, -0.6222, -0.7317, -1.2998, -2.1548, -2.5557, -0.8372, -0.2934, -0.0758, -0.1589, 0.2451, -0.6834, -1.0339, -1.2925, -0.8584, -0.2353, -0.4499, -0.4476, -0.4629, 0.0732, 0.6789, 0.9281, 1.1923, 1.2501, 0.5988, 0.2322, 0.0294, 0.2627, 0.6248, 0.7429, 0.8041, 0.5568, 0.4548] },
    { index: 8, label: 5, x: [1.2709, 1.1623, 0.8845, 0.5975, 0.4194, 0.4033, 0.2281, 0.4732, 1.2816, 1.3327, 0.9761, 0.4598, 0.6445, 0.7583, 0.3341, -1.3109, -1.4569, -0.7053, 1.0286, 1.1965, 0.4978, 0.0307, -0.0984, -0.014, -0.4787, -0.2644, -0.2173, -0.3089, -0.3314, -0.7262, -0.8107, -0.7092, -0.3384, -0.3251, -1.305, -1.6802, -1.549, -1.0249, -1.5409, -1.989] },
    { index: 1, label: 6, x: [0.471, 0.7311, 0.7837, 0.7803, 0.7593, 0.9988, 0.9106, 0.9879, 0.3889, 0.37, 0.0471, -1.9867, -2.8231, -3.2313, -3.4804, -3.439, -3.1256, -2.4755, -0.6951, 0.0896, -0.0678, 0.26, 0.3996, 1.2631, 1.5271, 1.5956, 1.2254, 0.4498, 0.1377, 0.5637, 0.5398, 0.527, 0.1426, -0.692, -1.6117, -1.6947, -0.9312, -0.4625, -0.1845, 0.0968] },
    { index: 11, label: 7, x: [0.3795, 0.5627, 0.3682, 0.2226, 0.5609, 0.0966, -0.2019, 0.1144, 0.5624, 0.2867, -0.3579, -0.37, -0.2635, -0.1675, 0.1867, 1.1211, 0.9582, 0.2367, -0.3576, -0.2287, -0.2742, -0.1995, -0.2973, -0.0269, -0.0794, 2.4796, 2.4311, 1.7804, 0.7209, 0.1782, -0.547, -1.2263, -0.3461, -0.5225, 1.0301, 0.6726, 0.2189, 0.0703, -0.2186, -0.4121] },
    { index: 30, label: 8, x: [-2.1132, -1.477, -1.2087, -0.9786, -0.5552, -0.151, -0.3797, -0.8422, -0.7711, 0.0349, 0.292, -0.0953, -0.7299, -0.8708, -0.6317, -0.3229, -0.246, -0.8336, -0.3707, -1.9915, -2.0914, -0.0397, -0.9064, -2.1055, -0.8135, 0.2228, 0.2696, 0.8504, 1.4812, 1.5169, 1.2329, 0.6904, 0.2371, 0.7223, 1.5148, 1.515, 1.7293, 1.4258, 1.0706, 0.7203] },
    { index: 3, label: 9, x: [2.2846, 1.6926, 0.5868, 0.0057, 0.2195, 0.8117, 0.3908, -0.1037, -0.3953, -0.1301, -0.0735, 0.7694, 1.2426, 1.3151, 1.2331, -0.3813, -1.8915, -1.7397, -0.0962, -0.0873, -0.2526, -0.8185, -0.0906, -0.9396, -0.9246, -0.7779, -0.1606, 0.1764, 0.3669, 0.4942, 0.3826, 0.3359, 0.1678, -0.1239, 0.098, 0.3304, 0.544, 0.206, -0.0875, -0.1006] },
  ];
  const seq = { values: new Array(40).fill(0), lo: -4, hi: 4, sample: null };

  // Which curve is shown: a bundled test sample (with its true class) or the user's.
  function seqCaption() {
    const s = seq.sample;
    const labels = (state.card && state.card.head.labels) || [];
    $('seq-caption').textContent = s ? `test sample #${s.index}, true class ${labels[s.label] !== undefined ? labels[s.label] : s.label}` : 'your curve';
    for (const b of document.querySelectorAll('.sample')) b.classList.toggle('active', s !== null && b.dataset.index === String(s.index));
  }

  function drawCurve() {
    const cv = $('curve');
    const ctx = cv.getContext('2d');
    const W = cv.width, H = cv.height, n = seq.values.length;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, W, H);
    const px = (i) => 12 + (i * (W - 24)) / (n - 1);
    const py = (v) => H - 10 - ((v - seq.lo) / (seq.hi - seq.lo)) * (H - 20);
    ctx.strokeStyle = '#ddd';
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, py(0)); ctx.lineTo(W, py(0)); ctx.stroke();
    ctx.strokeStyle = '#2f4b7c';
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    seq.values.forEach((v, i) => (i ? ctx.lineTo(px(i), py(v)) : ctx.moveTo(px(i), py(v))));
    ctx.stroke();
    ctx.fillStyle = '#2f4b7c';
    seq.values.forEach((v, i) => { ctx.beginPath(); ctx.arc(px(i), py(v), 3, 0, 2 * Math.PI); ctx.fill(); });
    seq.px = px;
  }

  async function predictSeq() {
    const card = state.card;
    if (!card || kindOf(card) !== 'seq') return;
    const bars = $('seq-bars');
    bars.dataset.status = 'pending';
    const values = seq.values.map((v) => Number(v.toFixed(4)));
    try {
      const { body, response } = await predict(card.name, [values], Math.min(5, card.head.classes));
      if (state.card !== card) return;
      renderBars(bars, response.predictions[0], card.head.labels);
      bars.dataset.status = 'ok';
      hanDemo.shown = { model: card.name, body, response };
      clearError();
    } catch (err) {
      if (state.card !== card) return;
      bars.dataset.status = 'error';
      showError(`predict with ${card.name}`, err);
    }
  }
  const liveSeq = liveRunner(predictSeq, 120);

  (function wireCurve() {
    const cv = $('curve');
    let drawing = false, lastI = null;
    const at = (e) => {
      const r = cv.getBoundingClientRect();
      const x = ((e.clientX - r.left) * cv.width) / r.width, y = ((e.clientY - r.top) * cv.height) / r.height;
      const n = seq.values.length;
      const i = Math.max(0, Math.min(n - 1, Math.round(((x - 12) * (n - 1)) / (cv.width - 24))));
      const v = seq.lo + ((cv.height - 10 - y) / (cv.height - 20)) * (seq.hi - seq.lo);
      return { i, v: Math.max(seq.lo, Math.min(seq.hi, v)) };
    };
    const set = (p) => {
      if (lastI !== null && lastI.i !== p.i) {
        const step = p.i > lastI.i ? 1 : -1;
        for (let k = lastI.i; k !== p.i; k += step) seq.values[k] = lastI.v + ((p.v - lastI.v) * (k - lastI.i)) / (p.i - lastI.i);
      }
      seq.values[p.i] = p.v;
      lastI = p;
      if (seq.sample) { seq.sample = null; seqCaption(); }
      drawCurve();
      liveSeq();
    };
    cv.addEventListener('pointerdown', (e) => { e.preventDefault(); cv.setPointerCapture(e.pointerId); drawing = true; lastI = null; set(at(e)); });
    cv.addEventListener('pointermove', (e) => { if (drawing) set(at(e)); });
    const end = () => { if (drawing) { drawing = false; liveSeq(true); } };
    cv.addEventListener('pointerup', end);
    cv.addEventListener('pointercancel', end);
    $('curve-clear').addEventListener('click', () => { seq.values.fill(0); seq.sample = null; seqCaption(); drawCurve(); liveSeq(true); });
  })();

  function buildSamples() {
    const box = $('samples');
    box.replaceChildren();
    if (!SEQ_SAMPLES.length) { box.textContent = 'none bundled'; seq.sample = null; seqCaption(); return; }
    let lo = 0, hi = 0;
    for (const s of SEQ_SAMPLES) for (const v of s.x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const m = Math.ceil(Math.max(-lo, hi) + 0.25);
    seq.lo = -m; seq.hi = m;
    const labels = (state.card && state.card.head.labels) || [];
    SEQ_SAMPLES.forEach((s, k) => {
      const name = labels[s.label] !== undefined ? labels[s.label] : String(s.label);
      box.append(el('button', {
        type: 'button', class: 'sample', text: `#${s.index}: ${name}`, 'data-index': String(s.index),
        title: `test sample ${s.index}, true class ${name}`,
        onclick: () => { seq.values = s.x.slice(); seq.sample = s; seqCaption(); drawCurve(); liveSeq(true); },
      }));
      if (k === 0) { seq.values = s.x.slice(); seq.sample = s; }
    });
    seqCaption();
  }

  // ---------------------------------------------------------------- selection
  function counterpart(card) {
    const [fam, ...rest] = card.name.split('-');
    const other = { hannet: 'fcnet', fcnet: 'hannet' }[fam];
    if (!other) return null;
    return state.cards.find((c) => c.name === [other, ...rest].join('-') && kindOf(c) === kindOf(card)) || null;
  }

  function select(name) {
    const card = state.cards.find((c) => c.name === name) || state.cards[0];
    if (!card) return;
    state.card = card;
    hanDemo.shown = null;
    $('model').value = card.name;
    if (location.hash.slice(1) !== card.name) history.replaceState(null, '', `#${card.name}`);
    renderCard(card);
    const kind = kindOf(card);
    $('demo-image').hidden = kind !== 'image';
    $('demo-points').hidden = kind !== 'points';
    $('demo-seq').hidden = kind !== 'seq';
    state.view = null;
    if (kind === 'image') {
      clearPad();
      livePad(true);
    } else if (kind === 'points') {
      const other = counterpart(card);
      const pair = [card, other].filter(Boolean).sort((a, b) => (a.name.startsWith('hannet') ? -1 : b.name.startsWith('hannet') ? 1 : 0));
      state.view = buildPoints(pair);
    } else if (kind === 'seq') {
      buildSamples();
      drawCurve();
      liveSeq(true);
    } else {
      $('card').append(el('p', { class: 'hint', text: `This page has no input widget for inputs of shape [${card.input.shape.join(', ')}]; use the API directly.` }));
    }
    hanDemo.pending = () => (kind === 'image' ? livePad.pending() : kind === 'seq' ? liveSeq.pending() : false);
  }

  async function start() {
    let list;
    try {
      list = await api('v1/models');
    } catch (err) {
      showError('list the models (GET v1/models)', err);
      if (err.status === 503) setTimeout(start, 2000); // still loading: try again
      return;
    }
    const cards = Array.isArray(list) ? list : list.models || list.data || [];
    state.cards = cards.filter((c) => c && c.name && c.input && c.head);
    if (!state.cards.length) {
      showError('list the models', new ApiError(0, 'the server has no models', 'empty'));
      return;
    }
    const order = ['checkerboard', 'digits', 'mnist', 'fashion', 'mnist1d'];
    const rank = (c) => { const i = order.findIndex((o) => c.name.endsWith(`-${o}`)); return i < 0 ? order.length : i; };
    state.cards.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
    const sel = $('model');
    sel.replaceChildren();
    let group = null, groupName = null;
    for (const c of state.cards) {
      const g = c.dataset && c.dataset.name ? c.dataset.name : 'other';
      if (g !== groupName) { group = el('optgroup', { label: g }); sel.append(group); groupName = g; }
      group.append(el('option', { value: c.name, text: `${c.name} (${fmtPct(c.metrics.test_accuracy, 2)})` }));
    }
    sel.disabled = false;
    const wanted = decodeURIComponent(location.hash.slice(1));
    const fallback = state.cards.find((c) => c.name === 'hannet-mnist') || state.cards[0];
    clearError();
    select(state.cards.some((c) => c.name === wanted) ? wanted : fallback.name);
    hanDemo.ready = true;
  }

  $('model').addEventListener('change', (e) => select(e.target.value));
  window.addEventListener('hashchange', () => {
    const name = decodeURIComponent(location.hash.slice(1));
    if (state.card && name !== state.card.name && state.cards.some((c) => c.name === name)) select(name);
  });
  clearPad();
  start();
})();
