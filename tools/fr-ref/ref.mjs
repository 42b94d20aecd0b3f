// Reference harness for internal/onnx/reference_test.go.
//
// It runs each model facet takes from faceplugin-face-recognition-js@0.0.1
// the way the package's own code does (package/lib/fr_detect.js,
// fr_expression.js, fr_age.js, fr_gender.js, with the OpenCV.js build the
// package ships), and each model of facet's "fast" set the way its original
// project does (Linzaer's UltraFace detect_imgs_onnx.py, oarriaga's
// face_classification video_emotion_color_demo.py), and prints what it fed
// each model and what came out, so facet can be compared number for number.
//
// Usage:
//
//	node ref.mjs --image FILE.rgb --width W --height H [--set faceplugin|fast]
//	    [--box x1,y1,x2,y2[,angle]]... [--variant NAME=switch,...]... [--out DIR]
//	    [--weight-one N]
//
// FILE.rgb holds W*H*3 bytes, RGB, row-major: what a browser canvas holds,
// less its alpha (255). Each --box is a face in pixels, as facet's detector
// reports it, with the angle (radians) facet turns an aligned crop by;
// without --box each variant uses its own detector's faces.
//
// Each --variant runs the reference with the named switches on ("reference",
// none, when no --variant is given). A switch reproduces one thing facet
// does differently, so that facet can be compared with "reference plus its
// documented deviations" and each deviation measured:
//
//	ROLE-swap      the model sees the picture with R and B exchanged
//	ROLE-resample  facet's resampler replaces cv.resize (and the ROI):
//	               bilinear with OpenCV's pixel-centre alignment, weights
//	               rounded to 1/N (--weight-one, facet's wOne; default
//	               2048), no rounding of the result to uint8, and
//	               the frame beyond a crop's border read where cv.resize on
//	               an ROI repeats the ROI's edge; grey taken after resampling
//	detector-nms   UltraFace's own post-processing (score > 0.7, hard NMS
//	               at IoU 0.3): faceplugin, instead of fr_detect.js's; fast,
//	               instead of the ONNX demo's IoU 0.5
//	emotion-crop   fr_expression's crop is the square of side max(w,h)
//	               centred on the box, clamped to the frame and cut to whole
//	               pixels, instead of Rect(x, y, 1.2w, 1.2h)
//	emotion-align  with emotion-crop and a box angle: that square, neither
//	               clamped nor cut, turned by the angle about its centre
//	               (cv.warpAffine, bilinear, the frame's edge repeated)
//
// ROLE is detector, emotion, age or gender. A model's results depend only on
// its own switches, so each is computed once per distinct set of them.
//
// With --out every input tensor and the detector's raw outputs are written
// there as little-endian float32 and named in the JSON ("file").
//
// Files: .cache/fr-ref/ (scripts/setup-fr-ref.sh) for OpenCV.js and the
// package's unmodified models; ${FACET_SHARED_DIR:-../shared}/models for
// the fast set's.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const cacheDir = path.join(repo, '.cache', 'fr-ref');
const sharedDir = process.env.FACET_SHARED_DIR || path.resolve(repo, '..', 'shared');

const ROLES = ['detector', 'emotion', 'age', 'gender'];
const SWITCHES = new Set([
  ...ROLES.flatMap((r) => [`${r}-swap`, `${r}-resample`]),
  'detector-nms', 'emotion-crop', 'emotion-align',
]);

let cv; // OpenCV.js, once loaded

main().catch((err) => {
  process.stderr.write(`fr-ref: ${err.stack || err}\n`);
  process.exit(1);
});

async function main() {
  const t0 = Date.now();
  const args = parseArgs(process.argv.slice(2));
  cv = await loadOpenCV();
  const sessions = await loadSessions(args.set);
  const rgb = fs.readFileSync(args.image);
  if (rgb.length !== args.width * args.height * 3) {
    throw new Error(`${args.image}: ${rgb.length} bytes, want ${args.width}x${args.height}x3`);
  }
  const pipeline = args.set === 'faceplugin' ? faceplugin : fast;
  const cache = new Map(); // role and its switches -> result
  const variants = {};
  for (const v of args.variants) {
    const ctx = { rgb, w: args.width, h: args.height, dev: v.devs, out: args.out, name: v.name, sessions, weightOne: args.weightOne };
    // once runs one model's part of this variant, or reuses the result of
    // an earlier variant with the same switches for that role.
    ctx.once = async (role, face, fn) => {
      const key = [role, face, ...[...v.devs].filter((d) => d.startsWith(role + '-')).sort()].join(' ');
      if (!cache.has(key)) cache.set(key, await fn());
      return cache.get(key);
    };
    variants[v.name] = { deviations: [...v.devs], ...(await pipeline(ctx, args.boxes)) };
  }
  process.stdout.write(JSON.stringify({
    set: args.set,
    opencv: cv.getBuildInformation().match(/OpenCV (\S+)/)[1],
    onnxruntime: ort.env.versions.node,
    variants,
    ms: Date.now() - t0,
  }) + '\n');
}

