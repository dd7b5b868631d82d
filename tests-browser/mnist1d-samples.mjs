// Embeds a few MNIST-1D test samples in the demo page (han-server/assets/app.js, the
// SEQ_SAMPLES constant): the first test sample of each class, values rounded to 4 decimals.
//
//   node tests-browser/mnist1d-samples.mjs [data/mnist1d]
//
// Reads the export of han-models' MNIST-1D loader: test-x.f32 (1,000 x 40 little-endian
// float32) and test-y.u8 (`han-zoo data fetch` writes them).

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.argv[2] || path.join(root, 'data', 'mnist1d');
const app = path.join(root, 'han-server', 'assets', 'app.js');

const xb = readFileSync(path.join(dir, 'test-x.f32'));
const y = readFileSync(path.join(dir, 'test-y.u8'));
const n = y.length;
if (xb.length !== n * 40 * 4) throw new Error(`test-x.f32 has ${xb.length} bytes; expected ${n} x 40 float32`);
const x = new Float32Array(xb.buffer.slice(xb.byteOffset, xb.byteOffset + xb.length));

const picked = [];
for (let label = 0; label < 10; label++) {
  const index = y.findIndex((l) => l === label);
  if (index < 0) continue;
  const values = Array.from(x.subarray(index * 40, index * 40 + 40), (v) => Number(v.toFixed(4)));
  picked.push(`    { index: ${index}, label: ${label}, x: [${values.join(', ')}] },`);
}

const src = readFileSync(app, 'utf8');
const re = /const SEQ_SAMPLES = \[[\s\S]*?\n?\s*\];/;
if (!re.test(src)) throw new Error(`no SEQ_SAMPLES constant in ${app}`);
const out = src.replace(re, `const SEQ_SAMPLES = [\n${picked.join('\n')}\n  ];`);
writeFileSync(app, out);
console.log(`embedded ${picked.length} MNIST-1D test samples (indices ${picked.map((p) => /index: (\d+)/.exec(p)[1]).join(', ')}) in ${path.relative(root, app)}`);
