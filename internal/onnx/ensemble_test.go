package onnx

import (
	"math"
	"testing"

	"github.com/humaninsight/facet/internal/analysis"
)

func TestFromLogs(t *testing.T) {
	// Two models, equal weights: the geometric mean of (0.5, 0.5, 0...)
	// and (0.8, 0.2, 0...) per class, renormalised. Worked by hand:
	// sqrt(0.5*0.8) = 0.63246, sqrt(0.5*0.2) = 0.31623, the rest
	// sqrt(1e-4*1e-4) = 1e-4 each (five classes), sum 0.94919.
	var l [7]float64
	for _, p := range [][7]float64{{0.5, 0.5}, {0.8, 0.2}} {
		for k, v := range p {
			l[k] += math.Log(max(v, minProb))
		}
	}
	e := fromLogs(l, 2)
	want := []float64{0.63246 / 0.94919, 0.31623 / 0.94919, 1e-4 / 0.94919}
	for k, w := range want {
		if math.Abs(e[k]-w) > 1e-4 {
			t.Errorf("class %d: %.5f, want %.5f", k, e[k], w)
		}
	}
	// One model alone is returned unchanged (up to the floor).
	var one [7]float64
	p := [7]float64{0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1}
	for k, v := range p {
		one[k] = 3 * math.Log(v) // weight 3
	}
	for k, v := range fromLogs(one, 3) {
		if math.Abs(v-p[k]) > 1e-9 {
			t.Errorf("single model class %d: %v, want %v", k, v, p[k])
		}
	}
}

func TestFaceRegionAligned(t *testing.T) {
	// A 100x100 frame; box (20,20)-(60,80); eyes at (30,40) and (50,60):
	// the eye line falls 45 degrees to the right.
	d := analysis.Detection{
		Box:       analysis.Box{X1: 0.2, Y1: 0.2, X2: 0.6, Y2: 0.8},
		Landmarks: &[5]analysis.Point{{X: 0.3, Y: 0.4}, {X: 0.5, Y: 0.6}},
	}
	c := CropSpec{Kind: "face", Scale: 1.5, Square: true, Align: true}
	cr := faceCrop(c, d, 100, 100)
	r, a := cr.r, cr.angle
	if math.Abs(a-math.Pi/4) > 1e-9 {
		t.Errorf("angle %v, want pi/4", a)
	}
	// Square of side 60 * 1.5 = 90 centred on (40, 50), not clamped.
	if want := (rect{-5, 5, 90, 90}); math.Abs(r.x-want.x)+math.Abs(r.y-want.y)+math.Abs(r.w-want.w)+math.Abs(r.h-want.h) > 1e-9 {
		t.Errorf("region %+v, want %+v", r, want)
	}
	// Without Align, or without landmarks, the axis-aligned clamped crop.
	c.Align = false
	if cr := faceCrop(c, d, 100, 100); cr.angle != 0 || cr.r != cropRect(c, d.Box, 100, 100) || cr.inner != nil {
		t.Errorf("unaligned: %+v", cr)
	}
	// Level eyes are not turned.
	d.Landmarks = &[5]analysis.Point{{X: 0.3, Y: 0.4}, {X: 0.5, Y: 0.4}}
	c.Align = true
	if cr := faceCrop(c, d, 100, 100); cr.angle != 0 {
		t.Errorf("level eyes turned by %v", cr.angle)
	}
}

func TestFillRotated(t *testing.T) {
	// A 3x3 grey ramp v = 10*x + 100*y. Turned by 90 degrees about the
	// centre (1, 1), output offset (u, v) reads the frame at
	// (1 - v, 1 + u): the crop's x axis runs down the frame. So the
	// output's first row (v = -1) is the frame's last column read top to
	// bottom, and its last row the first column.
	img := analysis.Image{W: 3, H: 3, Pix: make([]byte, 27)}
	for y := range 3 {
		for x := range 3 {
			for k := range 3 {
				img.Pix[(y*3+x)*3+k] = byte(10*x + 100*y)
			}
		}
	}
	in := InputSpec{Shape: []int64{1, 1, 3, 3}, Layout: "NCHW", Color: "GRAY", Scale: 1, Mean: []float32{0}, Std: []float32{1}}
	dst := make([]float32, 9)
	fillRotated(dst, img, crop{r: rect{0, 0, 3, 3}, angle: math.Pi / 2}, in)
	want := []float32{20, 120, 220, 10, 110, 210, 0, 100, 200}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-3 {
			t.Fatalf("turned ramp %v, want %v", dst, want)
		}
	}
	// Turned by 0 it equals fill.
	a, b := make([]float32, 9), make([]float32, 9)
	fillRotated(a, img, crop{r: rect{0, 0, 3, 3}}, in)
	fill(b, img, rect{0, 0, 3, 3}, in)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 0.5 {
			t.Fatalf("unturned %v, fill %v", a, b)
		}
	}
}