function parseArgs(argv) {
  const a = { set: 'faceplugin', boxes: [], variants: [], out: '', weightOne: 2048 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    switch (k) {
      case '--image': a.image = v; break;
      case '--width': a.width = parseInt(v, 10); break;
      case '--height': a.height = parseInt(v, 10); break;
      case '--set': a.set = v; break;
      case '--out': a.out = v; break;
      case '--weight-one': a.weightOne = parseInt(v, 10); break;
      case '--box': a.boxes.push(v.split(',').map(Number)); break;
      case '--variant': {
        const [name, list = ''] = v.split('=');
        const devs = new Set(list.split(',').filter(Boolean));
        for (const d of devs) if (!SWITCHES.has(d)) throw new Error(`unknown switch ${d}`);
        a.variants.push({ name, devs });
        break;
      }
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.image || !(a.width > 0) || !(a.height > 0)) throw new Error('--image, --width and --height are required');
  if (a.set !== 'faceplugin' && a.set !== 'fast') throw new Error(`--set ${a.set}: want faceplugin or fast`);
  if (a.boxes.some((b) => b.length < 4 || b.length > 5 || b.some((x) => !Number.isFinite(x)))) {
    throw new Error('--box wants x1,y1,x2,y2[,angle]');
  }
  if (a.variants.length === 0) a.variants.push({ name: 'reference', devs: new Set() });
  return a;
}

// loadOpenCV loads the package's own OpenCV.js (3.3.1, emscripten) the way
// its lib/load_opencv.js does in a browser: a global Module, then the
// script. The module has emscripten's then method, which is removed before
// it is handed over: a promise resolved with a "thenable" waits on it, here
// for ever.
function loadOpenCV() {
  const dir = path.join(cacheDir, 'js');
  const require = createRequire(import.meta.url);
  return new Promise((resolve) => {
    globalThis.Module = {
      wasmBinary: fs.readFileSync(path.join(dir, 'opencv_js.wasm')),
      locateFile: (f) => path.join(dir, f),
      onRuntimeInitialized() {
        const m = globalThis.cv;
        delete m.then;
        resolve(m);
      },
    };
    globalThis.cv = require(path.join(dir, 'opencv.js'));
  });
}

async function loadSessions(set) {
  const files = set === 'faceplugin'
    ? {
      detector: path.join(cacheDir, 'model', 'fr_detect.onnx'),
      emotion: path.join(cacheDir, 'model', 'fr_expression.onnx'),
      age: path.join(cacheDir, 'model', 'fr_age.onnx'),
      gender: path.join(cacheDir, 'model', 'fr_gender.onnx'),
    }
    : {
      detector: path.join(sharedDir, 'models', 'ultraface-version-RFB-320.noinitin.onnx'),
      emotion: path.join(sharedDir, 'models', 'fer2013_mini_XCEPTION.102-0.66.onnx'),
      gender: path.join(sharedDir, 'models', 'gender_mini_XCEPTION.21-0.95.onnx'),
    };
  // Errors only: fr_age.onnx lists its initializers as graph inputs, and
  // ONNX Runtime warns once for each.
  const opts = { logSeverityLevel: 3, intraOpNumThreads: 1 };
  const s = {};
  for (const [role, f] of Object.entries(files)) s[role] = await ort.InferenceSession.create(f, opts);
  return s;
}

// ---- pictures ---------------------------------------------------------------

// canvasMat is what cv.imread(canvas) returns: RGBA, alpha 255. With swap,
// R and B are exchanged first.
function canvasMat(ctx, swap) {
  const { rgb, w, h } = ctx;
  const m = new cv.Mat(h, w, cv.CV_8UC4);
  const d = m.data;
  const r = swap ? 2 : 0, b = swap ? 0 : 2;
  for (let i = 0, j = 0; i < w * h; i++, j += 3) {
    d[i * 4] = rgb[j + r]; d[i * 4 + 1] = rgb[j + 1]; d[i * 4 + 2] = rgb[j + b]; d[i * 4 + 3] = 255;
  }
  return m;
}

// bgrMat is what cv2.imread returns in Python: BGR, 3 channels.
function bgrMat(ctx, swap) {
  const { rgb, w, h } = ctx;
  const m = new cv.Mat(h, w, cv.CV_8UC3);
  const d = m.data;
  const r = swap ? 0 : 2, b = swap ? 2 : 0;
  for (let j = 0; j < w * h * 3; j += 3) {
    d[j] = rgb[j + r]; d[j + 1] = rgb[j + 1]; d[j + 2] = rgb[j + b];
  }
  return m;
}

// ---- faceplugin-face-recognition-js lib/fr_*.js ----------------------------

async function faceplugin(ctx, boxes) {
  const det = await ctx.once('detector', -1, () => detectFaceImage(ctx));
  const faces = boxes.length ? boxes : det.faces.map((f) => f.box);
  const out = [];
  for (const [i, b] of faces.entries()) {
    const box = b.slice(0, 4), angle = b[4] || 0;
    // fr_detect.js's scaleResult hands each face on as a square of side
    // y2 - y1 on the box's centre, clamped to the frame, in a Float32Array;
    // each predictX reads it back through parseInt.
    const sq = squareBox(box, ctx.w, ctx.h);
    const fctx = { ...ctx, face: i };
    out.push({
      box, angle, handed_on: Array.from(sq),
      models: {
        emotion: await ctx.once('emotion', i, () => predictExpression(fctx, sq, box, angle)),
        age: await ctx.once('age', i, () => predictSSR(fctx, 'age', sq, 101)),
        gender: await ctx.once('gender', i, () => predictSSR(fctx, 'gender', sq, 1)),
      },
    });
  }
  return { detector: det, faces: out };
}

// detectFaceImage is fr_detect.js's function of that name, less its dead
// code (definePriorBox/decodeBBox, whose result is never used: the model
// already outputs corner-form boxes).
async function detectFaceImage(ctx) {
  const img = canvasMat(ctx, ctx.dev.has('detector-swap'));
  let resize_image;
  if (ctx.dev.has('detector-resample')) {
    resize_image = swapRB(facetResample(ctx, ctx.dev.has('detector-swap'), [0, 0, ctx.w, ctx.h], 320, 240, false));
  } else {
    const dsize = new cv.Size(320, 240);
    resize_image = new cv.Mat();
    cv.resize(img, resize_image, dsize);
    // On the RGBA Mat cv.imread gives this swaps R and B: fr_detect.onnx is
    // fed BGR.
    cv.cvtColor(resize_image, resize_image, cv.COLOR_BGR2RGB);
  }
  const data = hwcToNCHW(resize_image, (p) => (p - 127) / 128.0);
  const resize_param = { cols: img.cols / 320, rows: img.rows / 240 };
  free(resize_image, img);
  const res = await ctx.sessions.detector.run({ input: new ort.Tensor('float32', data, [1, 3, 240, 320]) });
  const loc = res.boxes.data, conf = res.scores.data;
  return {
    tensor: tensorInfo(ctx, 'detector', data),
    scores: tensorInfo(ctx, 'scores', conf),
    boxes: tensorInfo(ctx, 'boxes', loc),
    faces: ctx.dev.has('detector-nms')
      ? ultrafacePredict(conf, loc, ctx.w, ctx.h, 0.7, 0.3)
      : frDetectPost(conf, loc, resize_param),
  };
}

// frDetectPost is fr_detect.js's post-processing: boxes times 320x240 into
// a Float32Array, scores >= 0.65, sorted, the best 750, its cpuNMS, then
// scaleResult's resize. Faces are reported before scaleResult squares them.
function frDetectPost(conf, loc, resize_param) {
  const n = conf.length / 2;
  const scale = [320, 240, 320, 240];
  const boxes = new Float32Array(n * 4);
  for (let i = 0; i < n * 4; i++) boxes[i] = loc[i] * scale[i % 4];
  let cand = [];
  for (let i = 0; i < n; i++) if (conf[2 * i + 1] >= 0.65) cand.push([i, conf[2 * i + 1]]);
  cand.sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));
  cand = cand.slice(0, 750);
  const picked = cpuNMS(cand.map(([i]) => Array.from(boxes.subarray(4 * i, 4 * i + 4))), 0.4);
  return picked.map((k) => {
    const b = boxes.subarray(4 * cand[k][0], 4 * cand[k][0] + 4);
    const box = [b[0] * resize_param.cols, b[1] * resize_param.rows, b[2] * resize_param.cols, b[3] * resize_param.rows];
    return { box, score: cand[k][1] };
  });
}

