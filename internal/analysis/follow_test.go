package analysis

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/humaninsight/facet"
)

// texture is a fixed pattern of noise in blocks of 4x4 px (a face's
// features span several pixels too), never the background grey 128.
var texture = func() [40 * 40]byte {
	var t [40 * 40]byte
	r := rand.New(rand.NewPCG(1, 2))
	var blocks [10 * 10]byte
	for i := range blocks {
		v := r.IntN(200)
		if v >= 100 {
			v += 56 // 156..255: skip the background's 128
		}
		blocks[i] = byte(v)
	}
	for i := range t {
		t[i] = blocks[(i/40/4)*10+(i%40)/4]
	}
	return t
}()

// squareFrame draws the 40x40 texture at (x, y) on a 160x120 grey frame.
func squareFrame(x, y int) Image { return squareFrameLit(x, y, 0) }

// squareFrameLit draws the texture lifted by lift luma levels (an
// expression changing: the face's picture, not its place).
func squareFrameLit(x, y, lift int) Image {
	img := Image{W: 160, H: 120, Pix: make([]byte, 160*120*3)}
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	for j := range 40 {
		for i := range 40 {
			if x+i < 0 || x+i >= 160 || y+j < 0 || y+j >= 120 {
				continue
			}
			p := img.Pix[((y+j)*160+x+i)*3:]
			v := byte(min(int(texture[j*40+i])+lift, 255))
			p[0], p[1], p[2] = v, v, v
		}
	}
	return img
}

func TestHalfPlane(t *testing.T) {
	// Two 2x2 blocks; each gives its top-left pixel's luma by Rec. 601
	// weights: pure red 0.299 x 255 = 76.2, and (0.299 x 10 + 0.587 x 200 +
	// 0.114 x 40) = 124.95, truncated.
	img := Image{W: 4, H: 2, Pix: []byte{
		255, 0, 0, 0, 255, 0, 10, 200, 40, 9, 9, 9,
		0, 0, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0,
	}}
	var g plane
	halfPlane(img, &g)
	if g.w != 2 || g.h != 1 || g.pix[0] != 76 || g.pix[1] != 124 {
		t.Fatalf("got %dx%d %v, want 2x1 [76 124]", g.w, g.h, g.pix)
	}
}

func TestNCC(t *testing.T) {
	var a, b, flat patch
	for i := range a {
		a[i] = float32(i % 37)
		b[i] = 255 - a[i]
		flat[i] = 9
	}
	if v := ncc(&a, &a); math.Abs(v-1) > 1e-9 {
		t.Errorf("a with itself: %v, want 1", v)
	}
	if v := ncc(&a, &b); math.Abs(v+1) > 1e-9 {
		t.Errorf("a with its negative: %v, want -1", v)
	}
	if v := ncc(&a, &flat); v != 0 {
		t.Errorf("a with a flat patch: %v, want 0", v)
	}
	if v := meanAbsDiff(&flat, &flat); v != 0 {
		t.Errorf("flat with itself differs by %v", v)
	}
}

func TestMatch(t *testing.T) {
	var prev, cur plane
	halfPlane(squareFrame(60, 40), &prev)
	box := Box{60.0 / 160, 40.0 / 120, 100.0 / 160, 80.0 / 120}
	// Moved by (+6, -4) frame pixels: (+3, -2) on the half-size plane.
	halfPlane(squareFrame(66, 36), &cur)
	dx, dy, score, ok := match(&prev, &cur, box)
	if !ok || dx != 3 || dy != -2 || score < 0.999 {
		t.Errorf("moved by (3, -2): got (%d, %d) score %.3f ok %v", dx, dy, score, ok)
	}
	// Moved farther than a quarter of its width (10 frame px): lost.
	halfPlane(squareFrame(90, 40), &cur)
	if _, _, score, _ := match(&prev, &cur, box); score > 0.5 {
		t.Errorf("a face gone out of reach matched at %.3f", score)
	}
}

// squareSource yields frames of the texture at pos(i), at 5 fps.
type squareSource struct {
	n, i int
	pos  func(i int) (x, y int)
	lift int // luma levels added to the texture per frame
}

