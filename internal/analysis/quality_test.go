package analysis

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// picture builds a w x h rgb24 image whose pixel (x, y) is px(x, y).
func picture(w, h int, px func(x, y int) [3]byte) Image {
	img := Image{W: w, H: h, Pix: make([]byte, 3*w*h)}
	for y := range h {
		for x := range w {
			p := px(x, y)
			copy(img.Pix[3*(y*w+x):], p[:])
		}
	}
	return img
}

func grey(v byte) [3]byte { return [3]byte{v, v, v} }

func TestLuma(t *testing.T) {
	// Rec.601: Y = 0.299 R + 0.587 G + 0.114 B.
	cases := []struct {
		px   [3]byte
		want float64
	}{
		{[3]byte{255, 0, 0}, 76.245},  // 0.299 * 255
		{[3]byte{0, 255, 0}, 149.685}, // 0.587 * 255
		{[3]byte{0, 0, 255}, 29.07},   // 0.114 * 255
		{[3]byte{255, 255, 255}, 255},
		{grey(40), 40},
		{[3]byte{100, 50, 200}, 82.05}, // 29.9 + 29.35 + 22.8
	}
	for _, c := range cases {
		img := picture(1, 1, func(int, int) [3]byte { return c.px })
		if got := luma(img, 0, 0); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("luma%v = %v, want %v", c.px, got, c.want)
		}
	}
}

// fourByFour is worked out on paper. Its luma is
//
//	0  0  0  0
//	0 40  0  0
//	0  0 20  0
//	0  0  0  0
//
// in grey pixels, so that every step can be checked by hand (TestLuma
// checks the colour weights).
func fourByFour() Image {
	return picture(4, 4, func(x, y int) [3]byte {
		switch {
		case x == 1 && y == 1:
			return grey(40)
		case x == 2 && y == 2:
			return grey(20)
		}
		return grey(0)
	})
}

func TestLaplacianVarianceByHand(t *testing.T) {
	img := fourByFour()
	r := rect{0, 0, 4, 4}
	// Mean luma: (40 + 20) / 16.
	if got := meanLuma(img, r); math.Abs(got-3.75) > 1e-9 {
		t.Errorf("mean luma %v, want 3.75", got)
	}
	// The view of a 4x4 box at 4x4 is the luma itself.
	g := lumaView(img, r, 4)
	want := []float64{0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0}
	if diff := cmp.Diff(want, g, approx); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}
	// Laplacian (up + down + left + right - 4 centre) of the interior:
	//   (1,1): 0+0+0+0 - 160 = -160     (2,1): 0+20+40+0 - 0 = 60
	//   (1,2): 40+0+0+20 - 0 = 60       (2,2): 0+0+0+0 - 80  = -80
	// mean -30; deviations -130, 90, 90, -50; squares 16900, 8100, 8100,
	// 2500; variance 35600 / 4 = 8900.
	if got := laplacianVariance(g, 4, 4); math.Abs(got-8900) > 1e-9 {
		t.Errorf("Laplacian variance %v, want 8900", got)
	}
	if got := laplacianVariance(g[:8], 4, 2); got != 0 {
		t.Errorf("no interior: %v, want 0", got)
	}
}

// checker is a w x h checkerboard of cell x cell squares of 0 and 255.
func checker(w, h, cell int) Image {
	return picture(w, h, func(x, y int) [3]byte {
		if (x/cell+y/cell)%2 == 0 {
			return grey(255)
		}
		return grey(0)
	})
}