// cpuNMS is fr_detect.js's: candidates sorted by y2 ascending (not by
// score), the overlap taken over the other box's area with +1 pixel sides,
// suppressed when >= thresh. It returns indexes into bbox.
function cpuNMS(bbox, thresh) {
  let found = [];
  bbox.forEach(([x1, y1, x2, y2], i) => {
    const width = x2 - x1, height = y2 - y1;
    if (width > 0 && height > 0) found.push({ x1, y1, x2, y2, area: width * height, index: i });
  });
  found.sort((b1, b2) => b1.y2 - b2.y2);
  const pick = [];
  while (found.length > 0) {
    const last = found[0];
    const suppress = [last];
    pick.push(last.index);
    for (let i = 1; i < found.length; i++) {
      const box = found[i];
      const w = Math.max(0, Math.min(box.x2, last.x2) - Math.max(box.x1, last.x1) + 1);
      const h = Math.max(0, Math.min(box.y2, last.y2) - Math.max(box.y1, last.y1) + 1);
      if ((w * h) / box.area >= thresh) suppress.push(box);
    }
    found = found.filter((b) => !suppress.includes(b));
  }
  return pick;
}

// squareBox is scaleResult's squaring for one box already in pixels.
function squareBox([x1, y1, x2, y2], width, height) {
  const f_size = y2 - y1;
  const ct_x = (x1 + x2) / 2, ct_y = (y1 + y2) / 2;
  return Float32Array.from([
    ct_x - f_size / 2 < 0 ? 0 : ct_x - f_size / 2,
    ct_y - f_size / 2 < 0 ? 0 : ct_y - f_size / 2,
    ct_x + f_size / 2 > width - 1 ? width - 1 : ct_x + f_size / 2,
    ct_y + f_size / 2 > height - 1 ? height - 1 : ct_y + f_size / 2,
  ]);
}

