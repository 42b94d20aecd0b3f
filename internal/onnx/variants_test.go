package onnx

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/testenv"
)

// A face source for generated variants: a picture and the face's box in
// it (pixels), from ../shared/models/README.md or found by the detector
// on the untouched picture.
type faceSource struct {
	name string
	img  analysis.Image
	box  [4]float64 // x1, y1, x2, y2
}

// variant says how a source face is put into a generated frame.
type variant struct {
	name     string
	side     float64 // the face box's longer side in the frame, px
	rollDeg  float64 // in-plane turn
	yaw      float64 // horizontal squeeze of the face (cos of the turn), 0 = none
	gain     float64 // brightness factor, 0 = 1
	noise    float64 // sd of added noise, grey levels
	blur     int     // box blur radius, px
	fer      bool    // a FER-style tile: the tight box only, grey, 48x48
	frameW   int
	frameH   int
	required float64 // the goal for the found rate, 0 = none
}

// variants are the difficult cases the analysis must handle. yaw is an
// approximation of a turned head (a 2-d squeeze towards the face's
// centre, cos 30 degrees), since a real turn needs a 3-d face.
var variants = []variant{
	{name: "base", side: 110},
	{name: "small-64px", side: 64},
	{name: "small-48px", side: 48, required: 0.98},
	{name: "small-40px", side: 40},
	{name: "small-32px", side: 32},
	{name: "fer-48", side: 48, fer: true},
	{name: "roll-15", side: 100, rollDeg: 15},
	{name: "roll-30", side: 100, rollDeg: -30},
	{name: "roll-45", side: 100, rollDeg: 45},
	{name: "turned-30", side: 100, yaw: math.Cos(30 * math.Pi / 180), required: 0.98},
	{name: "dim", side: 90, gain: 0.35, noise: 2, required: 0.98},
	{name: "dark", side: 90, gain: 0.2, noise: 3},
	{name: "very-dark", side: 90, gain: 0.1, noise: 3},
	{name: "blurred", side: 90, blur: 2},
}

// positions are where a variant's face centre goes, as fractions of the
// frame.
var positions = [][2]float64{{0.5, 0.45}, {0.25, 0.3}, {0.75, 0.3}, {0.3, 0.7}, {0.7, 0.65}, {0.5, 0.6}}

// faceSources loads the two stills and three frames of a real video.
func faceSources(t *testing.T, s *Set) []faceSource {
	t.Helper()
	srcs := []faceSource{
		{name: "astronaut", img: loadPNG(t, testenv.Shared(t, "media/astronaut.png")), box: [4]float64{180, 62, 268, 174}},
		{name: "camera", img: loadPNG(t, testenv.Shared(t, "media/camera.png")), box: [4]float64{198, 109, 261, 195}},
	}
	video := testenv.Shared(t, "media/pyfeat_single_face.mp4")
	dir := t.TempDir()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", video, "-vf", "select='eq(n\\,5)+eq(n\\,30)+eq(n\\,55)'", "-vsync", "0", filepath.Join(dir, "f%d.png"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	for i := 1; i <= 3; i++ {
		p := filepath.Join(dir, "f"+string(rune('0'+i))+".png")
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		img := loadPNG(t, p)
		dets, err := s.Detect(img)
		if err != nil || len(dets) == 0 || dets[0].Score < 0.9 {
			t.Fatalf("video frame %d: no clear face (%v, %v)", i, err, dets)
		}
		b := dets[0].Box
		srcs = append(srcs, faceSource{name: "pyfeat-" + string(rune('0'+i)), img: img,
			box: [4]float64{b.X1 * float64(img.W), b.Y1 * float64(img.H), b.X2 * float64(img.W), b.Y2 * float64(img.H)}})
	}
	return srcs
}