func TestSharpnessScale(t *testing.T) {
	// A 1 px checkerboard seen at 64x64: every interior Laplacian is
	// ±4*255 (four opposite neighbours), mean 0, variance 1020² = 1040400.
	// A 2 px checkerboard: two neighbours alike, two opposite, ±2*255,
	// variance 510² = 260100.
	cases := []struct {
		name string
		img  Image
		box  Box
		want float64
	}{
		{"64 px box of a 1 px checker", checker(64, 64, 1), Box{0, 0, 1, 1}, 1040400},
		{"same pattern, twice the pixels: the same", checker(128, 128, 2), Box{0, 0, 1, 1}, 1040400},
		{"same pattern, in a bigger frame", checker(256, 256, 2), Box{0.25, 0.25, 0.75, 0.75}, 1040400},
		{"32 px box, upsampled: blurrier, as it is", checker(32, 32, 1), Box{0, 0, 1, 1}, 260100},
		{"flat", picture(50, 50, func(int, int) [3]byte { return grey(90) }), Box{0, 0, 1, 1}, 0},
	}
	for _, c := range cases {
		got := float64(MeasureFace(c.img, Detection{Box: c.box}).Sharpness)
		if math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s: sharpness %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAxisTaps(t *testing.T) {
	cases := []struct {
		lo, hi, n int
		want      [][]tap
	}{
		{0, 4, 2, [][]tap{{{0, 0.5}, {1, 0.5}}, {{2, 0.5}, {3, 0.5}}}},
		{10, 13, 2, [][]tap{{{10, 2.0 / 3}, {11, 1.0 / 3}}, {{11, 1.0 / 3}, {12, 2.0 / 3}}}},
		{5, 6, 2, [][]tap{{{5, 1}}, {{5, 1}}}},
	}
	for _, c := range cases {
		got := axisTaps(c.lo, c.hi, c.n)
		if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(tap{}), approx); diff != "" {
			t.Errorf("axisTaps(%d, %d, %d) (-want +got):\n%s", c.lo, c.hi, c.n, diff)
		}
	}
}

func TestMeasureFace(t *testing.T) {
	// A 100x80 frame of grey 50 with a face-sized patch of grey 200 at
	// pixels x 20..59, y 10..39 and a dark patch of grey 30 at x 70..99,
	// y 50..79.
	img := picture(100, 80, func(x, y int) [3]byte {
		switch {
		case x >= 20 && x < 60 && y >= 10 && y < 40:
			return grey(200)
		case x >= 70 && y >= 50:
			return grey(30)
		}
		return grey(50)
	})
	eyes := &[5]Point{{0.3, 0.25}, {0.5, 0.25}, {0.45, 0.35}, {0.3, 0.45}, {0.5, 0.45}}
	cases := []struct {
		name  string
		d     Detection
		want  facet.FaceQuality
		flags []string
	}{
		{"the patch", Detection{Box: Box{0.2, 0.125, 0.6, 0.5}},
			facet.FaceQuality{SizePx: 30, Brightness: 200}, nil},
		{"half patch, half background", Detection{Box: Box{0.1, 0.125, 0.3, 0.5}},
			// 20x30 px: 10 columns of 50 and 10 of 200. At 64x64 the step
			// falls between view columns 31 and 32 (10 / (20/64) = 32): in
			// each of the 62 interior rows one Laplacian of +150 and one of
			// -150, the rest 0; variance 2·62·150² / 62² = 45000/62.
			facet.FaceQuality{SizePx: 20, Brightness: 125, Sharpness: 45000.0 / 62}, []string{FlagTooSmall}},
		{"clipped at the frame's edge", Detection{Box: Box{-0.1, 0, 0.2, 0.5}},
			facet.FaceQuality{SizePx: 20, Brightness: 50}, []string{FlagTooSmall}},
		{"dark corner", Detection{Box: Box{0.7, 0.625, 1, 1}},
			facet.FaceQuality{SizePx: 30, Brightness: 30}, []string{FlagTooDark}},
		{"outside the frame", Detection{Box: Box{1.1, 0, 1.3, 0.5}},
			facet.FaceQuality{}, []string{FlagTooSmall, FlagTooDark}},
		{"with landmarks", Detection{Box: Box{0.2, 0.125, 0.6, 0.5}, Landmarks: eyes},
			// Eyes 20 px apart, nose 5 px right of their midpoint.
			facet.FaceQuality{SizePx: 30, Brightness: 200, Yaw: facet.NumPtr(0.25), Roll: facet.NumPtr(0)}, nil},
	}
	for _, c := range cases {
		got := MeasureFace(img, c.d)
		if diff := cmp.Diff(c.want, got, approx); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
		if diff := cmp.Diff(c.flags, FaceFlags(got)); diff != "" {
			t.Errorf("%s flags (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestHeadPose(t *testing.T) {
	lm := func(re, le, nose Point) *[5]Point { return &[5]Point{re, le, nose, {}, {}} }
	cases := []struct {
		name      string
		lm        *[5]Point
		w, h      int
		yaw, roll float64
		ok        bool
	}{
		{"frontal", lm(Point{0.4, 0.4}, Point{0.6, 0.4}, Point{0.5, 0.5}), 100, 100, 0, 0, true},
		{"turned", lm(Point{0.4, 0.4}, Point{0.6, 0.4}, Point{0.55, 0.5}), 100, 100, 0.25, 0, true},
		{"turned the other way", lm(Point{0.4, 0.4}, Point{0.6, 0.4}, Point{0.4, 0.5}), 100, 100, -0.5, 0, true},
		// Eyes at (40,40) and (60,60): the eye line at 45 degrees; the nose
		// on the perpendicular through their midpoint is not turned.
		{"leaning", lm(Point{0.4, 0.4}, Point{0.6, 0.6}, Point{0.45, 0.55}), 100, 100, 0, 45, true},
		// In a 200x100 frame the eyes are at (80,40) and (120,40), 40 px
		// apart, and the nose at x 110: 10 px off.
		{"wide frame", lm(Point{0.4, 0.4}, Point{0.6, 0.4}, Point{0.55, 0.5}), 200, 100, 0.25, 0, true},
		// (80,40) to (120,80): 45 degrees in pixels, not atan(0.4/0.2).
		{"wide frame, leaning", lm(Point{0.4, 0.4}, Point{0.6, 0.8}, Point{0.5, 0.6}), 200, 100, 0, 45, true},
		{"no landmarks", nil, 100, 100, 0, 0, false},
		{"eyes on one point", lm(Point{0.5, 0.4}, Point{0.5, 0.4}, Point{0.5, 0.5}), 100, 100, 0, 0, false},
	}
	for _, c := range cases {
		yaw, roll, ok := headPose(c.lm, c.w, c.h)
		if ok != c.ok || math.Abs(yaw-c.yaw) > 1e-9 || math.Abs(roll-c.roll) > 1e-9 {
			t.Errorf("%s: yaw %v roll %v ok %v, want %v %v %v", c.name, yaw, roll, ok, c.yaw, c.roll, c.ok)
		}
	}
}

func TestTurnedAwayYawIsAbout30Degrees(t *testing.T) {
	// The geometry TurnedAwayYaw rests on: nose tip 20 mm in front of eyes
	// 63 mm apart, turned by θ, moves (20/63)·tan θ eye distances.
	deg := math.Atan(TurnedAwayYaw*63/20) * 180 / math.Pi
	if deg < 25 || deg > 35 {
		t.Errorf("TurnedAwayYaw %v is %.1f degrees under the documented model, want about 30", TurnedAwayYaw, deg)
	}
}

func TestRecordingFlags(t *testing.T) {
	n := facet.NumPtr
	good := facet.RecordingQuality{DescribedRatio: 0.95, FaceSizePx: n(120), Brightness: n(120), Sharpness: n(300), TurnedAway: n(0.05)}
	with := func(f func(q *facet.RecordingQuality)) facet.RecordingQuality { q := good; f(&q); return q }
	cases := []struct {
		name string
		q    facet.RecordingQuality
		want []string
	}{
		{"good", good, []string{}},
		{"few faces", with(func(q *facet.RecordingQuality) { q.DescribedRatio = 0.79 }), []string{"few_faces"}},
		{"80 % is enough", with(func(q *facet.RecordingQuality) { q.DescribedRatio = 0.8 }), []string{}},
		{"small", with(func(q *facet.RecordingQuality) { q.FaceSizePx = n(47) }), []string{"small_faces"}},
		{"dark", with(func(q *facet.RecordingQuality) { q.Brightness = n(59) }), []string{"dark"}},
		{"blurry", with(func(q *facet.RecordingQuality) { q.Sharpness = n(99) }), []string{"blurry"}},
		{"sharp enough", with(func(q *facet.RecordingQuality) { q.Sharpness = n(100) }), []string{}},
		{"dark enough", with(func(q *facet.RecordingQuality) { q.Brightness = n(60) }), []string{}},
		{"big enough", with(func(q *facet.RecordingQuality) { q.FaceSizePx = n(48) }), []string{}},
		{"a fifth turned away is not yet flagged", with(func(q *facet.RecordingQuality) { q.TurnedAway = n(0.2) }), []string{}},
		{"turned away", with(func(q *facet.RecordingQuality) { q.TurnedAway = n(0.21) }), []string{"turned_away"}},
		{"no landmarks: no turned_away", with(func(q *facet.RecordingQuality) { q.TurnedAway = nil }), []string{}},
		{"no face at all", facet.RecordingQuality{}, []string{"few_faces"}},
		{"everything, in order", facet.RecordingQuality{DescribedRatio: 0.1, FaceSizePx: n(30), Brightness: n(45), Sharpness: n(10), TurnedAway: n(0.5)},
			[]string{"few_faces", "small_faces", "dark", "blurry", "turned_away"}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, RecordingFlags(c.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	for _, code := range []string{FlagTooSmall, FlagTooDark, FlagFewFaces, FlagSmallFaces, FlagDark, FlagBlurry, FlagTurnedAway} {
		if FlagText(code) == code {
			t.Errorf("flag %s has no words", code)
		}
	}
}

func TestSummarizerQuality(t *testing.T) {
	n := facet.NumPtr
	described := func(size, bright, sharp float64, yaw *facet.Num) facet.Face {
		f := face(facet.Emotions{facet.Neutral: 1}, 30, 0.5)
		f.Quality = &facet.FaceQuality{SizePx: facet.Num(size), Brightness: facet.Num(bright), Sharpness: facet.Num(sharp), Yaw: yaw}
		return f
	}
	frames := []facet.Frame{
		{T: 0, Faces: []facet.Face{described(100, 100, 200, n(0.1))}},
		{T: 0.2, Faces: []facet.Face{described(80, 60, 100, n(-0.3))}},
		{T: 0.4, Faces: []facet.Face{described(90, 80, 60, nil)}},
		{T: 0.6, Faces: []facet.Face{FlaggedFace(1, Detection{}, facet.FaceQuality{SizePx: 20, Brightness: 40, Sharpness: 40}, []string{FlagTooSmall})}},
		{T: 0.8},
	}
	var s Summarizer
	for _, f := range frames {
		s.Add(f)
	}
	// Sizes 20, 80, 90, 100: nearest-rank median is the 2nd, 80.
	// Brightness (100+60+80+40)/4 = 70; sharpness (200+100+60+40)/4 = 100.
	// Two faces with a yaw, one beyond 0.2: half turned away.
	want := &facet.RecordingQuality{DescribedRatio: 0.6, Faces: 4, FaceSizePx: n(80), Brightness: n(70), Sharpness: n(100),
		TurnedAway: n(0.5), Flagged: n(0.25), Flags: []string{"few_faces", "turned_away"}}
	if diff := cmp.Diff(want, s.Summary().Quality, approx); diff != "" {
		t.Errorf("quality (-want +got):\n%s", diff)
	}
}

func TestFaceFlags(t *testing.T) {
	cases := []struct {
		q    facet.FaceQuality
		want []string
	}{
		{facet.FaceQuality{SizePx: 24, Brightness: 40}, nil}, // at both thresholds: described
		{facet.FaceQuality{SizePx: 23, Brightness: 40}, []string{FlagTooSmall}},
		{facet.FaceQuality{SizePx: 24, Brightness: 39.9}, []string{FlagTooDark}},
		{facet.FaceQuality{SizePx: 0, Brightness: 0}, []string{FlagTooSmall, FlagTooDark}},
		// Turned away or blurry faces are described: those only weigh on
		// the recording's flags.
		{facet.FaceQuality{SizePx: 100, Brightness: 120, Sharpness: 1, Yaw: facet.NumPtr(0.9)}, nil},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, FaceFlags(c.q)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", c.q, diff)
		}
	}
}