func (s *squareSource) ReadFrame(dst []byte) (float64, error) {
	if s.i >= s.n {
		return 0, io.EOF
	}
	x, y := s.pos(s.i)
	copy(dst, squareFrameLit(x, y, s.lift*s.i).Pix)
	s.i++
	return float64(s.i-1) / 5, nil
}

// squareModels finds the texture exactly (the bounding box of the pixels
// that are not background) and describes it by where it is.
type squareModels struct{ detects, described atomic.Int64 }

func (m *squareModels) Detect(img Image) ([]Detection, error) {
	m.detects.Add(1)
	x0, y0, x1, y1 := img.W, img.H, -1, -1
	for y := range img.H {
		for x := range img.W {
			if img.Pix[(y*img.W+x)*3] != 128 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
			}
		}
	}
	if x1 < 0 {
		return nil, nil
	}
	w, h := float64(img.W), float64(img.H)
	return []Detection{{Box: Box{float64(x0) / w, float64(y0) / h, float64(x1) / w, float64(y1) / h}, Score: 0.9}}, nil
}

func (m *squareModels) Describe(img Image, faces []Detection) ([]Attributes, error) {
	m.described.Add(int64(len(faces)))
	out := make([]Attributes, len(faces))
	for i, f := range faces {
		out[i].Emotions[int(f.Box.X1*160)%7] = 1
		out[i].Age, out[i].Man = 30, 0.5
	}
	return out, nil
}

func runSquare(t *testing.T, n int, pos func(int) (int, int), tr Tracking) ([]facet.Frame, *squareModels) {
	return runSquareLit(t, &squareSource{n: n, pos: pos}, tr)
}

