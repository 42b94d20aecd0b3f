package onnx

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
)

// Options tune how a set runs; nil means the defaults.
type Options struct {
	// Threads is the intra-op thread count of each session; 0 means 1
	// (the pipeline parallelises across frames instead).
	Threads int
}

// Set is a loaded model set. It implements analysis.Models and is safe for
// concurrent use: ONNX Runtime sessions may run from several goroutines,
// and each call has its own tensors.
type Set struct {
	name      string
	det       *model
	landmarks *model   // nil: detections carry no landmarks
	emotions  []*model // an ensemble when more than one
	age, gend *model   // either may be nil
	ageGender *model   // one model for both; then age and gend are nil
	refs      []facet.ModelRef
}

var _ analysis.Models = (*Set)(nil)

type model struct {
	spec    Spec
	sess    *ort.DynamicAdvancedSession
	dynamic bool        // the batch axis is dynamic: all faces of a frame in one run
	size    int         // input elements per batch item
	outs    []ort.Shape // output shapes for one item, learned by a warm-up run

	mu   sync.Mutex
	free map[int][]*runner // idle runners by batch size
}

// runner holds the input and output tensors of one run of n items. They
// are made once and reused: a run then allocates nothing, neither in Go
// nor in ONNX Runtime, and makes no extra cgo calls.
type runner struct {
	n    int
	in   *ort.Tensor[float32]
	outs []*ort.Tensor[float32]
	vals []ort.Value // outs, as Run wants them
}

func (r *runner) destroy() {
	r.in.Destroy()
	for _, o := range r.outs {
		o.Destroy()
	}
}

// Open verifies every model file of m against its sha256 and opens a
// session for each. Init must have loaded the runtime.
func Open(m *Manifest, o *Options) (*Set, error) {
	if o == nil {
		o = &Options{}
	}
	threads := max(o.Threads, 1)
	if err := m.Verify(); err != nil {
		return nil, err
	}
	s := &Set{name: m.Name}
	for _, spec := range m.Models {
		md := &model{spec: spec, dynamic: spec.Input.Shape[0] < 0, size: 1, free: map[int][]*runner{}}
		for _, d := range spec.Input.Shape[1:] {
			md.size *= int(d)
		}
		sess, err := newSession(m.FilePath(spec), spec.Input.Name, spec.Outputs, threads)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("onnx: open model %s: %w", spec.Name, err)
		}
		md.sess = sess
		if err := md.warmUp(); err != nil {
			md.close()
			s.Close()
			return nil, fmt.Errorf("onnx: open model %s: %w", spec.Name, err)
		}
		switch spec.Role {
		case RoleDetector:
			s.det = md
		case RoleLandmarks:
			s.landmarks = md
		case RoleEmotion:
			s.emotions = append(s.emotions, md)
		case RoleAge:
			s.age = md
		case RoleGender:
			s.gend = md
		case RoleAgeGender:
			s.ageGender = md
		}
		s.refs = append(s.refs, facet.ModelRef{Role: spec.Role, Name: spec.Name, SHA256: spec.SHA256})
	}
	return s, nil
}

// Name returns the set's name from its manifest.
func (s *Set) Name() string { return s.name }

// Refs names every model of the set with its checksum.
func (s *Set) Refs() []facet.ModelRef { return slices.Clone(s.refs) }

// all returns every model of the set.
func (s *Set) all() []*model {
	ms := append([]*model{s.det, s.landmarks, s.age, s.gend, s.ageGender}, s.emotions...)
	return slices.DeleteFunc(ms, func(m *model) bool { return m == nil })
}

// Close releases every session.
func (s *Set) Close() error {
	for _, m := range s.all() {
		m.close()
	}
	return nil
}

// Detect finds faces in img and, when the set has a landmark model, their
// landmarks. When the whole frame shows no face it looks again, harder:
// see detectHarder.
func (s *Set) Detect(img analysis.Image) ([]analysis.Detection, error) {
	dets, err := s.detectIn(img, rect{0, 0, float64(img.W), float64(img.H)}, 0, s.det.spec.Post.ScoreThreshold)
	if err == nil && len(dets) == 0 {
		dets, err = s.detectHarder(img)
	}
	if err != nil || s.landmarks == nil || len(dets) == 0 {
		return dets, err
	}
	return dets, s.findLandmarks(img, dets)
}

