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
	cw, ch := bw, bh
	if c.Square {
		cw = max(bw, bh)
		ch = cw
	}
	cw *= c.Scale
	ch *= c.Scale
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

// fill resamples region r of img (bilinear, pixel centres aligned as
// OpenCV's resize does) to the model's input size and writes it, converted
// and normalised, into dst (one batch item). It runs for every frame and
// face, so it interpolates in 8-bit fixed point with per-column and per-row
// tables, and writes each layout in its own loop.
func fill(dst []float32, img analysis.Image, r rect, in InputSpec) {
	var ih, iw int
	if in.Layout == "NCHW" {
		ih, iw = int(in.Shape[2]), int(in.Shape[3])
	} else {
		ih, iw = int(in.Shape[1]), int(in.Shape[2])
	}
	cols := make([]col, iw)
	sx := r.w / float64(iw)
	for ox := range cols {
		fx := math.Min(math.Max(r.x+(float64(ox)+0.5)*sx-0.5, 0), float64(img.W-1))
		x0 := int(fx)
		w := int32(math.Round((fx - float64(x0)) * 256))
		cols[ox] = col{x0 * 3, min(x0+1, img.W-1) * 3, 256 - w, w}
	}
	stride := img.W * 3
	sy := r.h / float64(ih)
	nch := 3
	if in.Color == "GRAY" {
		nch = 1
	}
	// Normalisation folds the fixed-point scale (65536) in: x = v*a + b.
	var a, b [3]float32
	for c := range nch {
		a[c] = in.Scale / in.Std[c] / 65536
		b[c] = -in.Mean[c] / in.Std[c]
	}
	// Output channel k reads source channel src[k].
	src := [3]int{0, 1, 2}
	if in.Color == "BGR" {
		src = [3]int{2, 1, 0}
	}
	plane := ih * iw
	for oy := range ih {
		fy := math.Min(math.Max(r.y+(float64(oy)+0.5)*sy-0.5, 0), float64(img.H-1))
		y0 := int(fy)
		w1y := int32(math.Round((fy - float64(y0)) * 256))
		w0y := 256 - w1y
		y1 := min(y0+1, img.H-1)
		row0 := img.Pix[y0*stride : (y0+1)*stride]
		row1 := img.Pix[y1*stride : (y1+1)*stride]
		// px returns source channel k of output column c, times 65536.
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

// col is one output column's two source byte offsets and their weights
// (out of 256).
type col struct {
	i0, i1 int
	w0, w1 int32
}
