package onnx

import (
	"math"

	"github.com/humaninsight/facet/internal/analysis"
)

// rect is a region of the frame in pixels (floating point).
type rect struct{ x, y, w, h float64 }

// cropRect returns the region a face model sees for box in a w x h frame,
// per the crop rule, clamped to the frame.
func cropRect(c CropSpec, box analysis.Box, w, h int) rect {
	fw, fh := float64(w), float64(h)
	if c.Kind == "frame" {
		return rect{0, 0, fw, fh}
	}
	bx, by := box.X1*fw, box.Y1*fh
	bw, bh := (box.X2-box.X1)*fw, (box.Y2-box.Y1)*fh
	cw, ch := c.size(bw, bh)
	var x, y float64
	if c.Anchor == "top-left" {
		x, y = bx, by
	} else {
		x, y = bx+bw/2-cw/2, by+bh/2-ch/2
	}
	x1, y1 := math.Max(x, 0), math.Max(y, 0)
	x2, y2 := math.Min(x+cw, fw), math.Min(y+ch, fh)
	if x2-x1 < 1 || y2-y1 < 1 { // degenerate box: one pixel at its corner
		x1, y1 = math.Min(math.Max(bx, 0), fw-1), math.Min(math.Max(by, 0), fh-1)
		x2, y2 = x1+1, y1+1
	}
	return rect{x1, y1, x2 - x1, y2 - y1}
}

// size returns the crop's width and height for a bw x bh box: squared on
// the longer side when Square, then scaled.
func (c CropSpec) size(bw, bh float64) (w, h float64) {
	w, h = bw, bh
	if c.Square {
		w = max(bw, bh)
		h = w
	}
	return w * c.Scale, h * c.Scale
}

// fill resamples region r of img (bilinear, pixel centres aligned as
// OpenCV's resize does) to the model's input size and writes it, converted
// and normalised, into dst (one batch item). It runs for every frame and
// face, so it interpolates in fixed point (wOne) with per-column and per-row
// tables, and writes each layout in its own loop.
func fill(dst []float32, img analysis.Image, r rect, in InputSpec) {
	fillBox(dst, img, r, nil, in)
}

// fillBox is fill where, when inner is set, every frame pixel outside inner
// reads as black: face-api's zero padding of the face box to a square,
// done while resampling. With in.Resize "legacy" source positions are
// output index times the scale, with no half-pixel shift (TensorFlow's
// resize_bilinear without half_pixel_centers, which face-api uses).
func fillBox(dst []float32, img analysis.Image, r rect, inner *rect, in InputSpec) {
	ih, iw := inputSize(in)
	shift := pixelShift(in)
	xs, ys := spans(r, inner)
	cols := make([]col, iw)
	sx := r.w / float64(iw)
	for ox := range cols {
		x0, x1, w0, w1 := xs.taps(r.x+(float64(ox)+shift)*sx-shift, img.W)
		cols[ox] = col{x0 * 3, x1 * 3, w0, w1}
	}
	stride := img.W * 3
	sy := r.h / float64(ih)
	nch := 3
	if in.Color == "GRAY" {
		nch = 1
	}
	// Normalisation folds the fixed-point scale (wOne squared) in: x = v*a + b.
	var a, b [3]float32
	for c := range nch {
		a[c] = in.Scale / in.Std[c] / (wOne * wOne)
		b[c] = -in.Mean[c] / in.Std[c]
	}
	src := channelOrder(in)
	plane := ih * iw
	for oy := range ih {
		y0, y1, w0y, w1y := ys.taps(r.y+(float64(oy)+shift)*sy-shift, img.H)
		row0 := img.Pix[y0*stride : (y0+1)*stride]
		row1 := img.Pix[y1*stride : (y1+1)*stride]
		// px returns source channel k of output column c, times wOne squared.
		px := func(c col, k int) float32 {
			i0, i1 := c.i0+k, c.i1+k
			return float32((int32(row0[i0])*c.w0+int32(row0[i1])*c.w1)*w0y + (int32(row1[i0])*c.w0+int32(row1[i1])*c.w1)*w1y)
		}
		base := oy * iw
		switch {
		case nch == 1:
			out := dst[base : base+iw]
			for ox, c := range cols {
				g := 0.299*px(c, 0) + 0.587*px(c, 1) + 0.114*px(c, 2)
				out[ox] = g*a[0] + b[0]
			}
		case in.Layout == "NCHW":
			o0 := dst[base : base+iw]
			o1 := dst[plane+base : plane+base+iw]
			o2 := dst[2*plane+base : 2*plane+base+iw]
			for ox, c := range cols {
				o0[ox] = px(c, src[0])*a[0] + b[0]
				o1[ox] = px(c, src[1])*a[1] + b[1]
				o2[ox] = px(c, src[2])*a[2] + b[2]
			}
		default: // NHWC
			out := dst[base*3 : (base+iw)*3]
			for ox, c := range cols {
				o := out[ox*3 : ox*3+3 : ox*3+3]
				o[0] = px(c, src[0])*a[0] + b[0]
				o[1] = px(c, src[1])*a[1] + b[1]
				o[2] = px(c, src[2])*a[2] + b[2]
			}
		}
	}
}