// render puts src's face into a frame per v, centred at pos, and returns
// the frame and the face's true box there (the bounding box of the turned
// source box, normalised).
func render(src faceSource, v variant, pos [2]float64) (analysis.Image, analysis.Box) {
	w, h := v.frameW, v.frameH
	if w == 0 {
		w, h = 320, 240
	}
	bw, bh := src.box[2]-src.box[0], src.box[3]-src.box[1]
	scale := v.side / max(bw, bh)
	sx := scale
	if v.yaw > 0 {
		sx *= v.yaw
	}
	th := v.rollDeg * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	scx, scy := (src.box[0]+src.box[2])/2, (src.box[1]+src.box[3])/2
	fcx, fcy := pos[0]*float64(w), pos[1]*float64(h)
	img := analysis.Image{W: w, H: h, Pix: make([]byte, w*h*3)}
	rng := uint32(12345)
	noise := func() float64 { // deterministic, roughly normal (sum of 4 uniforms)
		var s float64
		for range 4 {
			rng = rng*1664525 + 1013904223
			s += float64(rng>>8) / (1 << 24)
		}
		return (s - 2) * math.Sqrt(3)
	}
	gain := v.gain
	if gain == 0 {
		gain = 1
	}
	for y := range h {
		for x := range w {
			// Frame offset from the face centre, turned back, then scaled
			// into the source.
			dx, dy := float64(x)+0.5-fcx, float64(y)+0.5-fcy
			ux, uy := cos*dx+sin*dy, -sin*dx+cos*dy
			px, py := scx+ux/sx-0.5, scy+uy/scale-0.5
			var c [3]float64
			inside := px >= 0 && py >= 0 && px <= float64(src.img.W-1) && py <= float64(src.img.H-1)
			if v.fer { // only the tight square around the box, at 48 px
				half := max(bw, bh) / 2
				inside = inside && math.Abs(px+0.5-scx) <= half && math.Abs(py+0.5-scy) <= half
			}
			if inside {
				c = sample(src.img, px, py)
				if v.fer {
					g := 0.299*c[0] + 0.587*c[1] + 0.114*c[2]
					c = [3]float64{g, g, g}
				}
			} else { // a plain wall with a soft gradient
				g := 90 + 60*float64(x)/float64(w) + 30*float64(y)/float64(h)
				c = [3]float64{g, g * 0.95, g * 0.9}
			}
			for k := range 3 {
				val := c[k]*gain + v.noise*noise()
				img.Pix[(y*w+x)*3+k] = byte(math.Round(math.Min(math.Max(val, 0), 255)))
			}
		}
	}
	if v.blur > 0 {
		boxBlur(img, v.blur)
	}
	// The true box: the source box's corners mapped into the frame.
	x1, y1, x2, y2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{src.box[0], src.box[1]}, {src.box[2], src.box[1]}, {src.box[0], src.box[3]}, {src.box[2], src.box[3]}} {
		ux, uy := (c[0]-scx)*sx, (c[1]-scy)*scale
		fx, fy := fcx+cos*ux-sin*uy, fcy+sin*ux+cos*uy
		x1, y1, x2, y2 = min(x1, fx), min(y1, fy), max(x2, fx), max(y2, fy)
	}
	return img, analysis.Box{X1: x1 / float64(w), Y1: y1 / float64(h), X2: x2 / float64(w), Y2: y2 / float64(h)}
}

// boxBlur blurs img in place with a (2r+1)-square mean, edges repeated.
func boxBlur(img analysis.Image, r int) {
	src := append([]byte(nil), img.Pix...)
	for y := range img.H {
		for x := range img.W {
			for k := range 3 {
				var s, n float64
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						xx, yy := min(max(x+dx, 0), img.W-1), min(max(y+dy, 0), img.H-1)
						s += float64(src[(yy*img.W+xx)*3+k])
						n++
					}
				}
				img.Pix[(y*img.W+x)*3+k] = byte(math.Round(s / n))
			}
		}
	}
}

// found reports whether one of dets is the true face: its centre inside
// the true box and its area within a factor of 4 of it.
func found(dets []analysis.Detection, truth analysis.Box) bool {
	for _, d := range dets {
		cx, cy := (d.Box.X1+d.Box.X2)/2, (d.Box.Y1+d.Box.Y2)/2
		ratio := d.Box.Area() / truth.Area()
		if cx >= truth.X1 && cx <= truth.X2 && cy >= truth.Y1 && cy <= truth.Y2 && ratio > 0.25 && ratio < 4 {
			return true
		}
	}
	return false
}
