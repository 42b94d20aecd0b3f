package faceapi

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/humaninsight/facet/internal/onnx"
	"github.com/humaninsight/facet/internal/testenv"
)

// The tarball scripts/setup-faceapi.sh fetches (pinned there).
const packageTgz = ".cache/npm/vladmandic-face-api-1.7.15.tgz"

// crop is one test image: w x h RGB bytes, the face box itself, which
// face-api and the test then pad and resize each on their own.
type crop struct {
	name string
	w, h int
	rgb  []byte
}

// refResult is one image's outputs from tools/faceapi-ref/ref.mjs.
type refResult struct {
	Name         string    `json:"name"`
	Age          float64   `json:"age"`
	Gender       []float64 `json:"gender"`      // male, female
	Expressions  []float64 `json:"expressions"` // face-api's label order
	LandmarksRaw []float64 `json:"landmarks_raw"`
	Landmarks    []float64 `json:"landmarks"` // after face-api's postProcess
}

type refOutput struct {
	FaceAPI   string             `json:"faceapi"`
	Backend   string             `json:"backend"`
	Results   []refResult        `json:"results"`
	MsPerFace map[string]float64 `json:"ms_per_face"`
}

// TestMatchesFaceAPI converts the three networks from the npm tarball and
// checks that ONNX Runtime gives what face-api itself gives under Node on
// two real face crops and two noise images, one square and one wide (so
// both padding axes and an odd padding run), all in one batch.
func TestMatchesFaceAPI(t *testing.T) {
	tgz := testenv.File(t, packageTgz)
	lib := testenv.File(t, ".cache/lib/libonnxruntime.so.1")
	testenv.File(t, "tools/faceapi-ref/node_modules/@vladmandic/face-api/package.json")
	crops := testCrops(t)
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	models, err := ConvertPackage(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ref, batch := runReference(t, crops)
	input := checkPreprocessing(t, crops, batch)
	if err := onnx.Init(lib); err != nil {
		testenv.Skip(t, err.Error())
	}
	got := map[string][][]float32{}
	for _, o := range Outputs {
		names := outputNames(o.Net)
		outs := runModel(t, models[o.File], names, input, len(crops))
		for i, n := range names {
			got[n] = outs[i]
		}
		checkBatchOfOne(t, models[o.File], names, input, outs)
	}
	compare(t, crops, ref, got)
	checkSanity(t, crops, got)
	checkLandmarkMapping(t, crops, ref)
	t.Logf("face-api %s on tfjs-%s: ms per face %v", ref.FaceAPI, ref.Backend, ref.MsPerFace)
}

func outputNames(net string) []string {
	switch net {
	case NetAgeGender:
		return []string{OutputAge, OutputGender}
	case NetExpression:
		return []string{OutputExpressions}
	}
	return []string{OutputLandmarks}
}

// testCrops cuts the astronaut's and the camera man's face boxes from the
// shared stills and adds two seeded noise images.
func testCrops(t *testing.T) []crop {
	astro := testenv.ReadPNG(t, testenv.Shared(t, "media/astronaut.png"))
	cam := testenv.ReadPNG(t, testenv.Shared(t, "media/camera.png"))
	return []crop{
		cut("astronaut", astro, image.Rect(180, 62, 268, 174)),
		cut("camera", cam, image.Rect(198, 109, 261, 195)),
		noise("noise_square", 112, 112, 1),
		noise("noise_wide", 121, 90, 2),
	}
}

func cut(name string, img image.Image, r image.Rectangle) crop {
	c := crop{name: name, w: r.Dx(), h: r.Dy()}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			c.rgb = append(c.rgb, p.R, p.G, p.B)
		}
	}
	return c
}

func noise(name string, w, h int, seed uint64) crop {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	c := crop{name: name, w: w, h: h, rgb: make([]byte, w*h*3)}
	for i := range c.rgb {
		c.rgb[i] = byte(r.IntN(256))
	}
	return c
}