// wOne is the fixed-point weight of a whole pixel: 11 bits, as OpenCV's
// own bilinear resize uses, so an interpolated value is within 1/2048 of a
// grey level of the exact one (8 bits gave up to a quarter level, enough
// to move an ambiguous face's reading by 2e-3). 255 * wOne * wOne fits an
// int32.
const wOne = 2048

// inputSize returns the model input's height and width.
func inputSize(in InputSpec) (h, w int) {
	if in.Layout == "NCHW" {
		return int(in.Shape[2]), int(in.Shape[3])
	}
	return int(in.Shape[1]), int(in.Shape[2])
}

// pixelShift is where pixel centres sit: +0.5 for OpenCV's resize, 0 for
// TensorFlow 1's legacy one.
func pixelShift(in InputSpec) float64 {
	if in.Resize == "legacy" {
		return 0
	}
	return 0.5
}

// channelOrder says which source channel each output channel reads.
func channelOrder(in InputSpec) [3]int {
	if in.Color == "BGR" {
		return [3]int{2, 1, 0}
	}
	return [3]int{0, 1, 2}
}

// span is how one axis of a crop reads the frame. Padded, pixels in
// [lo, hi) are the face's and positions are clamped to the padded
// square's pixels [clo, chi], as in the padded picture face-api resizes.
type span struct {
	padded           bool
	lo, hi, clo, chi int
}

// spans returns the x and y spans of crop r with face box inner (nil: not
// padded).
func spans(r rect, inner *rect) (x, y span) {
	if inner == nil {
		return span{}, span{}
	}
	x = span{true, int(math.Floor(inner.x)), int(math.Floor(inner.x + inner.w)), int(math.Floor(r.x)), 0}
	y = span{true, int(math.Floor(inner.y)), int(math.Floor(inner.y + inner.h)), int(math.Floor(r.y)), 0}
	x.chi, y.chi = x.clo+int(math.Round(r.w))-1, y.clo+int(math.Round(r.h))-1
	return x, y
}

// taps returns the two source pixels of position f on an axis of n pixels
// and their weights (out of wOne). Unpadded, f is clamped into the frame
// (its edge repeats); padded, the pixels are clamped into the padded square
// and one outside the face weighs nothing, as the black padding would.
func (sp span) taps(f float64, n int) (i0, i1 int, w0, w1 int32) {
	padded, lo, hi, clo, chi := sp.padded, sp.lo, sp.hi, sp.clo, sp.chi
	if !padded {
		f = math.Min(math.Max(f, 0), float64(n-1))
	}
	fl := math.Floor(f)
	w1 = int32(math.Round((f - fl) * wOne))
	w0 = wOne - w1
	a, b := int(fl), int(fl)+1
	if padded {
		a, b = min(max(a, clo), chi), min(max(b, clo), chi)
		if a < lo || a >= hi {
			w0 = 0
		}
		if b < lo || b >= hi {
			w1 = 0
		}
	}
	return min(max(a, 0), n-1), min(max(b, 0), n-1), w0, w1
}

// col is one output column's two source byte offsets and their weights
// (out of wOne).
type col struct {
	i0, i1 int
	w0, w1 int32
}

// minAlignAngle is the eye-line tilt below which a crop is not turned:
// under about a degree resampling would cost more than the turn gains.
const minAlignAngle = 0.015 // radians

// crop is what one model sees of a face: region r of the frame, turned by
// angle (radians, image coordinates: positive turns clockwise on screen)
// about its centre, with every pixel outside inner black when inner is
// set.
type crop struct {
	r     rect
	angle float64
	inner *rect
}