// jsBox is how each predictX reads a handed-on box: parseInt, then
// [x, y, width, height].
function jsBox(sq) {
  const [x1, y1, x2, y2] = Array.from(sq, (v) => parseInt(v));
  return [x1, y1, Math.abs(x2 - x1), Math.abs(y2 - y1)];
}

// predictExpression is fr_expression.js's per-face body: crop, resize to
// 224, x / 255 (channel 0 is R on the canvas's RGBA), NCHW, softmax.
async function predictExpression(ctx, sq, box, angle) {
  const swap = ctx.dev.has('emotion-swap'), resample = ctx.dev.has('emotion-resample');
  const img = canvasMat(ctx, swap);
  let rect, face_img;
  if (ctx.dev.has('emotion-align') && ctx.dev.has('emotion-crop') && angle !== 0) {
    rect = centredSquareF(box, 1);
    face_img = resample ? facetTurned(ctx, swap, rect, angle, 224) : turnedCrop(img, rect, angle, 224);
  } else {
    angle = 0;
    rect = ctx.dev.has('emotion-crop') ? centredSquare(box, 1, ctx.w, ctx.h) : expressionRect(img, jsBox(sq));
    face_img = resample ? facetResample(ctx, swap, rect, 224, 224, false) : cropResize(img, rect, 224);
  }
  const data = hwcToNCHW(face_img, (p) => p / 255.0);
  free(face_img, img);
  const res = await ctx.sessions.emotion.run({ input: new ort.Tensor('float32', data, [1, 3, 224, 224]) });
  const logits = res.output.data;
  return { rect, angle, tensor: tensorInfo(ctx, 'emotion', data), outputs: Array.from(logits), values: Array.from(softmax(logits)) };
}

// expressionRect is alignExpressionImage's rectangle: from the box's
// top-left corner, 1.2 times its sides. (OpenCV throws if it leaves the
// frame; the package does not guard against that.)
function expressionRect(image, [x, y, box_w, box_h]) {
  const src_h = image.rows, src_w = image.cols;
  return [x, y, Math.min(parseInt(box_w * 1.2), src_w - 1), Math.min(parseInt(box_h * 1.2), src_h - 1)];
}