// Second-pass settings. A frame where the detector finds nothing gets, in
// turn: a contrast-stretched copy when it is dark (mean luma under
// darkLuma), the frame turned by ±rollTry (faces tilted past the
// detector's training), and tiles of tileSide of the frame upscaled to
// the detector's input (faces too small for it). The first that finds a
// face wins. Frames with a face never pay for this.
//
// A second look at a frame that holds no face is more likely to find
// something face-like than a face (a cartoon's eye, a pattern), so its
// finds must score at least secondScore (the first pass keeps the
// manifest's threshold, 0.7).
const (
	darkLuma    = 70
	rollTry     = 35 * math.Pi / 180
	tileSide    = 0.6
	secondScore = 0.95
)

// detectHarder is the second pass for a frame with no face found: the
// finds of the first view that finds a face scoring secondScore or more.
func (s *Set) detectHarder(img analysis.Image) ([]analysis.Detection, error) {
	whole := rect{0, 0, float64(img.W), float64(img.H)}
	if lifted, ok := stretchDark(img); ok {
		dets, err := s.detectIn(lifted, whole, 0, secondScore)
		if err != nil || len(dets) > 0 {
			return dets, err
		}
	}
	for _, a := range []float64{rollTry, -rollTry} {
		dets, err := s.detectIn(img, whole, a, secondScore)
		if err != nil || len(dets) > 0 {
			return dets, err
		}
	}
	var all []analysis.Detection
	tw, th := tileSide*float64(img.W), tileSide*float64(img.H)
	for _, y := range []float64{0, float64(img.H) - th} {
		for _, x := range []float64{0, float64(img.W) - tw} {
			dets, err := s.detectIn(img, rect{x, y, tw, th}, 0, secondScore)
			if err != nil {
				return nil, err
			}
			all = append(all, dets...)
		}
	}
	return nms(all, s.det.spec.Post.IoUThreshold), nil
}

// detectIn runs the detector on region r of img turned by angle about its
// centre, and returns the faces scoring above minScore in img's normalised
// coordinates. A face
// found in a turned view keeps its size and gets its centre turned back:
// the landmarks then say how it is tilted.
func (s *Set) detectIn(img analysis.Image, r rect, angle, minScore float64) ([]analysis.Detection, error) {
	var dets []analysis.Detection
	err := s.det.runCrops(img, []crop{{r: r, angle: angle}}, func(_ int, o [][]float32) {
		dets = decodeUltraface(o[0], o[1], minScore, s.det.spec.Post.IoUThreshold)
	})
	if r.x == 0 && r.y == 0 && r.w == float64(img.W) && r.h == float64(img.H) && angle == 0 {
		return dets, err
	}
	cos, sin := math.Cos(angle), math.Sin(angle)
	fw, fh := float64(img.W), float64(img.H)
	for i := range dets {
		b := &dets[i].Box
		// Offsets from the view's centre in pixels, turned into the frame.
		u, v := ((b.X1+b.X2)/2-0.5)*r.w, ((b.Y1+b.Y2)/2-0.5)*r.h
		cx, cy := r.x+r.w/2+u*cos-v*sin, r.y+r.h/2+u*sin+v*cos
		hw, hh := (b.X2-b.X1)*r.w/2, (b.Y2-b.Y1)*r.h/2
		*b = analysis.Box{X1: clamp01((cx - hw) / fw), Y1: clamp01((cy - hh) / fh), X2: clamp01((cx + hw) / fw), Y2: clamp01((cy + hh) / fh)}
	}
	return dets, err
}