// faceCrop returns the crop rule c makes of detection d in a w x h frame.
// Without alignment or landmarks it is cropRect's axis-aligned region. An
// aligned crop has the size cropRect gives the box before clamping,
// centred on the box, turned to level the eyes; it is not clamped, because
// shifting it would put the face off centre. Pad "zero" is face-api's
// rule: the box, clipped to the frame, padded with black to a centred
// square.
func faceCrop(c CropSpec, d analysis.Detection, w, h int) crop {
	if c.Kind != "face" {
		return crop{r: cropRect(c, d.Box, w, h)}
	}
	fw, fh := float64(w), float64(h)
	angle := 0.0
	if c.Align && d.Landmarks != nil {
		re, le := d.Landmarks[analysis.RightEye], d.Landmarks[analysis.LeftEye]
		angle = math.Atan2((le.Y-re.Y)*fh, (le.X-re.X)*fw)
		if math.Abs(angle) < minAlignAngle || math.Abs(angle) > math.Pi/2 {
			angle = 0
		}
	}
	if c.Pad != "zero" && angle == 0 {
		return crop{r: cropRect(c, d.Box, w, h)}
	}
	b := d.Box
	if c.Pad == "zero" {
		b = analysis.Box{X1: clamp01(b.X1), Y1: clamp01(b.Y1), X2: clamp01(b.X2), Y2: clamp01(b.Y2)}
	}
	bw, bh := (b.X2-b.X1)*fw, (b.Y2-b.Y1)*fh
	cw, ch := c.size(bw, bh)
	cx, cy := (b.X1+b.X2)/2*fw, (b.Y1+b.Y2)/2*fh
	out := crop{r: rect{cx - cw/2, cy - ch/2, cw, ch}, angle: angle}
	if c.Pad == "zero" {
		// face-api's padToSquare puts the smaller half of an odd padding
		// first (Math.round gives the larger to the end).
		out.r.x = b.X1*fw - math.Floor((cw-bw)/2)
		out.r.y = b.Y1*fh - math.Floor((ch-bh)/2)
		out.inner = &rect{b.X1 * fw, b.Y1 * fh, bw, bh}
	}
	return out
}

// fillRotated is fillBox for crop c turned by c.angle: output pixel
// (u, v), as offsets from the crop's centre, samples the frame at centre +
// u*(cos, sin) + v*(-sin, cos), bilinearly, with the frame's edge repeated
// outside it; with c.inner, offsets outside the box's size read black. It
// runs only for tilted faces, so it favours clarity over fill's tables.
func fillRotated(dst []float32, img analysis.Image, c crop, in InputSpec) {
	ih, iw := inputSize(in)
	r := c.r
	shift := pixelShift(in)
	cos, sin := math.Cos(c.angle), math.Sin(c.angle)
	cx, cy := r.x+r.w/2, r.y+r.h/2
	sx, sy := r.w/float64(iw), r.h/float64(ih)
	src := channelOrder(in)
	plane := ih * iw
	for oy := range ih {
		v := (float64(oy)+shift)*sy - r.h/2
		for ox := range iw {
			u := (float64(ox)+shift)*sx - r.w/2
			var px [3]float64
			if c.inner == nil || (math.Abs(u) <= c.inner.w/2 && math.Abs(v) <= c.inner.h/2) {
				px = sample(img, cx+u*cos-v*sin-shift, cy+u*sin+v*cos-shift)
			}
			i := oy*iw + ox
			switch {
			case in.Color == "GRAY":
				dst[i] = float32(0.299*px[0]+0.587*px[1]+0.114*px[2])*in.Scale/in.Std[0] - in.Mean[0]/in.Std[0]
			case in.Layout == "NCHW":
				for k := range 3 {
					dst[k*plane+i] = float32(px[src[k]])*in.Scale/in.Std[k] - in.Mean[k]/in.Std[k]
				}
			default:
				for k := range 3 {
					dst[i*3+k] = float32(px[src[k]])*in.Scale/in.Std[k] - in.Mean[k]/in.Std[k]
				}
			}
		}
	}
}

// sample returns the bilinear RGB value of img at (x, y) in pixel-centre
// coordinates, the edge repeated outside the frame.
func sample(img analysis.Image, x, y float64) [3]float64 {
	x = math.Min(math.Max(x, 0), float64(img.W-1))
	y = math.Min(math.Max(y, 0), float64(img.H-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, img.W-1), min(y0+1, img.H-1)
	fx, fy := x-float64(x0), y-float64(y0)
	var out [3]float64
	for k := range 3 {
		p := func(xx, yy int) float64 { return float64(img.Pix[(yy*img.W+xx)*3+k]) }
		top := p(x0, y0)*(1-fx) + p(x1, y0)*fx
		bot := p(x0, y1)*(1-fx) + p(x1, y1)*fx
		out[k] = top*(1-fy) + bot*fy
	}
	return out
}

// fivePoints reduces 68 landmarks (x, y in 0..1 of crop r, iBUG 300-W
// order) to the five a detection carries, in 0..1 of the w x h frame: each
// eye's centre (points 36-41 are the subject's right eye, 42-47 the left),
// the nose tip (30) and the mouth corners (48 right, 54 left).
func fivePoints(o []float32, r rect, w, h int) *[5]analysis.Point {
	if len(o) < 136 {
		return nil
	}
	pt := func(i int) analysis.Point {
		return analysis.Point{X: (r.x + float64(o[2*i])*r.w) / float64(w), Y: (r.y + float64(o[2*i+1])*r.h) / float64(h)}
	}
	mean := func(from, to int) analysis.Point {
		var p analysis.Point
		for i := from; i <= to; i++ {
			q := pt(i)
			p.X += q.X / float64(to-from+1)
			p.Y += q.Y / float64(to-from+1)
		}
		return p
	}
	return &[5]analysis.Point{mean(36, 41), mean(42, 47), pt(30), pt(48), pt(54)}
}