func TestFivePoints(t *testing.T) {
	o := make([]float32, 136)
	for i := 36; i <= 41; i++ { // right eye around (0.25, 0.4)
		o[2*i], o[2*i+1] = 0.25, 0.4
	}
	for i := 42; i <= 47; i++ {
		o[2*i], o[2*i+1] = 0.75, 0.4
	}
	o[60], o[61] = 0.5, 0.6 // nose tip, point 30
	o[96], o[97] = 0.3, 0.8 // point 48
	o[108], o[109] = 0.7, 0.8
	p := fivePoints(o, rect{100, 50, 40, 40}, 200, 100)
	want := [5]analysis.Point{{X: 0.55, Y: 0.66}, {X: 0.65, Y: 0.66}, {X: 0.6, Y: 0.74}, {X: 0.56, Y: 0.82}, {X: 0.64, Y: 0.82}}
	for i := range want {
		if math.Abs(p[i].X-want[i].X) > 1e-6 || math.Abs(p[i].Y-want[i].Y) > 1e-6 {
			t.Errorf("point %d: %+v, want %+v", i, p[i], want[i])
		}
	}
}

func TestStretchDark(t *testing.T) {
	// 100 pixels: luma 10 for 50 of them and 40 for the rest (mean 25):
	// dark. The 1st and 99th percentiles are 10 and 40, so 10 -> 0,
	// 40 -> 255 and 25 -> 127.
	img := analysis.Image{W: 10, H: 10, Pix: make([]byte, 300)}
	for i := range 100 {
		v := byte(10)
		if i >= 50 {
			v = 40
		}
		img.Pix[i*3], img.Pix[i*3+1], img.Pix[i*3+2] = v, v, v
	}
	img.Pix[0] = 25 // one red value between
	out, ok := stretchDark(img)
	if !ok {
		t.Fatal("a dark frame was not stretched")
	}
	if out.Pix[0] != 127 || out.Pix[1] != 0 || out.Pix[299] != 255 {
		t.Errorf("stretched %v ... %v", out.Pix[:3], out.Pix[297:])
	}
	if img.Pix[1] != 10 {
		t.Error("the input was changed")
	}
	bright := analysis.Image{W: 1, H: 1, Pix: []byte{200, 200, 200}}
	if _, ok := stretchDark(bright); ok {
		t.Error("a bright frame was stretched")
	}
	black := analysis.Image{W: 2, H: 1, Pix: make([]byte, 6)}
	if _, ok := stretchDark(black); ok {
		t.Error("a black frame was stretched")
	}
}

func TestFillZeroPadLegacy(t *testing.T) {
	// face-api's rule worked by hand: a 4x2 face box (the whole 4x2 grey
	// image, values 10*x + 100*y) is padded with one black row above and
	// below to a 4x4 square, then resized to 2x2 with TensorFlow's legacy
	// bilinear: output (i, j) samples the square at (2j, 2i). Row 0 of
	// the square is black, row 2 is the image's row 1 (100, 110, 120, 130).
	img := analysis.Image{W: 4, H: 2, Pix: make([]byte, 24)}
	for y := range 2 {
		for x := range 4 {
			for k := range 3 {
				img.Pix[(y*4+x)*3+k] = byte(10*x + 100*y)
			}
		}
	}
	in := InputSpec{Shape: []int64{1, 1, 2, 2}, Layout: "NCHW", Color: "GRAY", Scale: 1, Mean: []float32{0}, Std: []float32{1}, Resize: "legacy"}
	c := faceCrop(CropSpec{Kind: "face", Scale: 1, Square: true, Pad: "zero"}, analysis.Detection{Box: analysis.Box{X2: 1, Y2: 1}}, 4, 2)
	if want := (rect{0, -1, 4, 4}); c.r != want || c.inner == nil || *c.inner != (rect{0, 0, 4, 2}) {
		t.Fatalf("crop %+v inner %+v", c.r, c.inner)
	}
	got := make([]float32, 4)
	fillBox(got, img, c.r, c.inner, in)
	want := []float32{0, 0, 100, 120}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 0.5 {
			t.Fatalf("padded %v, want %v", got, want)
		}
	}
}
