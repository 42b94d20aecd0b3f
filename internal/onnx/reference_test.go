package onnx

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/testenv"
)

// TestReferenceModels checks each model that facet takes from
// faceplugin-face-recognition-js (fr_detect, fr_expression, fr_age,
// fr_gender) and from ../shared/models (UltraFace, mini-Xception emotion and
// gender) against the model's own reference code, run by the harness in
// tools/fr-ref (Node, the OpenCV.js the package ships, onnxruntime-node).
//
// For every model and picture it measures (values are the post-processed
// outputs: probabilities, age in years, the gender value before
// calibration; for a detector the first face's box in 0..1 of the frame,
// and its score):
//
//   - equal: facet run on the reference's own crop against the reference
//     with the model's documented deviations switched on (refCases, and
//     ROLE-resample for all): the input tensors within 1e-4, the values
//     within refTolerance, the raw outputs within 1e-3, or the test fails;
//   - runtime: facet's session fed the reference's exact tensor against the
//     reference's raw outputs: within 1e-4, or the test fails;
//   - tensor, tensor-border: what facet's resampler writes for the
//     reference's crop against what cv.resize makes of it (uint8 rounding;
//     at the crop's border the ROI's edge repeated), max abs difference in
//     model-input units, over the pixels sampled inside the crop and over
//     all;
//   - crop-px: facet's crop rectangle against the reference's, pixels;
//   - crop: how much facet's own crop moves the values (see refCases);
//   - dev:SWITCH: how far each documented deviation moves the reference;
//   - pure: facet against the reference with no deviation;
//   - flip, flip-raw: the reference with this model's colour order
//     exchanged, against it unexchanged; on the tinted picture the raw
//     outputs must move by 3e-3 or more, 3 times what "equal" allows, so
//     that a swapped colour order cannot pass.
//
// All but equal and runtime are recorded in refRecorded (the largest over
// the pictures) and must stay within 10 % of it: a change in any is a
// change in facet's behaviour to look at, and to record anew.
func TestReferenceModels(t *testing.T) {
	refPrereqs(t)
	start := time.Now()
	images := refImages(t)
	sets := map[string]*Set{}
	for _, name := range []string{"default", "faceplugin", "fast"} {
		sets[name] = openSet(t, name)
		t.Run(name+"/manifest", func(t *testing.T) { refCheckManifest(t, name) })
		refUseDecided(t, sets[name], name)
	}
	t.Logf("sets opened in %v", time.Since(start).Round(time.Millisecond))
	// The harness runs (two a picture) go on beside the comparisons, at
	// most two at a time: the machine may have two cores.
	type job struct {
		out  refHarnessOut
		done chan struct{}
	}
	sem := make(chan struct{}, 2)
	jobs := make([]map[string]*job, len(images))
	dets := make([]map[string]analysis.Detection, len(images))
	var all []*job
	for i, im := range images {
		dets[i] = refDetect(t, sets, im)
		jobs[i] = map[string]*job{}
		for _, h := range []string{"faceplugin", "fast"} {
			j := &job{done: make(chan struct{})}
			jobs[i][h], all = j, append(all, j)
			box, dir := refHarnessBox(sets, dets[i], im.img, h), t.TempDir()
			go func() {
				defer close(j.done)
				sem <- struct{}{}
				defer func() { <-sem }()
				j.out = refRunHarness(t, h, im, box, dir)
			}()
		}
	}
	// Registered after the temporary folders' clean-ups, so it runs first:
	// no harness still writes to a folder, or reports, when the test ends.
	t.Cleanup(func() {
		for _, j := range all {
			<-j.done
		}
	})
	rec := &refRecorder{vals: map[string][]refMeasure{}}
	for i, im := range images {
		for h, j := range jobs[i] {
			<-j.done
			if j.out.Variants == nil {
				t.FailNow() // refRunHarness has said why
			}
			t.Logf("%s %s: harness (OpenCV.js %s, onnxruntime-node %s) took %.0f ms", h, im.name, j.out.OpenCV, j.out.OnnxRuntime, j.out.MS)
		}
		for _, c := range refCases {
			refCompare(t, rec, c, refFind(t, sets[c.set], c.file), im, dets[i][c.set], &jobs[i][c.harness].out)
		}
	}
	rec.check(t)
	t.Logf("reference comparison took %v", time.Since(start).Round(time.Millisecond))
}

// refCase is one model of one facet set checked against its reference.
type refCase struct {
	set, role string
	file      string // the model file's base name (a role may hold several models)
	harness   string // the harness's --set
	color     string // decided colour order: the manifest must say it
	crop      CropSpec
	devs      []string // harness switches reproducing facet's documented deviations
	swap      string   // the switch exchanging R and B for this model
}