// runReference runs tools/faceapi-ref on the crops as one batch and returns
// its outputs and face-api's resized batch (NHWC, before normalisation).
func runReference(t *testing.T, crops []crop) (refOutput, []float32) {
	dir := t.TempDir()
	type input struct {
		Name   string `json:"name"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		RGB    string `json:"rgb"`
	}
	spec := struct {
		Inputs    []input `json:"inputs"`
		DumpInput string  `json:"dump_input"`
		Time      bool    `json:"time"`
	}{DumpInput: "batch.f32", Time: true}
	for _, c := range crops {
		if err := os.WriteFile(filepath.Join(dir, c.name+".rgb"), c.rgb, 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Inputs = append(spec.Inputs, input{c.name, c.w, c.h, c.name + ".rgb"})
	}
	var ref refOutput
	testenv.NodeJSON(t, "tools/faceapi-ref/ref.mjs", dir, spec, &ref)
	if len(ref.Results) != len(crops) {
		t.Fatalf("faceapi-ref: %d results for %d inputs", len(ref.Results), len(crops))
	}
	return ref, testenv.Float32s(t, filepath.Join(dir, "batch.f32"))
}

// padResize is face-api's NetInput.toBatchTensor(112, true) for one crop:
// zero padding to a centred square (the larger half at the end), then
// tf.image.resizeBilinear without corner alignment or half-pixel centres.
// It returns 112x112x3 floats, HWC, not normalised.
func padResize(c crop) []float32 {
	side := max(c.w, c.h)
	diff := side - min(c.w, c.h)
	before := diff - (diff+1)/2 // JS Math.round(diff*0.5) goes after
	ox, oy := 0, 0
	if c.w < c.h {
		ox = before
	} else {
		oy = before
	}
	at := func(x, y, k int) float64 {
		x, y = x-ox, y-oy
		if x < 0 || y < 0 || x >= c.w || y >= c.h {
			return 0
		}
		return float64(c.rgb[(y*c.w+x)*3+k])
	}
	out := make([]float32, InputSize*InputSize*3)
	scale := float64(side) / InputSize
	for y := range InputSize {
		fy := float64(y) * scale
		y0, y1 := int(math.Floor(fy)), min(side-1, int(math.Ceil(fy)))
		dy := fy - float64(y0)
		for x := range InputSize {
			fx := float64(x) * scale
			x0, x1 := int(math.Floor(fx)), min(side-1, int(math.Ceil(fx)))
			dx := fx - float64(x0)
			for k := range 3 {
				top := at(x0, y0, k) + (at(x1, y0, k)-at(x0, y0, k))*dx
				bot := at(x0, y1, k) + (at(x1, y1, k)-at(x0, y1, k))*dx
				out[(y*InputSize+x)*3+k] = float32(top + (bot-top)*dy)
			}
		}
	}
	return out
}

// checkPreprocessing compares padResize with face-api's own resized batch
// and returns the ONNX input made from padResize's pixels, NCHW and
// normalised: the models then see what this side made, face-api what it
// made.
func checkPreprocessing(t *testing.T, crops []crop, batch []float32) []float32 {
	const item = InputSize * InputSize * 3
	if len(batch) != len(crops)*item {
		t.Fatalf("face-api's batch has %d values, want %d", len(batch), len(crops)*item)
	}
	input := make([]float32, len(batch))
	for i, c := range crops {
		mine, theirs := padResize(c), batch[i*item:(i+1)*item]
		var worst float64
		for j := range mine {
			worst = math.Max(worst, math.Abs(float64(mine[j]-theirs[j])))
		}
		t.Logf("%s %dx%d: preprocessing max abs diff %.2g (0..255 scale)", c.name, c.w, c.h, worst)
		if worst > 0.01 {
			t.Errorf("%s: padResize differs from face-api's toBatchTensor by %g", c.name, worst)
		}
		for p := range InputSize * InputSize {
			for k := range 3 {
				input[i*item+k*InputSize*InputSize+p] = (mine[p*3+k] - MeanRGB[k]) / 255
			}
		}
	}
	return input
}

// runModel runs model on n items with one intra-op thread and returns each
// output as n rows.
func runModel(t *testing.T, model []byte, names []string, input []float32, n int) [][][]float32 {
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
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{InputName}, names, opts)
	if err != nil {
		t.Fatalf("open %v: %v", names, err)
	}
	defer sess.Destroy()
	return runSession(t, sess, input, n, len(names))
}

func runSession(t *testing.T, sess *ort.DynamicAdvancedSession, input []float32, n, nout int) [][][]float32 {
	t.Helper()
	in, err := ort.NewTensor(ort.NewShape(int64(n), 3, InputSize, InputSize), input)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, nout)
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	res := make([][][]float32, nout)
	for i, o := range outs {
		data := o.(*ort.Tensor[float32]).GetData()
		if len(data)%n != 0 {
			t.Fatalf("output %d: %d values for %d items", i, len(data), n)
		}
		w := len(data) / n
		for j := range n {
			res[i] = append(res[i], append([]float32(nil), data[j*w:(j+1)*w]...))
		}
		o.Destroy()
	}
	return res
}

// checkBatchOfOne runs each item alone (the batch axis is dynamic), checks
// it against the batched run, and logs the per-face latency on one thread.
func checkBatchOfOne(t *testing.T, model []byte, names []string, input []float32, batched [][][]float32) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	opts.SetIntraOpNumThreads(1)
	opts.SetInterOpNumThreads(1)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{InputName}, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	const item = 3 * InputSize * InputSize
	n := len(input) / item
	for i := range n {
		one := runSession(t, sess, input[i*item:(i+1)*item], 1, len(names))
		for o := range names {
			if d := maxDiff(one[o][0], batched[o][i]); d > 1e-4 {
				t.Errorf("%s item %d: batch of one differs from the batch by %g", names[o], i, d)
			}
		}
	}
	const runs = 30
	start := time.Now()
	for range runs {
		runSession(t, sess, input[:item], 1, len(names))
	}
	t.Logf("%v: %.2f ms per face (batch 1, one thread, %d KB model)", names,
		float64(time.Since(start).Microseconds())/1000/runs, len(model)/1024)
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// compare checks every output against face-api's, mapping face-api's
// label orders to the models'.
func compare(t *testing.T, crops []crop, ref refOutput, got map[string][][]float32) {
	worst := map[string]float64{}
	for i, r := range ref.Results {
		want := map[string][]float64{
			OutputAge:       {r.Age},
			OutputGender:    {r.Gender[1], r.Gender[0]},
			OutputLandmarks: r.LandmarksRaw,
		}
		for _, l := range ExpressionLabels {
			want[OutputExpressions] = append(want[OutputExpressions], r.Expressions[faceapiExpressionIndex[l]])
		}
		for name, w := range want {
			g := got[name][i]
			if len(g) != len(w) {
				t.Fatalf("%s %s: %d values, face-api has %d", crops[i].name, name, len(g), len(w))
			}
			for j := range w {
				worst[name] = math.Max(worst[name], math.Abs(float64(g[j])-w[j]))
			}
		}
	}
	for _, name := range []string{OutputAge, OutputGender, OutputExpressions, OutputLandmarks} {
		tol := 1e-3
		if name == OutputAge {
			tol = 0.01
		}
		t.Logf("%s: max abs diff vs face-api %.3g (tolerance %g)", name, worst[name], tol)
		if worst[name] > tol {
			t.Errorf("%s differs from face-api by %g, over %g", name, worst[name], tol)
		}
	}
}

// checkSanity asserts what is known of the two people, outside face-api:
// Eileen Collins smiling, a woman in her forties; the camera man young.
func checkSanity(t *testing.T, crops []crop, got map[string][][]float32) {
	for i, c := range crops {
		if c.name != "astronaut" && c.name != "camera" {
			continue
		}
		e := got[OutputExpressions][i]
		top := 0
		for k := range e {
			if e[k] > e[top] {
				top = k
			}
		}
		g := got[OutputGender][i]
		t.Logf("%s: age %.1f, woman %.3f, man %.3f, top expression %s %.3f", c.name, got[OutputAge][i][0], g[0], g[1], ExpressionLabels[top], e[top])
		switch c.name {
		case "astronaut":
			if ExpressionLabels[top] != "happy" {
				t.Errorf("astronaut reads %s, want happy", ExpressionLabels[top])
			}
			if g[0] <= 0.5 {
				t.Errorf("astronaut reads woman %.3f, want > 0.5", g[0])
			}
		case "camera":
			if g[1] <= 0.5 {
				t.Errorf("camera man reads man %.3f, want > 0.5", g[1])
			}
		}
	}
}

// checkLandmarkMapping holds face-api's postProcess to OutputLandmarks'
// documentation: x' = (x*S - (S-w)/2) / w, y' likewise.
func checkLandmarkMapping(t *testing.T, crops []crop, ref refOutput) {
	for i, c := range crops {
		r := ref.Results[i]
		s := float64(max(c.w, c.h))
		for j, v := range r.LandmarksRaw {
			dim := float64(c.w)
			if j%2 == 1 {
				dim = float64(c.h)
			}
			want := (v*s - (s-dim)/2) / dim
			if d := math.Abs(want - r.Landmarks[j]); d > 1e-4 {
				t.Fatalf("%s landmark value %d: face-api maps %g to %g, the documented rule gives %g", c.name, j, v, r.Landmarks[j], want)
			}
		}
	}
}

// BenchmarkModels times each converted model on one face (batch 1, one
// intra-op thread, tensors reused), as the pipeline runs a session.
func BenchmarkModels(b *testing.B) {
	f, err := os.Open(testenv.File(b, packageTgz))
	if err != nil {
		b.Fatal(err)
	}
	models, err := ConvertPackage(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := onnx.Init(testenv.File(b, ".cache/lib/libonnxruntime.so.1")); err != nil {
		testenv.Skip(b, err.Error())
	}
	c := noise("noise", InputSize, InputSize, 3)
	px := padResize(c)
	input := make([]float32, len(px))
	for p := range InputSize * InputSize {
		for k := range 3 {
			input[k*InputSize*InputSize+p] = (px[p*3+k] - MeanRGB[k]) / 255
		}
	}
	for _, o := range Outputs {
		b.Run(o.File, func(b *testing.B) {
			benchModel(b, models[o.File], outputNames(o.Net), input)
		})
	}
}

func benchModel(b *testing.B, model []byte, names []string, input []float32) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer opts.Destroy()
	opts.SetIntraOpNumThreads(1)
	opts.SetInterOpNumThreads(1)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{InputName}, names, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Destroy()
	in, err := ort.NewTensor(ort.NewShape(1, 3, InputSize, InputSize), input)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(names))
	for i, n := range names {
		width := int64(136)
		switch n {
		case OutputAge:
			width = 1
		case OutputGender:
			width = 2
		case OutputExpressions:
			width = 7
		}
		t, err := ort.NewEmptyTensor[float32](ort.NewShape(1, width))
		if err != nil {
			b.Fatal(err)
		}
		defer t.Destroy()
		outs[i] = t
	}
	b.ResetTimer()
	for b.Loop() {
		if err := sess.Run([]ort.Value{in}, outs); err != nil {
			b.Fatal(err)
		}
	}
}