// softmax is fr_pose.js's, which fr_expression.js imports: map on the
// output's Float32Array, so each probability is stored as float32.
function softmax(arr) {
  return arr.map(function (value) {
    return Math.exp(value) / arr.map(function (y) { return Math.exp(y); }).reduce(function (a, b) { return a + b; });
  });
}

// predictSSR is fr_age.js's predictAge and fr_gender.js's predictGender
// (the same but for V in mergeAge and mergeGender): crop, resize to 64,
// ImageNet mean and std in R, G, B order, NCHW, the nine outputs merged.
async function predictSSR(ctx, role, sq, V) {
  const swap = ctx.dev.has(role + '-swap');
  const img = canvasMat(ctx, swap);
  const rect = alignRect(img, jsBox(sq), 1.4);
  const face_img = ctx.dev.has(role + '-resample') ? facetResample(ctx, swap, rect, 64, 64, false) : cropResize(img, rect, 64);
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const data = hwcToNCHW(face_img, (p, c) => (p / 255.0 - mean[c]) / std[c]);
  free(face_img, img);
  const res = await ctx.sessions[role].run({ input: new ort.Tensor('float32', data, [1, 3, 64, 64]) });
  const outputLayers = ['prob_stage_1', 'prob_stage_2', 'prob_stage_3', 'stage1_delta_k', 'stage2_delta_k', 'stage3_delta_k',
    'index_offset_stage1', 'index_offset_stage2', 'index_offset_stage3'];
  const outputFeat = [];
  for (const name of outputLayers) outputFeat.push(...res[name].data);
  return { rect, angle: 0, tensor: tensorInfo(ctx, role, data), outputs: outputFeat, values: [mergeSSR(outputFeat, 3, 3, 3, 1, 1, V)] };
}

// alignRect is alignAgeImage's (= alignGenderImage's) rectangle: the box
// scaled about its centre by min(scale_value, frame / box), shifted (not
// clamped) back into the frame less its last row and column, truncated.
function alignRect(image, [x, y, box_w, box_h], scale_value) {
  const src_h = image.rows, src_w = image.cols;
  const scale = Math.min((src_h - 1) / box_h, Math.min((src_w - 1) / box_w, scale_value));
  const new_width = box_w * scale, new_height = box_h * scale;
  const center_x = box_w / 2 + x, center_y = box_h / 2 + y;
  let left_top_x = center_x - new_width / 2, left_top_y = center_y - new_height / 2;
  let right_bottom_x = center_x + new_width / 2, right_bottom_y = center_y + new_height / 2;
  if (left_top_x < 0) { right_bottom_x -= left_top_x; left_top_x = 0; }
  if (left_top_y < 0) { right_bottom_y -= left_top_y; left_top_y = 0; }
  if (right_bottom_x > src_w - 1) { left_top_x -= right_bottom_x - src_w + 1; right_bottom_x = src_w - 1; }
  if (right_bottom_y > src_h - 1) { left_top_y -= right_bottom_y - src_h + 1; right_bottom_y = src_h - 1; }
  return [Math.max(parseInt(left_top_x), 0), Math.max(parseInt(left_top_y), 0),
    Math.min(parseInt(right_bottom_x - left_top_x), src_w - 1), Math.min(parseInt(right_bottom_y - left_top_y), src_h - 1)];
}

// mergeSSR is mergeAge and mergeGender.
function mergeSSR(x, s1, s2, s3, lambda_local, lambda_d, V) {
  let a = 0, b = 0, c = 0;
  for (let i = 0; i < s1; i++) a = a + (i + lambda_local * x[12 + i]) * x[i];
  a = a / (s1 * (1 + lambda_d * x[9]));
  for (let i = 0; i < s2; i++) b = b + (i + lambda_local * x[15 + i]) * x[3 + i];
  b = b / (s1 * (1 + lambda_d * x[9])) / (s2 * (1 + lambda_d * x[10]));
  for (let i = 0; i < s3; i++) c = c + (i + lambda_local * x[18 + i]) * x[6 + i];
  c = c / (s1 * (1 + lambda_d * x[9])) / (s2 * (1 + lambda_d * x[10])) / (s3 * (1 + lambda_d * x[11]));
  return (a + b + c) * V;
}

// ---- the fast set: UltraFace's ONNX demo, oarriaga/face_classification ----