// stretchDark returns a contrast-stretched copy of a dark frame (its 1st
// to 99th luma percentile spread over 0..255), or false for a frame that
// is not dark.
func stretchDark(img analysis.Image) (analysis.Image, bool) {
	var hist [256]int
	var sum int
	n := img.W * img.H
	for i := 0; i < n; i++ {
		p := img.Pix[i*3 : i*3+3]
		l := (299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000
		hist[l]++
		sum += l
	}
	if n == 0 || sum/n >= darkLuma {
		return img, false
	}
	lo, hi := percentile(&hist, n/100), percentile(&hist, n-1-n/100)
	if hi-lo < 8 { // nothing to stretch: a black frame
		return img, false
	}
	var lut [256]byte
	for v := range lut {
		lut[v] = byte(min(max((v-lo)*255/(hi-lo), 0), 255))
	}
	out := analysis.Image{W: img.W, H: img.H, Pix: make([]byte, len(img.Pix))}
	for i, v := range img.Pix {
		out.Pix[i] = lut[v]
	}
	return out, true
}

// percentile returns the smallest value with more than rank values at or
// below it.
func percentile(hist *[256]int, rank int) int {
	seen := 0
	for v, c := range hist {
		seen += c
		if seen > rank {
			return v
		}
	}
	return 255
}

// findLandmarks runs the landmark model on each detection's crop and sets
// its five points.
func (s *Set) findLandmarks(img analysis.Image, dets []analysis.Detection) error {
	m := s.landmarks
	crops := make([]crop, len(dets))
	for i, d := range dets {
		crops[i] = faceCrop(m.spec.Crop, d, img.W, img.H)
	}
	return m.runCrops(img, crops, func(i int, outs [][]float32) {
		dets[i].Landmarks = fivePoints(outs[0], crops[i].r, img.W, img.H)
	})
}

// Describe runs the emotion, age and gender models on each face.
func (s *Set) Describe(img analysis.Image, faces []analysis.Detection) ([]analysis.Attributes, error) {
	attrs := make([]analysis.Attributes, len(faces))
	for i := range attrs {
		attrs[i].Age, attrs[i].Man = math.NaN(), math.NaN()
	}
	if len(faces) == 0 {
		return attrs, nil
	}
	emos, err := s.Emotions(img, faces)
	if err != nil {
		return nil, err
	}
	for i := range attrs {
		attrs[i].Emotions = emos[i]
	}
	for _, m := range []*model{s.age, s.gend, s.ageGender} {
		if m == nil {
			continue
		}
		if err := s.describe(m, img, faces, func(i int, o []float32) { setAgeGender(&attrs[i], m.spec, o) }); err != nil {
			return nil, err
		}
	}
	return attrs, nil
}

var _ analysis.EmotionReader = (*Set)(nil)

// Emotions runs only the emotion models on each face: their ensemble's
// probabilities, as Describe gives them.
func (s *Set) Emotions(img analysis.Image, faces []analysis.Detection) ([]facet.Emotions, error) {
	logs := make([][7]float64, len(faces))
	var weights float64
	for _, m := range s.emotions {
		w := m.spec.Weight
		if w == 0 {
			w = 1
		}
		weights += w
		err := s.describe(m, img, faces, func(i int, o []float32) {
			p := probabilities(m.spec.Post.Kind, o)
			for k := range logs[i] {
				logs[i][k] += w * math.Log(max(float64(p[k]), minProb))
			}
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]facet.Emotions, len(faces))
	for i := range out {
		out[i] = fromLogs(logs[i], weights)
	}
	return out, nil
}

// minProb bounds log-probabilities: one model's near-zero must not veto a
// class the others see (log 1e-4 is about -9, against 0 for certainty).
const minProb = 1e-4

// fromLogs returns the ensemble's probabilities: the weighted mean of the
// models' log-probabilities, renormalised (a weighted geometric mean).
func fromLogs(l [7]float64, weights float64) facet.Emotions {
	var e facet.Emotions
	mx := math.Inf(-1)
	for _, v := range l {
		mx = max(mx, v/weights)
	}
	var sum float64
	for k, v := range l {
		e[k] = math.Exp(v/weights - mx)
		sum += e[k]
	}
	for k := range e {
		e[k] /= sum
	}
	return e
}

// setAgeGender reads an age, gender or age-gender model's outputs (in
// manifest order, concatenated) into a.
func setAgeGender(a *analysis.Attributes, spec Spec, o []float32) {
	switch {
	case spec.Post.Kind == "age-gender":
		a.Age = float64(o[0])
		a.Man = float64(o[2])
	case spec.Role == RoleAge:
		a.Age = ssrnet(o) * spec.Post.Scale
	case spec.Post.Kind == "ssrnet":
		a.Man = calibrate(ssrnet(o)*spec.Post.Scale, spec.Post.Threshold)
	default:
		a.Man = float64(probabilities(spec.Post.Kind, o)[1])
	}
}

// describe runs m on each face's crop (aligned when the crop rule asks and
// the face has landmarks) and calls each with the face's index and its
// outputs concatenated in manifest order.
func (s *Set) describe(m *model, img analysis.Image, faces []analysis.Detection, each func(i int, o []float32)) error {
	crops := make([]crop, len(faces))
	for i, f := range faces {
		crops[i] = faceCrop(m.spec.Crop, f, img.W, img.H)
	}
	return m.runCrops(img, crops, func(i int, outs [][]float32) {
		o := outs[0]
		if len(outs) > 1 {
			o = concat(outs)
		}
		each(i, o)
	})
}

// run feeds one input item per rect, batched when the model allows, and
// calls each with the item's index and its outputs in manifest order. The
// slices are views into reused tensors: valid only during the call.
func (m *model) run(img analysis.Image, rects []rect, each func(i int, outs [][]float32)) error {
	crops := make([]crop, len(rects))
	for i, r := range rects {
		crops[i].r = r
	}
	return m.runCrops(img, crops, each)
}

// runCrops is run for crops that may be turned or padded.
func (m *model) runCrops(img analysis.Image, crops []crop, each func(i int, outs [][]float32)) error {
	batch := 1
	if m.dynamic {
		batch = len(crops)
	}
	views := make([][]float32, len(m.outs))
	for start := 0; start < len(crops); start += batch {
		n := min(batch, len(crops)-start)
		r, err := m.get(n)
		if err != nil {
			return fmt.Errorf("onnx: run %s: %w", m.spec.Name, err)
		}
		in := r.in.GetData()
		for i := range n {
			dst := in[i*m.size : (i+1)*m.size]
			if c := crops[start+i]; c.angle != 0 {
				fillRotated(dst, img, c, m.spec.Input)
			} else {
				fillBox(dst, img, c.r, c.inner, m.spec.Input)
			}
		}
		if err := m.sess.Run([]ort.Value{r.in}, r.vals); err != nil {
			m.put(r)
			return fmt.Errorf("onnx: run %s: %w", m.spec.Name, err)
		}
		for i := range n {
			for k, o := range r.outs {
				d := o.GetData()
				per := len(d) / n
				views[k] = d[i*per : (i+1)*per]
			}
			each(start+i, views)
		}
		m.put(r)
	}
	return nil
}

// warmUp runs the model once on zeros: it learns the output shapes (the
// first dimension of each is the batch) and pays ONNX Runtime's first-run
// costs at start-up rather than on the first frame.
func (m *model) warmUp() error {
	shape := ort.NewShape(slices.Clone(m.spec.Input.Shape)...)
	shape[0] = 1
	in, err := ort.NewEmptyTensor[float32](shape)
	if err != nil {
		return err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(m.spec.Outputs))
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if err := m.sess.Run([]ort.Value{in}, outs); err != nil {
		return err
	}
	m.outs = make([]ort.Shape, len(outs))
	for i, o := range outs {
		if _, ok := o.(*ort.Tensor[float32]); !ok {
			return fmt.Errorf("output %s is not a float32 tensor", m.spec.Outputs[i])
		}
		m.outs[i] = o.GetShape().Clone()
	}
	return nil
}

// get returns an idle runner for n items, making one when none is idle.
// At most one runner per concurrent caller and batch size ever exists.
func (m *model) get(n int) (*runner, error) {
	m.mu.Lock()
	if free := m.free[n]; len(free) > 0 {
		r := free[len(free)-1]
		m.free[n] = free[:len(free)-1]
		m.mu.Unlock()
		return r, nil
	}
	m.mu.Unlock()
	shape := ort.NewShape(slices.Clone(m.spec.Input.Shape)...)
	shape[0] = int64(n)
	in, err := ort.NewEmptyTensor[float32](shape)
	if err != nil {
		return nil, err
	}
	r := &runner{n: n, in: in}
	for _, s := range m.outs {
		s = s.Clone()
		s[0] *= int64(n)
		o, err := ort.NewEmptyTensor[float32](s)
		if err != nil {
			r.destroy()
			return nil, err
		}
		r.outs = append(r.outs, o)
		r.vals = append(r.vals, o)
	}
	return r, nil
}

func (m *model) put(r *runner) {
	m.mu.Lock()
	m.free[r.n] = append(m.free[r.n], r)
	m.mu.Unlock()
}

// close releases the runners and the session.
func (m *model) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, rs := range m.free {
		for _, r := range rs {
			r.destroy()
		}
		delete(m.free, n)
	}
	if m.sess != nil {
		m.sess.Destroy()
		m.sess = nil
	}
}

func concat(outs [][]float32) []float32 {
	var all []float32
	for _, o := range outs {
		all = append(all, o...)
	}
	return all
}

// decodeUltraface turns UltraFace's scores [N,2] and boxes [N,4] into
// detections: score above thr, then hard NMS.
func decodeUltraface(scores, boxes []float32, thr, iou float64) []analysis.Detection {
	n := min(len(scores)/2, len(boxes)/4)
	var cand []analysis.Detection
	for i := range n {
		sc := float64(scores[2*i+1])
		if sc <= thr {
			continue
		}
		b := boxes[4*i : 4*i+4]
		cand = append(cand, analysis.Detection{Score: sc, Box: analysis.Box{
			X1: clamp01(float64(b[0])), Y1: clamp01(float64(b[1])),
			X2: clamp01(float64(b[2])), Y2: clamp01(float64(b[3])),
		}})
	}
	return nms(cand, iou)
}

// nms keeps the best-scoring detections, dropping any that overlaps a kept
// one by more than iou.
func nms(cand []analysis.Detection, iou float64) []analysis.Detection {
	sort.SliceStable(cand, func(i, j int) bool { return cand[i].Score > cand[j].Score })
	var keep []analysis.Detection
	for _, c := range cand {
		if c.Box.Area() == 0 {
			continue
		}
		ok := true
		for _, k := range keep {
			if analysis.IoU(c.Box, k.Box) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, c)
		}
	}
	return keep
}

