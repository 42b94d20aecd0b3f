package tfjs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// WeightGroup is one entry of a TensorFlow.js weights manifest (a graph
// model's weightsManifest, or face-api's NAME-weights_manifest.json): the
// tensors of Weights lie one after the other in the concatenation of the
// Paths files.
type WeightGroup struct {
	Paths   []string       `json:"paths"`
	Weights []manifestItem `json:"weights"`
}

type manifestItem struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

// quantization is tfjs's per-tensor affine quantization: value = q*Scale +
// Min, with q an unsigned integer of DType.
type quantization struct {
	DType string   `json:"dtype"`
	Scale *float64 `json:"scale"`
	Min   *float64 `json:"min"`
}

// Tensor is one decoded weight in TensorFlow's layout: float32 values in
// F, int32 ones (e.g. Mean's reduction axes) in I.
type Tensor struct {
	Shape []int
	F     []float32
	I     []int32
}

// maxTensorElems refuses absurd shapes before allocating: the largest
// tensor of the nets converted here has 65536 elements.
const maxTensorElems = 1 << 24

// DecodeWeights reads every tensor of a weights manifest as tfjs's
// io.decodeWeights does (float32, int32, and uint8/uint16 affine
// quantisation), so a converted model holds exactly the values
// TensorFlow.js computes with. readBin returns a file the manifest names.
func DecodeWeights(groups []WeightGroup, readBin func(path string) ([]byte, error)) (map[string]Tensor, error) {
	if len(groups) == 0 {
		return nil, errors.New("weights manifest: no weight groups")
	}
	out := map[string]Tensor{}
	for _, g := range groups {
		var buf []byte
		for _, p := range g.Paths {
			b, err := readBin(p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			if _, dup := out[w.Name]; dup {
				return nil, fmt.Errorf("weights manifest: tensor %s listed twice", w.Name)
			}
			t, n, err := decodeTensor(w, buf[off:])
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", w.Name, err)
			}
			out[w.Name] = t
			off += n
		}
		if off != len(buf) {
			return nil, fmt.Errorf("weights %v: %d bytes, the manifest describes %d", g.Paths, len(buf), off)
		}
	}
	return out, nil
}

// decodeTensor decodes w from the start of b and returns it with the
// number of bytes it took.
func decodeTensor(w manifestItem, b []byte) (Tensor, int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 || (d > 0 && n > maxTensorElems/d) {
			return Tensor{}, 0, fmt.Errorf("bad shape %v", w.Shape)
		}
		n *= d
	}
	t := Tensor{Shape: slices.Clone(w.Shape)}
	switch {
	case w.DType == "int32" && w.Quantization == nil:
		if len(b) < 4*n {
			return Tensor{}, 0, fmt.Errorf("%d bytes left, want %d", len(b), 4*n)
		}
		t.I = make([]int32, n)
		for k := range t.I {
			t.I[k] = int32(binary.LittleEndian.Uint32(b[4*k:]))
		}
		return t, 4 * n, nil
	case w.DType != "float32":
		return Tensor{}, 0, fmt.Errorf("dtype %q, want float32 or int32", w.DType)
	case w.Quantization == nil:
		if len(b) < 4*n {
			return Tensor{}, 0, fmt.Errorf("%d bytes left, want %d", len(b), 4*n)
		}
		t.F = make([]float32, n)
		for k := range t.F {
			t.F[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
		}
		return t, 4 * n, nil
	}
	return dequantize(t, w.Quantization, b, n)
}

// dequantize decodes n affine-quantised values of q from b into t.F.
func dequantize(t Tensor, q *quantization, b []byte, n int) (Tensor, int, error) {
	if q.Scale == nil || q.Min == nil {
		return Tensor{}, 0, errors.New("quantization without scale and min")
	}
	size := map[string]int{"uint8": 1, "uint16": 2}[q.DType]
	if size == 0 {
		return Tensor{}, 0, fmt.Errorf("quantization dtype %q, want uint8 or uint16", q.DType)
	}
	if len(b) < size*n {
		return Tensor{}, 0, fmt.Errorf("%d bytes left, want %d", len(b), size*n)
	}
	t.F = make([]float32, n)
	for k := range t.F {
		v := float64(b[k])
		if size == 2 {
			v = float64(binary.LittleEndian.Uint16(b[2*k:]))
		}
		// tfjs computes v*scale+min in float64 and stores float32. The
		// explicit conversion keeps Go from fusing the two into an FMA on
		// some CPUs, which would change the last bit and the file's sha256.
		t.F[k] = float32(float64(v**q.Scale) + *q.Min)
	}
	return t, size * n, nil
}