async function fast(ctx, boxes) {
  const det = await ctx.once('detector', -1, () => ultrafaceDetect(ctx));
  const faces = boxes.length ? boxes : det.faces.map((f) => f.box);
  const out = [];
  for (const [i, b] of faces.entries()) {
    const box = b.slice(0, 4);
    const fctx = { ...ctx, face: i };
    out.push({
      box, angle: 0,
      // Crops as ../shared/models/README.md documents them for this set
      // (the original cut a Haar box plus fixed offsets), in whole pixels
      // as a numpy slice cuts.
      models: {
        emotion: await ctx.once('emotion', i, () => miniXception(fctx, 'emotion', centredSquare(box, 1.0, ctx.w, ctx.h), 7)),
        gender: await ctx.once('gender', i, () => miniXception(fctx, 'gender', centredSquare(box, 1.6, ctx.w, ctx.h), 2)),
      },
    });
  }
  return { detector: det, faces: out };
}

// ultrafaceDetect is Linzaer's detect_imgs_onnx.py: cv2.imread's BGR,
// cvtColor BGR2RGB, resize to 320x240, (x - 127) / 128, NCHW float32, then
// its predict (threshold 0.7; hard NMS at its default IoU 0.5).
async function ultrafaceDetect(ctx) {
  const swap = ctx.dev.has('detector-swap');
  let image;
  if (ctx.dev.has('detector-resample')) {
    image = facetResample(ctx, swap, [0, 0, ctx.w, ctx.h], 320, 240, false);
  } else {
    const bgr = bgrMat(ctx, swap), rgbm = new cv.Mat();
    cv.cvtColor(bgr, rgbm, cv.COLOR_BGR2RGB);
    image = new cv.Mat();
    cv.resize(rgbm, image, new cv.Size(320, 240));
    free(bgr, rgbm);
  }
  const data = hwcToNCHW(image, (p) => (p - 127) / 128);
  free(image);
  const res = await ctx.sessions.detector.run({ input: new ort.Tensor('float32', data, [1, 3, 240, 320]) });
  const conf = res.scores.data, loc = res.boxes.data;
  return {
    tensor: tensorInfo(ctx, 'detector', data),
    scores: tensorInfo(ctx, 'scores', conf),
    boxes: tensorInfo(ctx, 'boxes', loc),
    faces: ultrafacePredict(conf, loc, ctx.w, ctx.h, 0.7, ctx.dev.has('detector-nms') ? 0.3 : 0.5),
  };
}

// ultrafacePredict is UltraFace's predict() with box_utils_numpy.hard_nms
// (candidate_size 200). Boxes are reported before predict's
// astype(np.int32), which serves its drawing; box_int holds them after.
function ultrafacePredict(conf, loc, width, height, prob_threshold, iou_threshold) {
  const boxes = [], probs = [];
  for (let i = 0; i < conf.length / 2; i++) {
    if (conf[2 * i + 1] > prob_threshold) {
      boxes.push(Array.from(loc.subarray(4 * i, 4 * i + 4)));
      probs.push(conf[2 * i + 1]);
    }
  }
  // np.argsort is ascending; the last index is the best.
  let indexes = probs.map((_, i) => i).sort((a, b) => probs[a] - probs[b]).slice(-200);
  const picked = [];
  while (indexes.length > 0) {
    const current = indexes[indexes.length - 1];
    picked.push(current);
    if (indexes.length === 1) break;
    indexes = indexes.slice(0, -1).filter((i) => iouOf(boxes[i], boxes[current]) <= iou_threshold);
  }
  return picked.map((k) => {
    // numpy scales the float32 array in place: float32 results.
    const b = boxes[k], f = Math.fround;
    const box = [f(b[0] * width), f(b[1] * height), f(b[2] * width), f(b[3] * height)];
    return { box, box_int: box.map((v) => Math.trunc(v)), score: probs[k] };
  });
}

function iouOf(b0, b1, eps = 1e-5) {
  const area = (l, t, r, b) => Math.max(r - l, 0) * Math.max(b - t, 0);
  const overlap = area(Math.max(b0[0], b1[0]), Math.max(b0[1], b1[1]), Math.min(b0[2], b1[2]), Math.min(b0[3], b1[3]));
  return overlap / (area(...b0) + area(...b1) - overlap + eps);
}

