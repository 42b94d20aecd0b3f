package onnx

import (
	"testing"

	"github.com/humaninsight/facet/internal/analysis"
)

func benchImage() analysis.Image {
	img := analysis.Image{W: 640, H: 480, Pix: make([]byte, 640*480*3)}
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	return img
}

func BenchmarkFillDetector(b *testing.B) {
	img := benchImage()
	in := InputSpec{Shape: []int64{1, 3, 240, 320}, Layout: "NCHW", Color: "RGB", Scale: 1, Mean: []float32{127, 127, 127}, Std: []float32{128, 128, 128}}
	dst := make([]float32, 3*240*320)
	for b.Loop() {
		fill(dst, img, rect{0, 0, 640, 480}, in)
	}
}

func BenchmarkFillFaceGray(b *testing.B) {
	img := benchImage()
	in := InputSpec{Shape: []int64{1, 64, 64, 1}, Layout: "NHWC", Color: "GRAY", Scale: 1.0 / 255, Mean: []float32{0.5}, Std: []float32{0.5}}
	dst := make([]float32, 64*64)
	for b.Loop() {
		fill(dst, img, rect{200, 100, 120, 120}, in)
	}
}