func runSquareLit(t *testing.T, src *squareSource, tr Tracking) ([]facet.Frame, *squareModels) {
	t.Helper()
	m := &squareModels{}
	var frames []facet.Frame
	n := src.n
	_, err := Run(context.Background(), src, m, Options{Width: 160, Height: 120, Workers: 2, Tracking: &tr,
		OnFrame: func(f facet.Frame) error { frames = append(frames, f); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != n {
		t.Fatalf("%d frames, want %d", len(frames), n)
	}
	return frames, m
}

func TestRunTracking(t *testing.T) {
	tr := Tracking{Every: 5, MinMatch: 0.9, MaxDrift: 0.5}
	// Moving 2 px a frame: followed between detections on frames 0, 5
	// and 10, its box where the texture is.
	frames, m := runSquare(t, 12, func(i int) (int, int) { return 20 + 2*i, 30 + 2*i }, tr)
	if n := m.detects.Load(); n != 3 {
		t.Errorf("%d detections, want 3 (frames 0, 5, 10)", n)
	}
	for i, f := range frames {
		if math.Abs(float64(f.T)-float64(i)/5) > 1e-9 || len(f.Faces) != 1 || f.Faces[0].Track != 1 {
			t.Fatalf("frame %d: t %v faces %+v", i, f.T, f.Faces)
		}
		if x, y := float64(f.Faces[0].Box[0])*160, float64(f.Faces[0].Box[1])*120; math.Abs(x-float64(20+2*i)) > 1e-6 || math.Abs(y-float64(30+2*i)) > 1e-6 {
			t.Errorf("frame %d: box at (%.2f, %.2f), texture at (%d, %d)", i, x, y, 20+2*i, 30+2*i)
		}
	}
	// A jump on frame 7 (a cut): detected there too.
	_, m = runSquare(t, 12, func(i int) (int, int) {
		if i >= 7 {
			return 100, 60
		}
		return 20, 30
	}, tr)
	if n := m.detects.Load(); n != 4 {
		t.Errorf("with a jump: %d detections, want 4 (frames 0, 5, 7, 10)", n)
	}
	// Drifting 4 px a frame with MaxDrift 0.25 of 40 px: detected again
	// once 10 px from the last detection, every third frame.
	drift := tr
	drift.MaxDrift = 0.25
	_, m = runSquare(t, 10, func(i int) (int, int) { return 20 + 4*i, 30 }, drift)
	if n := m.detects.Load(); n != 4 {
		t.Errorf("drifting: %d detections, want 4 (frames 0, 3, 5, 8)", n)
	}
}

func TestRunTrackingReuse(t *testing.T) {
	tr := Tracking{Every: 5, MinMatch: 0.9, MaxDrift: 0.5, ReuseBelow: 1}
	still := func(int) (int, int) { return 20, 30 }
	frames, m := runSquare(t, 12, still, tr)
	if n := m.described.Load(); n != 3 {
		t.Errorf("a still face: described %d times, want 3 (once a segment)", n)
	}
	for i, f := range frames {
		if f.Faces[0].Emotions == nil || *f.Faces[0].Dominant != facet.EmotionLabels[20%7] {
			t.Errorf("frame %d: reused description lost: %+v", i, f.Faces[0])
		}
	}
	// A face moving but unchanged keeps its description too.
	_, m = runSquare(t, 12, func(i int) (int, int) { return 20 + 2*i, 30 }, tr)
	if n := m.described.Load(); n != 3 {
		t.Errorf("a moving face: described %d times, want 3", n)
	}
	// A face whose picture changes by 2 luma levels a frame is described
	// every frame (ReuseBelow 1).
	_, m = runSquareLit(t, &squareSource{n: 12, pos: still, lift: 2}, tr)
	if n := m.described.Load(); n != 12 {
		t.Errorf("a changing face: described %d times, want 12", n)
	}
	// With models that can read emotions alone, a followed face keeps its
	// age and gender and only its emotions are read again.
	em := &emotionModels{}
	var frames2 []facet.Frame
	_, err := Run(context.Background(), &squareSource{n: 12, pos: still, lift: 2}, em, Options{Width: 160, Height: 120, Workers: 2, Tracking: &tr,
		OnFrame: func(f facet.Frame) error { frames2 = append(frames2, f); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if d, e := em.described.Load(), em.emotions.Load(); d != 3 || e != 9 {
		t.Errorf("described whole %d times, emotions alone %d; want 3 (detected frames) and 9", d, e)
	}
	for i, f := range frames2 {
		fc := f.Faces[0]
		if *fc.Age != 30 || fc.Gender.Man != 0.5 || *fc.Dominant != facet.EmotionLabels[emotionOf(i)] {
			t.Errorf("frame %d: age %v, man %v, dominant %s; want 30, 0.5, %s", i, *fc.Age, fc.Gender.Man, *fc.Dominant, facet.EmotionLabels[emotionOf(i)])
		}
	}
}

// emotionModels are squareModels that read emotions alone too: the
// reading is the frame's lift (its texture's first pixel less the
// texture's own), so each frame reads as emotionOf(frame).
type emotionModels struct {
	squareModels
	emotions atomic.Int64
}

func emotionOf(frame int) int { return frame % 7 }

func (m *emotionModels) read(img Image, f Detection) facet.Emotions {
	x, y := int(f.Box.X1*float64(img.W)), int(f.Box.Y1*float64(img.H))
	lift := int(img.Pix[(y*img.W+x)*3]) - int(texture[0])
	var e facet.Emotions
	e[emotionOf(lift/2)] = 1
	return e
}

func (m *emotionModels) Describe(img Image, faces []Detection) ([]Attributes, error) {
	out, err := m.squareModels.Describe(img, faces)
	for i := range out {
		out[i].Emotions = m.read(img, faces[i])
	}
	return out, err
}

func (m *emotionModels) Emotions(img Image, faces []Detection) ([]facet.Emotions, error) {
	m.emotions.Add(int64(len(faces)))
	out := make([]facet.Emotions, len(faces))
	for i, f := range faces {
		out[i] = m.read(img, f)
	}
	return out, nil
}

// shortModels describe no face, whatever they are given.
type shortModels struct{ squareModels }

func (m *shortModels) Describe(Image, []Detection) ([]Attributes, error) { return nil, nil }

func TestRunModelCountMismatch(t *testing.T) {
	for _, tr := range []*Tracking{nil, {Every: 5, MinMatch: 0.9, MaxDrift: 0.5}} {
		_, err := Run(context.Background(), &squareSource{n: 3, pos: func(int) (int, int) { return 20, 30 }}, &shortModels{},
			Options{Width: 160, Height: 120, Workers: 2, Tracking: tr})
		if want := "analysis: frame 0: 0 attributes for 1 faces"; err == nil || err.Error() != want {
			t.Errorf("tracking %v: %v, want %q", tr != nil, err, want)
		}
	}
}