// miniXception is face_classification's video_emotion_color_demo.py path:
// gray = cvtColor(BGR2GRAY) of the frame (rounded to uint8), the face
// sliced out, cv2.resize to 64x64, preprocess_input(v2=True) in numpy's
// float32 arithmetic, NHWC [1,64,64,1]. The gender model takes the same.
async function miniXception(ctx, role, rect, n) {
  const swap = ctx.dev.has(role + '-swap');
  let face;
  if (ctx.dev.has(role + '-resample')) {
    face = facetResample(ctx, swap, rect, 64, 64, true);
  } else {
    const bgr = bgrMat(ctx, swap), gray = new cv.Mat();
    cv.cvtColor(bgr, gray, cv.COLOR_BGR2GRAY);
    face = cropResize(gray, rect, 64);
    free(bgr, gray);
  }
  const data = new Float32Array(64 * 64);
  const f = Math.fround;
  for (let i = 0; i < data.length; i++) data[i] = f(f(f(face.data[i] / 255.0) - 0.5) * 2.0);
  free(face);
  const res = await ctx.sessions[role].run({ input_1: new ort.Tensor('float32', data, [1, 64, 64, 1]) });
  const p = Array.from(res.predictions.data);
  if (p.length !== n) throw new Error(`${role}: ${p.length} outputs, want ${n}`);
  return { rect, angle: 0, tensor: tensorInfo(ctx, role, data), outputs: p, values: p };
}

// ---- crops and resampling -----------------------------------------------------

// centredSquare is facet's crop rule (cropRect, square, scale) cut to
// whole pixels, as a cv.Rect or a numpy slice must be: each edge rounds to
// the nearest pixel. [x, y, w, h].
function centredSquare([x1, y1, x2, y2], scale, W, H) {
  const bw = x2 - x1, bh = y2 - y1;
  const side = Math.max(bw, bh) * scale;
  const x = x1 + bw / 2 - side / 2, y = y1 + bh / 2 - side / 2;
  const l = Math.round(Math.max(x, 0)), t = Math.round(Math.max(y, 0));
  const r = Math.round(Math.min(x + side, W)), b = Math.round(Math.min(y + side, H));
  return [l, t, r - l, b - t];
}

// centredSquareF is facet's aligned crop region: the centred square of
// side max(w,h) times scale, neither clamped nor rounded. [x, y, w, h].
function centredSquareF([x1, y1, x2, y2], scale) {
  const side = Math.max(x2 - x1, y2 - y1) * scale;
  return [(x1 + x2) / 2 - side / 2, (y1 + y2) / 2 - side / 2, side, side];
}

// cropResize is image.roi(rect) then cv.resize to size x size with the
// default INTER_LINEAR, as every fr_*.js and the Python originals do.
function cropResize(image, [x, y, w, h], size) {
  const face_image = image.roi(new cv.Rect(x, y, w, h));
  const resize_image = new cv.Mat();
  cv.resize(face_image, resize_image, new cv.Size(size, size));
  face_image.delete();
  return resize_image;
}

// turnedCrop samples rect turned by angle about its centre into a size x
// size Mat: output pixel (i, j) reads the frame at centre + u (cos, sin) +
// v (-sin, cos), u = (i + 0.5) w / size - w / 2 (v likewise), in OpenCV's
// pixel-centre coordinates; bilinear, the frame's edge repeated.
function turnedCrop(image, [x, y, w, h], angle, size) {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const sx = w / size, sy = h / size, cx = x + w / 2, cy = y + h / 2;
  const u0 = 0.5 * sx - w / 2, v0 = 0.5 * sy - h / 2;
  const M = cv.matFromArray(2, 3, cv.CV_64F, [
    sx * cos, -sy * sin, cx - 0.5 + u0 * cos - v0 * sin,
    sx * sin, sy * cos, cy - 0.5 + u0 * sin + v0 * cos,
  ]);
  const out = new cv.Mat();
  cv.warpAffine(image, out, M, new cv.Size(size, size), cv.INTER_LINEAR | cv.WARP_INVERSE_MAP, cv.BORDER_REPLICATE, new cv.Scalar());
  M.delete();
  return out;
}