// refCases, with the documented deviations (switch: reason):
//
// Every model
//   - ROLE-resample: facet resamples in fixed point (weights of 1/wOne)
//     straight from the frame, without rounding to uint8 as cv.resize does
//     (a grey level at most inside the crop), and at a crop's border it
//     reads the frame beyond it where cv.resize on an ROI repeats the ROI's
//     edge (up to 28 grey levels on the outermost output pixels of an
//     upscaled crop: fr_expression). The grey models take grey after
//     resampling, cv2 before it (rounded to uint8).
//
// fr_detect (default and faceplugin sets)
//   - detector-swap: facet feeds RGB, as UltraFace was trained.
//     fr_detect.js applies cv2's BGR habit, cv.cvtColor(m, m,
//     COLOR_BGR2RGB), to the RGBA Mat cv.imread gives, so it feeds BGR (on
//     these pictures the box moves by 1 px at most).
//   - detector-nms: facet keeps UltraFace's own post-processing (score >
//     0.7, hard NMS at IoU 0.3 in score order). fr_detect.js keeps scores >=
//     0.65 and suppresses by the overlap over the other box's area (+1 px
//     sides) in y2 order, so the box it keeps need not be the best: on the
//     astronaut it keeps one scoring 0.67 over one scoring 1.00, 5 px off.
//
// fr_expression (default set): the lead's decision from labelled faces
// (../shared/models/README.md)
//   - emotion-swap: fed BGR (53 % against 36 % on web photos; 14 against 9
//     of 18 clips): the Python original fed cv2's BGR, and the JS port
//     carried the order over wrongly to an RGBA canvas.
//   - emotion-crop: the centred square of side max(w,h) instead of the JS's
//     Rect(x, y, 1.2w, 1.2h) from the box's top-left corner (36 % -> 61 %).
//   - emotion-align: the square turned to level the eyes (landmarks from
//     the set's landmark model), not clamped, the frame's edge repeated.
//
// fr_expression in the faceplugin set, fr_age and fr_gender follow the JS
// (RGB, its crops) as far as a CropSpec can. What remains is measured as
// "crop": fr_detect.js hands every box on squared on its height (facet
// squares on max(w,h): the same for UltraFace's boxes, which are taller
// than wide), the JS cuts whole pixels (parseInt; a cv.Rect: 1 to 2 px,
// which moves fr_age by up to 1.7 years), and for age and gender it
// shifts a crop that leaves the frame back inside it where facet clamps
// it (the astronaut-edge picture). fr_expression's Rect(x, y, 1.2w, 1.2h)
// starts at the corner of that squared box, (h - w) / 2 left of the box's
// own, which no CropSpec says: facet's top-left anchor is the box's corner
// (27 px apart on the camera man, 0.65 in probability).
//
// The fast set: UltraFace as Linzaer's detect_imgs_onnx.py, mini-Xception
// as oarriaga's video_emotion_color_demo.py (cv2 BGR2GRAY rounded to uint8,
// cv2.resize, (x/255 - 0.5) * 2), cropped as ../shared/models/README.md
// says, in whole pixels as a numpy slice cuts.
//   - detector-nms: facet suppresses at IoU 0.3 (the README; UltraFace's
//     PyTorch predictor); the ONNX demo's predict() defaults to 0.5.
var refCases = []refCase{
	{set: "default", role: RoleDetector, file: "fr_detect.onnx", harness: "faceplugin", color: "RGB",
		crop: CropSpec{Kind: "frame"}, devs: []string{"detector-swap", "detector-nms"}, swap: "detector-swap"},
	{set: "default", role: RoleEmotion, file: "fr_expression.onnx", harness: "faceplugin", color: "BGR",
		crop: CropSpec{Kind: "face", Scale: 1, Square: true, Align: true},
		devs: []string{"emotion-swap", "emotion-crop", "emotion-align"}, swap: "emotion-swap"},
	{set: "faceplugin", role: RoleDetector, file: "fr_detect.onnx", harness: "faceplugin", color: "RGB",
		crop: CropSpec{Kind: "frame"}, devs: []string{"detector-swap", "detector-nms"}, swap: "detector-swap"},
	{set: "faceplugin", role: RoleEmotion, file: "fr_expression.onnx", harness: "faceplugin", color: "RGB",
		crop: CropSpec{Kind: "face", Scale: 1.2, Anchor: "top-left"}, swap: "emotion-swap"},
	{set: "faceplugin", role: RoleAge, file: "fr_age.onnx", harness: "faceplugin", color: "RGB",
		crop: CropSpec{Kind: "face", Scale: 1.4, Square: true}, swap: "age-swap"},
	{set: "faceplugin", role: RoleGender, file: "fr_gender.onnx", harness: "faceplugin", color: "RGB",
		crop: CropSpec{Kind: "face", Scale: 1.4, Square: true}, swap: "gender-swap"},
	{set: "fast", role: RoleDetector, file: "ultraface-version-RFB-320.noinitin.onnx", harness: "fast", color: "RGB",
		crop: CropSpec{Kind: "frame"}, devs: []string{"detector-nms"}, swap: "detector-swap"},
	{set: "fast", role: RoleEmotion, file: "fer2013_mini_XCEPTION.102-0.66.onnx", harness: "fast", color: "GRAY",
		crop: CropSpec{Kind: "face", Scale: 1, Square: true}, swap: "emotion-swap"},
	{set: "fast", role: RoleGender, file: "gender_mini_XCEPTION.21-0.95.onnx", harness: "fast", color: "GRAY",
		crop: CropSpec{Kind: "face", Scale: 1.6, Square: true}, swap: "gender-swap"},
}

