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
// and normalised, into dst (one batch item).
func fill(dst []float32, img analysis.Image, r rect, in InputSpec) {
	var ih, iw int
	if in.Layout == "NCHW" {
		ih, iw = int(in.Shape[2]), int(in.Shape[3])
	} else {
		ih, iw = int(in.Shape[1]), int(in.Shape[2])
	}
	gray := in.Color == "GRAY"
	bgr := in.Color == "BGR"
	nch := 3
	if gray {
		nch = 1
	}
	var a, b [3]float32
	for c := range nch {
		a[c] = in.Scale / in.Std[c]
		b[c] = -in.Mean[c] / in.Std[c]
	}
	plane := ih * iw
	sx, sy := r.w/float64(iw), r.h/float64(ih)
	maxX, maxY := float64(img.W-1), float64(img.H-1)
	stride := img.W * 3
	nchw := in.Layout == "NCHW"
	// Column positions and weights are the same for every row.
	cols := make([]col, iw)
	for ox := range cols {
		fx := math.Min(math.Max(r.x+(float64(ox)+0.5)*sx-0.5, 0), maxX)
		x0 := int(fx)
		cols[ox] = col{x0 * 3, min(x0+1, img.W-1) * 3, float32(fx - float64(x0))}
	}
	for oy := range ih {
		fy := math.Min(math.Max(r.y+(float64(oy)+0.5)*sy-0.5, 0), maxY)
		y0 := int(fy)
		y1 := min(y0+1, img.H-1)
		wy := float32(fy - float64(y0))
		row0, row1 := img.Pix[y0*stride:(y0+1)*stride], img.Pix[y1*stride:(y1+1)*stride]
		for ox, cl := range cols {
			var px [3]float32
			for c := range 3 {
				p00, p01 := float32(row0[cl.i0+c]), float32(row0[cl.i1+c])
				p10, p11 := float32(row1[cl.i0+c]), float32(row1[cl.i1+c])
				top := p00 + (p01-p00)*cl.w
				bot := p10 + (p11-p10)*cl.w
				px[c] = top + (bot-top)*wy
			}
			if gray {
				px[0] = 0.299*px[0] + 0.587*px[1] + 0.114*px[2]
			} else if bgr {
				px[0], px[2] = px[2], px[0]
			}
			i := oy*iw + ox
			if nchw {
				for c := range nch {
					dst[c*plane+i] = px[c]*a[c] + b[c]
				}
			} else {
				for c := range nch {
					dst[i*nch+c] = px[c]*a[c] + b[c]
				}
			}
		}
	}
}

// col is one output column's two source byte offsets and weight.
type col struct {
	i0, i1 int
	w      float32
}
