package faceapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// manifestGroup is one entry of a TensorFlow.js weights manifest
// (NAME-weights_manifest.json): the tensors of Weights lie one after the
// other in the concatenation of the Paths files.
type manifestGroup struct {
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

// tensor is one decoded float32 weight in face-api's (TensorFlow) layout.
type tensor struct {
	shape []int
	data  []float32
}

// Tensors larger than this are refused: face-api's largest is 256x256.
const maxTensorElems = 1 << 24

// decodeWeights reads every tensor of a weights manifest as tfjs's
// io.decodeWeights does, so the ONNX model holds exactly the float32
// values face-api computes with.
func decodeWeights(manifestJSON []byte, readBin func(path string) ([]byte, error)) (map[string]tensor, error) {
	var groups []manifestGroup
	if err := json.Unmarshal(manifestJSON, &groups); err != nil {
		return nil, fmt.Errorf("weights manifest: %w", err)
	}
	if len(groups) == 0 {
		return nil, errors.New("weights manifest: no weight groups")
	}
	out := map[string]tensor{}
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
func decodeTensor(w manifestItem, b []byte) (tensor, int, error) {
	if w.DType != "float32" {
		return tensor{}, 0, fmt.Errorf("dtype %q, want float32", w.DType)
	}
	n := 1
	for _, d := range w.Shape {
		if d <= 0 || n > maxTensorElems/d {
			return tensor{}, 0, fmt.Errorf("bad shape %v", w.Shape)
		}
		n *= d
	}
	t := tensor{shape: slices.Clone(w.Shape), data: make([]float32, n)}
	q := w.Quantization
	if q == nil {
		if len(b) < 4*n {
			return tensor{}, 0, fmt.Errorf("%d bytes left, want %d", len(b), 4*n)
		}
		for i := range t.data {
			t.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return t, 4 * n, nil
	}
	if q.Scale == nil || q.Min == nil {
		return tensor{}, 0, errors.New("quantization without scale and min")
	}
	size := map[string]int{"uint8": 1, "uint16": 2}[q.DType]
	if size == 0 {
		return tensor{}, 0, fmt.Errorf("quantization dtype %q, want uint8 or uint16", q.DType)
	}
	if len(b) < size*n {
		return tensor{}, 0, fmt.Errorf("%d bytes left, want %d", len(b), size*n)
	}
	for i := range t.data {
		v := float64(b[i])
		if size == 2 {
			v = float64(binary.LittleEndian.Uint16(b[2*i:]))
		}
		// tfjs computes v*scale+min in float64 and stores float32. The
		// explicit conversion keeps Go from fusing the two into an FMA on
		// some CPUs, which would change the last bit and the file's sha256.
		t.data[i] = float32(float64(v**q.Scale) + *q.Min)
	}
	return t, size * n, nil
}