// refAlsoDecided are models the harness need not run again: the fast set's
// age model is the faceplugin set's fr_age, so its manifest entry must
// say what that one's does.
var refAlsoDecided = []refCase{
	{set: "fast", role: RoleAge, file: "fr_age.onnx", color: "RGB", crop: CropSpec{Kind: "face", Scale: 1.4, Square: true}},
}

// refTolerance is how close "equal" must be: 1e-3 for probabilities,
// gender values and detector boxes (in 0..1 of the frame), 0.1 years for
// age.
func refTolerance(role string) float64 {
	if role == RoleAge {
		return 0.1
	}
	return 1e-3
}

// refRecorded holds the measured sizes (the largest over the pictures) of
// everything facet does differently from the references; see
// TestReferenceModels. Measured with ONNX Runtime 1.24.1 on both sides;
// when one changes on purpose, the test prints the whole table anew.
var refRecorded = map[string]float64{
	"default/detector/dev:detector-nms/box":        0.00998,
	"default/detector/dev:detector-nms/score":      0.331,
	"default/detector/dev:detector-resample/box":   0.000211,
	"default/detector/dev:detector-resample/score": 2.05e-05,
	"default/detector/dev:detector-swap/box":       0.00222,
	"default/detector/dev:detector-swap/score":     5.87e-05,
	"default/detector/flip-raw":                    0.2,
	"default/detector/flip/box":                    0.00222,
	"default/detector/flip/score":                  5.87e-05,
	"default/detector/pure/box":                    0.00807,
	"default/detector/pure/score":                  0.331,

	"default/emotion/crop":                 0.0515,
	"default/emotion/crop-px":              0.725,
	"default/emotion/dev:emotion-align":    0.00636,
	"default/emotion/dev:emotion-crop":     0.461,
	"default/emotion/dev:emotion-resample": 0.0282,
	"default/emotion/dev:emotion-swap":     0.0299,
	"default/emotion/flip":                 0.0299,
	"default/emotion/flip-raw":             4.06,
	"default/emotion/pure":                 0.516,
	"default/emotion/tensor":               0.0163,
	"default/emotion/tensor-border":        0.0886,

	"faceplugin/age/crop":             2.49,
	"faceplugin/age/crop-px":          2.32,
	"faceplugin/age/dev:age-resample": 0.146,
	"faceplugin/age/flip":             8.13,
	"faceplugin/age/flip-raw":         0.56,
	"faceplugin/age/pure":             2.57,
	"faceplugin/age/tensor":           0.0131,
	"faceplugin/age/tensor-border":    0.0131,

	"faceplugin/detector/dev:detector-nms/box":        0.00998,
	"faceplugin/detector/dev:detector-nms/score":      0.331,
	"faceplugin/detector/dev:detector-resample/box":   0.000211,
	"faceplugin/detector/dev:detector-resample/score": 2.05e-05,
	"faceplugin/detector/dev:detector-swap/box":       0.00222,
	"faceplugin/detector/dev:detector-swap/score":     5.87e-05,
	"faceplugin/detector/flip-raw":                    0.2,
	"faceplugin/detector/flip/box":                    0.00222,
	"faceplugin/detector/flip/score":                  5.87e-05,
	"faceplugin/detector/pure/box":                    0.00807,
	"faceplugin/detector/pure/score":                  0.331,

	"faceplugin/emotion/crop":                 0.649,
	"faceplugin/emotion/crop-px":              26.9,
	"faceplugin/emotion/dev:emotion-resample": 0.0122,
	"faceplugin/emotion/flip":                 0.0115,
	"faceplugin/emotion/flip-raw":             4.45,
	"faceplugin/emotion/pure":                 0.648,
	"faceplugin/emotion/tensor":               0.00295,
	"faceplugin/emotion/tensor-border":        0.109,

	"faceplugin/gender/crop":                0.139,
	"faceplugin/gender/crop-px":             2.32,
	"faceplugin/gender/dev:gender-resample": 0.00268,
	"faceplugin/gender/flip":                0.0738,
	"faceplugin/gender/flip-raw":            0.159,
	"faceplugin/gender/pure":                0.141,
	"faceplugin/gender/tensor":              0.0131,
	"faceplugin/gender/tensor-border":       0.0131,

	"fast/detector/dev:detector-nms/box":        0,
	"fast/detector/dev:detector-nms/score":      0,
	"fast/detector/dev:detector-resample/box":   0.000211,
	"fast/detector/dev:detector-resample/score": 2.05e-05,
	"fast/detector/flip-raw":                    0.2,
	"fast/detector/flip/box":                    0.00222,
	"fast/detector/flip/score":                  5.87e-05,
	"fast/detector/pure/box":                    0.000211,
	"fast/detector/pure/score":                  2.05e-05,

	"fast/emotion/crop":                 0.0603,
	"fast/emotion/crop-px":              0.735,
	"fast/emotion/dev:emotion-resample": 0.00591,
	"fast/emotion/flip":                 0.005,
	"fast/emotion/flip-raw":             0.005,
	"fast/emotion/pure":                 0.0549,
	"fast/emotion/tensor":               0.00864,
	"fast/emotion/tensor-border":        0.00864,

	"fast/gender/crop":                0.0299,
	"fast/gender/crop-px":             0.84,
	"fast/gender/dev:gender-resample": 0.018,
	"fast/gender/flip":                0.0372,
	"fast/gender/flip-raw":            0.0372,
	"fast/gender/pure":                0.0284,
	"fast/gender/tensor":              0.00895,
	"fast/gender/tensor-border":       0.00895,
}