// probabilities returns o as probabilities: as is, or through softmax.
func probabilities(kind string, o []float32) []float32 {
	if kind != "softmax" {
		return o
	}
	p := make([]float32, len(o))
	mx := slices.Max(o)
	var sum float64
	for i, v := range o {
		e := math.Exp(float64(v - mx))
		p[i] = float32(e)
		sum += e
	}
	for i := range p {
		p[i] = float32(float64(p[i]) / sum)
	}
	return p
}

// ssrnet merges SSR-Net's three stages (Yang et al., IJCAI 2018) into one
// value in 0..1. x is the concatenation of prob_stage_1..3 (3 each),
// stage1..3_delta_k (1 each) and index_offset_stage1..3 (3 each).
func ssrnet(x []float32) float64 {
	if len(x) < 21 {
		return math.NaN()
	}
	f := func(i int) float64 { return float64(x[i]) }
	d1 := 3 * (1 + f(9))
	d2 := 3 * (1 + f(10))
	d3 := 3 * (1 + f(11))
	var a, b, c float64
	for i := range 3 {
		a += (float64(i) + f(12+i)) * f(i)
		b += (float64(i) + f(15+i)) * f(3+i)
		c += (float64(i) + f(18+i)) * f(6+i)
	}
	return a/d1 + b/d1/d2 + c/d1/d2/d3
}

// calibrate maps a score whose decision threshold is thr onto a
// probability-like 0..1 scale with 0.5 at thr.
func calibrate(v, thr float64) float64 {
	if thr <= 0 || thr >= 1 {
		return clamp01(v)
	}
	if v <= thr {
		return clamp01(0.5 * v / thr)
	}
	return clamp01(0.5 + 0.5*(v-thr)/(1-thr))
}

func clamp01(v float64) float64 { return math.Min(math.Max(v, 0), 1) }
