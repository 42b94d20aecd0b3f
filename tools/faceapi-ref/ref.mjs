// Reference harness: runs @vladmandic/face-api's own age/gender, expression
// and 68-point landmark networks under Node (tfjs with the wasm backend, no
// native download) so that internal/faceapi's ONNX conversions can be
// compared with the real thing.
//
//   node ref.mjs SPEC.json > OUT.json
//
// SPEC: {"inputs": [{"name": "a", "width": W, "height": H, "rgb": "a.rgb"}],
//        "backend": "wasm" | "cpu" (default wasm),
//        "dump_input": "batch.f32" (optional), "time": true (optional)}
// Each .rgb file holds H*W*3 bytes, row-major RGB. All inputs run as one
// batch through face-api's own NetInput, so its crop rule runs too: each
// image is zero-padded to a centred square and resized to 112x112 with
// tf.image.resizeBilinear (alignCorners false, halfPixelCenters false),
// then normalised ((x - meanRgb) / 255). dump_input receives that resized
// batch before normalisation as float32 little-endian NHWC [N,112,112,3],
// so a caller can check its own preprocessing against face-api's.
//
// OUT: {"faceapi", "tfjs", "backend", "results": [{"name", "age",
// "gender": [male, female], "expressions": [7, face-api's label order],
// "landmarks_raw": [136] (fc output), "landmarks": [136] (after face-api's
// postProcess, relative to the unpadded input)}], "ms_per_face": {...}}
// ms_per_face (with "time") is each net's mean forward time per face over
// five runs of the whole batch after a warm-up.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
// CommonJS on purpose: face-api's node-wasm build requires these same
// module instances, so the backend set here is the one it runs on.
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const pkgDir = (name) => dirname(require.resolve(`${name}/package.json`));

async function init(backend) {
  if (backend === 'wasm') {
    // Local files, not the CDN face-api's demo names, read by Emscripten's
    // own loader (Node's fetch takes no file paths).
    wasm.setWasmPaths(`${join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist')}/`, false);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`faceapi-ref: backend ${backend} unavailable`);
  await tf.ready();
  const modelDir = join(pkgDir('@vladmandic/face-api'), 'model');
  await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
}

function readImages(spec, base) {
  return spec.inputs.map((inp) => {
    const buf = readFileSync(resolve(base, inp.rgb));
    if (buf.length !== inp.width * inp.height * 3) {
      throw new Error(`faceapi-ref: ${inp.rgb}: ${buf.length} bytes, want ${inp.width}x${inp.height}x3`);
    }
    return tf.tensor3d(Int32Array.from(buf), [inp.height, inp.width, 3], 'int32');
  });
}

// timed runs fn n times and returns the mean milliseconds per face.
async function timed(fn, faces, n = 5) {
  tf.dispose(fn()); // warm-up: the first run compiles kernels
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const out = fn();
    await Promise.all(Object.values(out instanceof tf.Tensor ? { out } : out).map((t) => t.data()));
    tf.dispose(out);
  }
  return (performance.now() - t0) / n / faces;
}

async function main() {
  const specPath = process.argv[2];
  if (!specPath) throw new Error('usage: node ref.mjs SPEC.json');
  const spec = JSON.parse(readFileSync(specPath, 'utf8'));
  const backend = spec.backend || 'wasm';
  await init(backend);
  const images = readImages(spec, dirname(resolve(specPath)));
  const input = await faceapi.toNetInput(images);
  const n = images.length;

  if (spec.dump_input) {
    const batch = input.toBatchTensor(112, true);
    writeFileSync(resolve(dirname(resolve(specPath)), spec.dump_input), Buffer.from((await batch.data()).buffer));
    batch.dispose();
  }
  const ag = faceapi.nets.ageGenderNet.forwardInput(input);
  const expr = faceapi.nets.faceExpressionNet.forwardInput(input);
  const lmRaw = faceapi.nets.faceLandmark68Net.runNet(input);
  const lm = faceapi.nets.faceLandmark68Net.forwardInput(input);
  const [age, gender, ex, raw, mapped] = await Promise.all([ag.age, ag.gender, expr, lmRaw, lm].map((t) => t.array()));
  tf.dispose([ag.age, ag.gender, expr, lmRaw, lm]);

  const results = spec.inputs.map((inp, i) => ({
    name: inp.name, age: age[i], gender: gender[i], expressions: ex[i], landmarks_raw: raw[i], landmarks: mapped[i],
  }));
  const msPerFace = spec.time ? {
    age_gender: await timed(() => faceapi.nets.ageGenderNet.forwardInput(input), n),
    expression: await timed(() => faceapi.nets.faceExpressionNet.forwardInput(input), n),
    landmark68: await timed(() => faceapi.nets.faceLandmark68Net.runNet(input), n),
  } : undefined;
  tf.dispose(images);
  const out = {
    faceapi: faceapi.version, tfjs: tf.version.tfjs, backend: tf.getBackend(), results, ms_per_face: msPerFace,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