// refImage is a test picture.
type refImage struct {
	name string
	img  analysis.Image
}

// refImages returns the astronaut, the camera man (greyscale, as RGB), the
// astronaut tinted (green times 0.8, blue times 0.3: exchanging R and B
// changes every model's input, even the grey models'; blue halved moved
// mini-Xception's emotion by only 0.0016) and the astronaut cut so that
// her face nears the left edge (crops that leave the frame).
func refImages(t *testing.T) []refImage {
	astro := loadPNG(t, testenv.Shared(t, "media/astronaut.png"))
	camera := loadPNG(t, testenv.Shared(t, "media/camera.png"))
	tint := analysis.Image{W: astro.W, H: astro.H, Pix: slices.Clone(astro.Pix)}
	for i := range tint.Pix {
		tint.Pix[i] = byte(math.Round(float64(tint.Pix[i]) * [3]float64{1, 0.8, 0.3}[i%3]))
	}
	const x0 = 150
	edge := analysis.Image{W: astro.W - x0, H: astro.H}
	for y := range astro.H {
		edge.Pix = append(edge.Pix, astro.Pix[(y*astro.W+x0)*3:(y+1)*astro.W*3]...)
	}
	return []refImage{{"astronaut", astro}, {"camera", camera}, {"astronaut-tinted", tint}, {"astronaut-edge", edge}}
}

// refPrereqs skips (fails under FACET_REQUIRE_INTEGRATION=1) when the
// harness cannot run: Node, its packages, the faceplugin tarball and what
// scripts/setup-fr-ref.sh extracts from it, ../shared.
func refPrereqs(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Skip(t, "node is not on PATH: the reference harness needs it")
	}
	testenv.File(t, ".cache/npm/faceplugin-face-recognition-js-0.0.1.tgz")
	for _, rel := range []string{
		"tools/fr-ref/node_modules/onnxruntime-node/package.json",
		".cache/fr-ref/js/opencv.js", ".cache/fr-ref/js/opencv_js.wasm",
		".cache/fr-ref/model/fr_detect.onnx", ".cache/fr-ref/model/fr_expression.onnx",
		".cache/fr-ref/model/fr_age.onnx", ".cache/fr-ref/model/fr_gender.onnx",
	} {
		if _, err := os.Stat(filepath.Join(testenv.RepoRoot(), rel)); err != nil {
			testenv.Skip(t, rel+" is missing: run scripts/setup-fr-ref.sh")
		}
	}
	testenv.Shared(t, "models/README.md")
}