// facetResample is the ROLE-resample switch: facet's fill (internal/onnx
// preprocess.go) over region [x, y, w, h] of the picture, to cols x rows,
// as an HWC image of floats: source positions (o + 0.5) * scale - 0.5 from
// the region's corner, clamped to the frame, not the region; weights
// rounded to 1/weightOne; no rounding of the result. With gray, one
// channel, 0.299 R + 0.587 G + 0.114 B of the result.
function facetResample(ctx, swap, [x, y, w, h], cols, rows, gray) {
  const { rgb, w: W, h: H } = ctx;
  const one = ctx.weightOne;
  const taps = (f, n) => {
    f = Math.min(Math.max(f, 0), n - 1);
    const fl = Math.floor(f), w1 = Math.round((f - fl) * one);
    return [fl, Math.min(fl + 1, n - 1), one - w1, w1];
  };
  const tx = Array.from({ length: cols }, (_, o) => taps(x + (o + 0.5) * (w / cols) - 0.5, W));
  const ch = gray ? 1 : 3, data = new Float64Array(rows * cols * ch);
  const order = swap ? [2, 1, 0] : [0, 1, 2];
  for (let oy = 0; oy < rows; oy++) {
    const [y0, y1, wy0, wy1] = taps(y + (oy + 0.5) * (h / rows) - 0.5, H);
    for (let ox = 0; ox < cols; ox++) {
      const [x0, x1, wx0, wx1] = tx[ox];
      const v = [0, 1, 2].map((k) => {
        const p = (yy, xx) => rgb[(yy * W + xx) * 3 + order[k]];
        return ((p(y0, x0) * wx0 + p(y0, x1) * wx1) * wy0 + (p(y1, x0) * wx0 + p(y1, x1) * wx1) * wy1) / (one * one);
      });
      const i = (oy * cols + ox) * ch;
      if (gray) data[i] = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
      else data.set(v, i);
    }
  }
  return { rows, cols, channels: () => ch, data, delete() {} };
}

// facetTurned is the resample switch for a turned crop: facet's
// fillRotated, bilinear in float64 at centre + u (cos, sin) + v (-sin,
// cos) less half a pixel, the frame's edge repeated.
function facetTurned(ctx, swap, [x, y, w, h], angle, size) {
  const { rgb, w: W, h: H } = ctx;
  const cos = Math.cos(angle), sin = Math.sin(angle), cx = x + w / 2, cy = y + h / 2;
  const order = swap ? [2, 1, 0] : [0, 1, 2];
  const data = new Float64Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const v = (oy + 0.5) * (h / size) - h / 2;
    for (let ox = 0; ox < size; ox++) {
      const u = (ox + 0.5) * (w / size) - w / 2;
      const sx = Math.min(Math.max(cx + u * cos - v * sin - 0.5, 0), W - 1);
      const sy = Math.min(Math.max(cy + u * sin + v * cos - 0.5, 0), H - 1);
      const x0 = Math.trunc(sx), y0 = Math.trunc(sy), x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, H - 1);
      const fx = sx - x0, fy = sy - y0;
      for (let k = 0; k < 3; k++) {
        const p = (yy, xx) => rgb[(yy * W + xx) * 3 + order[k]];
        const top = p(y0, x0) * (1 - fx) + p(y0, x1) * fx, bot = p(y1, x0) * (1 - fx) + p(y1, x1) * fx;
        data[(oy * size + ox) * 3 + k] = top * (1 - fy) + bot * fy;
      }
    }
  }
  return { rows: size, cols: size, channels: () => 3, data, delete() {} };
}

// swapRB exchanges channels 0 and 2 of a facetResample image, as
// cv.cvtColor(COLOR_BGR2RGB) does to a Mat.
function swapRB(im) {
  for (let i = 0; i < im.data.length; i += 3) [im.data[i], im.data[i + 2]] = [im.data[i + 2], im.data[i]];
  return im;
}

// hwcToNCHW is the preprocessX loops: channel c of each pixel (the first 3
// of however many it has) through norm(p, c) into a float32 NCHW array,
// as the package's ndarray-ops transposes leave it.
function hwcToNCHW(mat, norm) {
  const rows = mat.rows, cols = mat.cols, ch = mat.channels(), d = mat.data;
  const plane = rows * cols;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = norm(d[i * ch + c], c);
  }
  return out;
}

function free(...mats) {
  for (const m of mats) m.delete();
}

// tensorInfo summarises a tensor for the JSON and, with --out, writes it.
function tensorInfo(ctx, what, data) {
  let sum = 0;
  for (const v of data) sum += v;
  const info = { n: data.length, sum, first: Array.from(data.subarray(0, 8)) };
  if (ctx.out) {
    const face = ctx.face === undefined ? '' : `f${ctx.face}-`;
    info.file = path.join(ctx.out, `${ctx.name}-${face}${what}.f32`);
    fs.writeFileSync(info.file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return info;
}