// refCheckManifest reports every model whose manifest entry disagrees with
// the decided colour order and crop.
func refCheckManifest(t *testing.T, set string) {
	m, err := ReadManifest(filepath.Join(testenv.RepoRoot(), "models", set+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(slices.Clone(refCases), refAlsoDecided...) {
		if c.set != set {
			continue
		}
		i := slices.IndexFunc(m.Models, func(s Spec) bool { return filepath.Base(s.File) == c.file })
		if i < 0 {
			t.Errorf("models/%s.json has no %s", set, c.file)
			continue
		}
		s := m.Models[i]
		if s.Input.Color != c.color {
			t.Errorf("models/%s.json %s: color %s, decided %s", set, c.file, s.Input.Color, c.color)
		}
		if !refSameCrop(s.Crop, c.crop) {
			t.Errorf("models/%s.json %s: crop %+v, decided %+v", set, c.file, s.Crop, c.crop)
		}
	}
}

func refSameCrop(a, b CropSpec) bool {
	norm := func(c CropSpec) CropSpec {
		if c.Anchor == "center" {
			c.Anchor = ""
		}
		return c
	}
	return norm(a) == norm(b)
}

// refUseDecided makes the opened set's models use the decided colour order
// and crop, so that the comparisons test facet's code even while a
// manifest disagrees (refCheckManifest reports that).
func refUseDecided(t *testing.T, s *Set, set string) {
	for _, c := range refCases {
		if c.set == set {
			m := refFind(t, s, c.file)
			m.spec.Input.Color, m.spec.Crop = c.color, c.crop
		}
	}
}

// refFind returns the set's model whose file is named file.
func refFind(t *testing.T, s *Set, file string) *model {
	for _, m := range s.all() {
		if filepath.Base(m.spec.File) == file {
			return m
		}
	}
	t.Fatalf("set %s has no model %s", s.Name(), file)
	return nil
}

// refDetect returns each set's first face in im.
func refDetect(t *testing.T, sets map[string]*Set, im refImage) map[string]analysis.Detection {
	out := map[string]analysis.Detection{}
	for name, s := range sets {
		dets, err := s.Detect(im.img)
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) == 0 {
			t.Fatalf("%s: set %s finds no face", im.name, name)
		}
		out[name] = dets[0]
	}
	// The faceplugin harness serves both sets with fr_detect: one box.
	if a, b := out["default"].Box, out["faceplugin"].Box; a != b {
		t.Fatalf("%s: fr_detect boxes differ between the default (%v) and faceplugin (%v) sets", im.name, a, b)
	}
	return out
}

// refHarnessBox is the --box argument: the face in pixels and the angle
// facet turns the default set's fr_expression crop by.
func refHarnessBox(sets map[string]*Set, dets map[string]analysis.Detection, img analysis.Image, harness string) string {
	set := map[string]string{"faceplugin": "default", "fast": "fast"}[harness]
	d := dets[set]
	angle := 0.0
	if harness == "faceplugin" {
		for _, m := range sets["default"].all() {
			if filepath.Base(m.spec.File) == "fr_expression.onnx" {
				angle = faceCrop(m.spec.Crop, d, img.W, img.H).angle
			}
		}
	}
	w, h := float64(img.W), float64(img.H)
	v := []float64{d.Box.X1 * w, d.Box.Y1 * h, d.Box.X2 * w, d.Box.Y2 * h, angle}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// refHarnessOut is what tools/fr-ref/ref.mjs prints.
type refHarnessOut struct {
	OpenCV      string                       `json:"opencv"`
	OnnxRuntime string                       `json:"onnxruntime"`
	MS          float64                      `json:"ms"`
	Variants    map[string]refHarnessVariant `json:"variants"`
}

type refHarnessVariant struct {
	Deviations []string `json:"deviations"`
	Detector   struct {
		Tensor refTensorInfo `json:"tensor"`
		Scores refTensorInfo `json:"scores"`
		Boxes  refTensorInfo `json:"boxes"`
		Faces  []struct {
			Box   []float64 `json:"box"`
			Score float64   `json:"score"`
		} `json:"faces"`
	} `json:"detector"`
	Faces []struct {
		Box    []float64              `json:"box"`
		Models map[string]refModelOut `json:"models"`
	} `json:"faces"`
}

// refModelOut is one face model's run: its crop ([x, y, w, h] in pixels,
// turned by angle), input tensor, raw outputs (concatenated in the
// manifest's order) and post-processed values.
type refModelOut struct {
	Rect    []float64     `json:"rect"`
	Angle   float64       `json:"angle"`
	Tensor  refTensorInfo `json:"tensor"`
	Outputs []float64     `json:"outputs"`
	Values  []float64     `json:"values"`
}

type refTensorInfo struct {
	N    int     `json:"n"`
	Sum  float64 `json:"sum"`
	File string  `json:"file"`
}

// load reads the tensor the harness wrote and checks it against its sum.
func (ti refTensorInfo) load(t *testing.T) []float32 {
	data, err := os.ReadFile(ti.File)
	if err != nil {
		t.Fatalf("reference tensor: %v", err)
	}
	v := make([]float32, len(data)/4)
	var sum float64
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		sum += float64(v[i])
	}
	if len(v) != ti.N || math.Abs(sum-ti.Sum) > 1e-6*math.Max(1, math.Abs(sum)) {
		t.Fatalf("reference tensor %s: %d values summing to %g, the harness said %d and %g", ti.File, len(v), sum, ti.N, ti.Sum)
	}
	return v
}

// refVariants returns the harness variants a harness run needs: for each
// case on it, the reference (no switch), the documented deviations, each
// of them but one, and the deviations with the colour order exchanged.
// A model's results depend only on its own switches, so one variant can
// serve a model of each role: variant i holds every role's i-th need.
func refVariants(harness string) [][]string {
	needs := map[string][][]string{}
	add := func(role string, sw []string) {
		sw = slices.Sorted(slices.Values(sw))
		if !slices.ContainsFunc(needs[role], func(s []string) bool { return slices.Equal(s, sw) }) {
			needs[role] = append(needs[role], sw)
		}
	}
	for _, c := range refCases {
		if c.harness != harness {
			continue
		}
		devs := append(slices.Clone(c.devs), c.role+"-resample")
		add(c.role, nil)
		add(c.role, devs)
		for _, d := range devs {
			add(c.role, refToggle(devs, d))
		}
		add(c.role, refToggle(devs, c.swap))
	}
	var out [][]string
	for _, role := range slices.Sorted(maps.Keys(needs)) {
		for i, sw := range needs[role] {
			if i == len(out) {
				out = append(out, nil)
			}
			out[i] = append(out[i], sw...)
		}
	}
	return out
}

// refToggle returns devs with sw added, or removed when present.
func refToggle(devs []string, sw string) []string {
	if slices.Contains(devs, sw) {
		return slices.DeleteFunc(slices.Clone(devs), func(s string) bool { return s == sw })
	}
	return append(slices.Clone(devs), sw)
}

// refRunHarness runs the harness on im, with its files in dir. It runs on
// its own goroutine, so it reports with Errorf.
func refRunHarness(t *testing.T, harness string, im refImage, box, dir string) refHarnessOut {
	rgb := filepath.Join(dir, im.name+".rgb")
	if err := os.WriteFile(rgb, im.img.Pix, 0o600); err != nil {
		t.Error(err)
		return refHarnessOut{}
	}
	args := []string{filepath.Join("tools", "fr-ref", "ref.mjs"), "--set", harness, "--image", rgb,
		"--width", strconv.Itoa(im.img.W), "--height", strconv.Itoa(im.img.H), "--box", box, "--out", dir,
		"--weight-one", strconv.Itoa(wOne)}
	for i, sw := range refVariants(harness) {
		args = append(args, "--variant", fmt.Sprintf("v%d=%s", i, strings.Join(sw, ",")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = testenv.RepoRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("reference harness (%s, %s): %v\n%s", harness, im.name, err, stderr.String())
		return refHarnessOut{}
	}
	var out refHarnessOut
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Errorf("reference harness (%s, %s): %v", harness, im.name, err)
	}
	return out
}

// variant returns the run whose switches for role are exactly sw.
func (o *refHarnessOut) variant(t *testing.T, role string, sw []string) refHarnessVariant {
	want := slices.Sorted(slices.Values(sw))
	for _, v := range o.Variants {
		got := slices.DeleteFunc(slices.Clone(v.Deviations), func(s string) bool { return !strings.HasPrefix(s, role+"-") })
		slices.Sort(got)
		if slices.Equal(got, want) {
			return v
		}
	}
	t.Fatalf("no harness variant with %s switches %v", role, sw)
	return refHarnessVariant{}
}

// refCompare measures one model on one picture; see TestReferenceModels.
func refCompare(t *testing.T, rec *refRecorder, c refCase, m *model, im refImage, det analysis.Detection, out *refHarnessOut) {
	t.Helper()
	var r refRunVals
	if c.role == RoleDetector {
		r = refDetectorVals(t, c, m, im, det, out)
	} else {
		r = refFaceVals(t, rec, c, m, im, det, out)
	}
	tol := refTolerance(c.role)
	if d := refMaxAbs(r.onRef, r.want); d > tol {
		t.Errorf("%s/%s %s: facet %.4g, the reference (with %v) %.4g: differ by %.3g > %g", c.set, c.role, im.name, r.onRef, r.devs, r.want, d, tol)
	}
	if d := refMaxAbs(r.onRefRaw, r.wantRaw); d > 1e-3 {
		t.Errorf("%s/%s %s: facet's raw outputs differ from the reference's (with %v) by %.3g", c.set, c.role, im.name, r.devs, d)
	}
	rec.addVals(c, "pure", im.name, r.facet, r.values(out.variant(t, c.role, nil)))
	for _, d := range r.devs {
		rec.addVals(c, "dev:"+d, im.name, r.want, r.values(out.variant(t, c.role, refToggle(r.devs, d))))
	}
	flip := out.variant(t, c.role, refToggle(r.devs, c.swap))
	rec.addVals(c, "flip", im.name, r.want, r.values(flip))
	flipRaw := refMaxAbs(r.wantRaw, r.raw(flip))
	rec.add(c, "flip-raw", im.name, flipRaw)
	if im.name == "astronaut-tinted" && flipRaw < 3e-3 {
		t.Errorf("%s/%s: the tinted picture moves the raw outputs by only %.3g when R and B are exchanged: it does not tell the colour orders apart", c.set, c.role, flipRaw)
	}
}

// refRunVals are one model's values on one picture: facet's, facet's on
// the reference's crop (values and raw outputs), and the reference's with
// the documented deviations; values and raw read any harness variant's.
type refRunVals struct {
	devs               []string
	facet, onRef, want []float64
	onRefRaw, wantRaw  []float64
	values, raw        func(refHarnessVariant) []float64
}

// refDetectorVals compares a detector: values are the first face's box in
// 0..1 of the frame and its score; raw outputs, scores then boxes.
func refDetectorVals(t *testing.T, c refCase, m *model, im refImage, det analysis.Detection, out *refHarnessOut) refRunVals {
	devs := append(slices.Clone(c.devs), c.role+"-resample")
	refD := out.variant(t, c.role, devs)
	frame := crop{r: rect{0, 0, float64(im.img.W), float64(im.img.H)}}
	r := refRunVals{devs: devs, facet: []float64{det.Box.X1, det.Box.Y1, det.Box.X2, det.Box.Y2, det.Score}}
	r.values = func(v refHarnessVariant) []float64 { return refDetValues(v, im.img) }
	r.raw = func(v refHarnessVariant) []float64 {
		return append(refF64(v.Detector.Scores.load(t)), refF64(v.Detector.Boxes.load(t))...)
	}
	r.onRef, r.want = r.facet, r.values(refD)
	_, raw := refRun(t, m, im.img, frame)
	r.onRefRaw, r.wantRaw = refF64(raw), r.raw(refD)
	refCheckTensor(t, c, m, im, frame, refD.Detector.Tensor)
	refCheckRuntime(t, c, m, im, refD.Detector.Tensor, r.wantRaw)
	return r
}

// refFaceVals compares a face model, and measures its crop and the
// tensor cv.resize makes.
func refFaceVals(t *testing.T, rec *refRecorder, c refCase, m *model, im refImage, det analysis.Detection, out *refHarnessOut) refRunVals {
	devs := append(slices.Clone(c.devs), c.role+"-resample")
	model := func(v refHarnessVariant) refModelOut { return v.Faces[0].Models[c.role] }
	rm := model(out.variant(t, c.role, devs))
	own := faceCrop(m.spec.Crop, det, im.img.W, im.img.H)
	theirs := crop{r: rect{rm.Rect[0], rm.Rect[1], rm.Rect[2], rm.Rect[3]}, angle: rm.Angle}
	if own.angle != theirs.angle {
		t.Errorf("%s/%s %s: facet turns the crop by %g, the reference by %g", c.set, c.role, im.name, own.angle, theirs.angle)
	}
	r := refRunVals{devs: devs, want: rm.Values, wantRaw: rm.Outputs}
	r.values = func(v refHarnessVariant) []float64 { return model(v).Values }
	r.raw = func(v refHarnessVariant) []float64 { return model(v).Outputs }
	r.facet, _ = refRun(t, m, im.img, own)
	var raw []float32
	r.onRef, raw = refRun(t, m, im.img, theirs)
	r.onRefRaw = refF64(raw)
	rec.add(c, "crop-px", im.name, refMaxAbs([]float64{own.r.x, own.r.y, own.r.w, own.r.h}, rm.Rect))
	rec.add(c, "crop", im.name, refMaxAbs(r.facet, r.onRef))
	refCheckTensor(t, c, m, im, theirs, rm.Tensor)
	refCheckRuntime(t, c, m, im, rm.Tensor, rm.Outputs)
	// The tensor cv.resize makes of the same crop: uint8 rounding, and at
	// the crop's border the ROI's edge repeated.
	cvm := model(out.variant(t, c.role, c.devs))
	inner, all := refTensorDiff(m, theirs, refFill(m, im.img, theirs), cvm.Tensor.load(t))
	rec.add(c, "tensor", im.name, inner)
	rec.add(c, "tensor-border", im.name, all)
	return r
}

// refCheckTensor compares what facet writes for crop c with the tensor
// of the reference with resample switched on: equal but for float32
// rounding, or the crop, colour order, normalisation or layout differ.
func refCheckTensor(t *testing.T, c refCase, m *model, im refImage, cr crop, want refTensorInfo) {
	t.Helper()
	if d := refMaxAbs(refF64(refFill(m, im.img, cr)), refF64(want.load(t))); d > 1e-4 {
		t.Errorf("%s/%s %s: facet's input tensor differs from the reference's by %.3g", c.set, c.role, im.name, d)
	}
}

// refTensorDiff returns the largest difference between two input tensors
// of m for crop c: over the pixels sampled inside the crop (inner), and
// over all. An upscaling resampler reads beyond a crop's border for its
// outermost output pixels; facet reads the frame there, cv.resize on an
// ROI repeats the ROI's edge.
func refTensorDiff(m *model, c crop, a []float32, b []float32) (inner, all float64) {
	in := m.spec.Input
	ih, iw, ch := int(in.Shape[2]), int(in.Shape[3]), int(in.Shape[1])
	if in.Layout == "NHWC" {
		ih, iw, ch = int(in.Shape[1]), int(in.Shape[2]), int(in.Shape[3])
	}
	inside := func(o, n int, from, size float64) bool {
		p := from + (float64(o)+0.5)*size/float64(n) - 0.5
		return c.angle != 0 || (p >= from && p <= from+size-1)
	}
	for i := range a {
		px := i / ch
		if in.Layout == "NCHW" {
			px = i % (ih * iw)
		}
		d := math.Abs(float64(a[i] - b[i]))
		all = max(all, d)
		if inside(px%iw, iw, c.r.x, c.r.w) && inside(px/iw, ih, c.r.y, c.r.h) {
			inner = max(inner, d)
		}
	}
	return inner, all
}

// refCheckRuntime feeds m the reference's exact tensor and compares the
// raw outputs, concatenated in manifest order, with the reference's.
func refCheckRuntime(t *testing.T, c refCase, m *model, im refImage, in refTensorInfo, want []float64) {
	t.Helper()
	got := refF64(concat(refRunTensor(t, m, in.load(t))))
	if d := refMaxAbs(got, want); d > 1e-4 {
		t.Errorf("%s/%s %s: %s's outputs differ by %.3g from the reference's on the same tensor", c.set, c.role, im.name, c.file, d)
	}
}

// refDetValues are the first face's box in 0..1 of the frame and score.
func refDetValues(v refHarnessVariant, img analysis.Image) []float64 {
	if len(v.Detector.Faces) == 0 {
		return nil
	}
	f := v.Detector.Faces[0]
	w, h := float64(img.W), float64(img.H)
	return []float64{f.Box[0] / w, f.Box[1] / h, f.Box[2] / w, f.Box[3] / h, f.Score}
}

// refRun runs m on crop c of img the way Describe does and returns the
// post-processed values (for gender, the value before calibrate) and the
// raw outputs, concatenated in manifest order.
func refRun(t *testing.T, m *model, img analysis.Image, c crop) (values []float64, raw []float32) {
	err := m.runCrops(img, []crop{c}, func(_ int, outs [][]float32) {
		raw = concat(outs)
		switch {
		case m.spec.Role == RoleDetector:
		case m.spec.Role == RoleAge, m.spec.Post.Kind == "ssrnet":
			values = []float64{ssrnet(raw) * m.spec.Post.Scale}
		default:
			values = refF64(probabilities(m.spec.Post.Kind, outs[0]))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return values, raw
}

// refFill returns the input tensor facet makes of crop c (what runCrops
// feeds the model).
func refFill(m *model, img analysis.Image, c crop) []float32 {
	dst := make([]float32, m.size)
	if c.angle != 0 {
		fillRotated(dst, img, c, m.spec.Input)
	} else {
		fillBox(dst, img, c.r, c.inner, m.spec.Input)
	}
	return dst
}

// refRunTensor runs m's session on the tensor in and returns its outputs.
func refRunTensor(t *testing.T, m *model, in []float32) [][]float32 {
	r, err := m.get(1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.put(r)
	copy(r.in.GetData(), in)
	if err := m.sess.Run([]ort.Value{r.in}, r.vals); err != nil {
		t.Fatal(err)
	}
	outs := make([][]float32, len(r.outs))
	for i, o := range r.outs {
		outs[i] = slices.Clone(o.GetData())
	}
	return outs
}

func refF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// refMaxAbs is the largest absolute difference; +Inf when the lengths
// differ (a face found on one side only).
func refMaxAbs(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// refRecorder collects measurements by "set/role/measure".
type refRecorder struct {
	vals map[string][]refMeasure
}

type refMeasure struct {
	image string
	v     float64
}

func (r *refRecorder) add(c refCase, measure, image string, v float64) {
	k := c.set + "/" + c.role + "/" + measure
	r.vals[k] = append(r.vals[k], refMeasure{image, v})
}

// addVals records the difference of two value vectors; for a detector,
// of the boxes and of the scores apart.
func (r *refRecorder) addVals(c refCase, measure, image string, a, b []float64) {
	if c.role != RoleDetector {
		r.add(c, measure, image, refMaxAbs(a, b))
		return
	}
	if len(a) != 5 || len(b) != 5 {
		a, b = nil, []float64{0} // a face found on one side only: +Inf
	}
	r.add(c, measure+"/box", image, refMaxAbs(a[:min(len(a), 4)], b[:min(len(b), 4)]))
	r.add(c, measure+"/score", image, refMaxAbs(a[min(len(a), 4):], b[min(len(b), 4):]))
}

// check prints every measurement and compares the largest over the
// pictures with refRecorded: within 10 % (and a floor of a tenth of the
// tolerance, 0.01 px for crops).
func (r *refRecorder) check(t *testing.T) {
	var table strings.Builder
	bad := false
	for _, k := range slices.Sorted(maps.Keys(r.vals)) {
		got := 0.0
		var per []string
		for _, m := range r.vals[k] {
			got = max(got, m.v)
			per = append(per, fmt.Sprintf("%s %.4g", m.image, m.v))
		}
		t.Logf("%-40s %10.4g   %s", k, got, strings.Join(per, ", "))
		fmt.Fprintf(&table, "\t%q: %.3g,\n", k, got)
		want, ok := refRecorded[k]
		floor := refTolerance(strings.Split(k, "/")[1]) / 10
		if strings.HasSuffix(k, "/crop-px") {
			floor = 0.01
		}
		switch {
		case !ok:
			t.Errorf("%s = %.4g is not recorded in refRecorded", k, got)
			bad = true
		case math.Abs(got-want) > 0.1*want+floor:
			t.Errorf("%s = %.4g, recorded %.4g", k, got, want)
			bad = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(refRecorded)) {
		if _, ok := r.vals[k]; !ok {
			t.Errorf("refRecorded holds %s, which is no longer measured", k)
			bad = true
		}
	}
	if bad {
		t.Logf("measured now (refRecorded):\n%s", table.String())
	}
}
