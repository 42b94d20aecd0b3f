package faceapi

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// fmap is a feature map in the graph: an NCHW value with a dynamic batch
// and static channels and spatial size. The spatial size is tracked so
// that TensorFlow's 'same' padding can be written as explicit pads.
type fmap struct {
	name    string
	c, h, w int
}

// builder assembles one graph from face-api's named weights. Initializers
// keep face-api's weight names (in ONNX layouts) so each can be traced
// back to the manifest.
type builder struct {
	weights map[string]tensor
	used    map[string]bool
	g       onnxpb.Graph
	err     error
}

func newBuilder(weights map[string]tensor) *builder {
	return &builder{weights: weights, used: map[string]bool{}}
}

// weight returns the tensor name with the given face-api shape and marks it
// used; the first mismatch is kept in b.err and later calls are no-ops.
func (b *builder) weight(name string, shape ...int) tensor {
	t, ok := b.weights[name]
	switch {
	case b.err != nil:
	case !ok:
		b.err = fmt.Errorf("weight %s missing", name)
	case !slices.Equal(t.Shape, shape):
		b.err = fmt.Errorf("weight %s has shape %v, want %v", name, t.Shape, shape)
	case b.used[name]:
		b.err = fmt.Errorf("weight %s used twice", name)
	}
	if b.err != nil {
		return tensor{Shape: shape, F: make([]float32, prod(shape))}
	}
	b.used[name] = true
	return t
}

// unused lists the manifest's tensors the graph did not take: a manifest
// of another net would otherwise convert silently.
func (b *builder) unused() []string {
	var names []string
	for n := range b.weights {
		if !b.used[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

func (b *builder) init(name string, dims []int, data []float32) string {
	return b.g.AddInit(name, dims, data)
}

func (b *builder) node(op, out string, inputs []string, attrs ...onnxpb.Attr) string {
	return b.g.AddNode(op, out, inputs, attrs...)
}

// conv adds a Conv with a k x k kernel, TF 'same' padding, stride s and
// groups; w is in ONNX's OIHW layout and bias may be "".
func (b *builder) conv(x fmap, out string, w string, bias string, cout, k, s, groups int) fmap {
	t, bo, h := onnxpb.SamePads(x.h, k, s)
	l, r, wd := onnxpb.SamePads(x.w, k, s)
	inputs := []string{x.name, w}
	if bias != "" {
		inputs = append(inputs, bias)
	}
	attrs := []onnxpb.Attr{
		{Name: "kernel_shape", Ints: onnxpb.Ints(k, k)},
		{Name: "pads", Ints: onnxpb.Ints(t, l, bo, r)},
		{Name: "strides", Ints: onnxpb.Ints(s, s)},
	}
	if groups > 1 {
		attrs = append(attrs, onnxpb.Attr{Name: "group", I: int64(groups)})
	}
	return fmap{b.node("Conv", out, inputs, attrs...), cout, h, wd}
}

// convLayer is face-api's tf.conv2d(x, filters, stride, 'same') + bias with
// filters [k,k,cin,cout] (HWIO) at prefix/filters and bias at prefix/bias.
func (b *builder) convLayer(x fmap, prefix string, k, cout, stride int) fmap {
	f := b.weight(prefix+"/filters", k, k, x.c, cout)
	bias := b.weight(prefix+"/bias", cout)
	w := b.init(prefix+"/filters", []int{cout, x.c, k, k}, onnxpb.HWIOToOIHW(f.Shape, f.F))
	bn := b.init(prefix+"/bias", []int{cout}, bias.F)
	return b.conv(x, prefix, w, bn, cout, k, stride, 1)
}

// sepConv is face-api's depthwiseSeparableConv: tf.separableConv2d (3x3
// depthwise with the stride, then 1x1 pointwise, 'same') + bias. The
// depthwise filter [3,3,C,1] becomes a grouped Conv [C,1,3,3] (group C).
func (b *builder) sepConv(x fmap, prefix string, cout, stride int) fmap {
	dw := b.weight(prefix+"/depthwise_filter", 3, 3, x.c, 1)
	pw := b.weight(prefix+"/pointwise_filter", 1, 1, x.c, cout)
	bias := b.weight(prefix+"/bias", cout)
	dwName := b.init(prefix+"/depthwise_filter", []int{x.c, 1, 3, 3}, onnxpb.HWIOToOIHW(transposeDepthwise(dw).Shape, dw.F))
	pwName := b.init(prefix+"/pointwise_filter", []int{cout, x.c, 1, 1}, onnxpb.HWIOToOIHW(pw.Shape, pw.F))
	bn := b.init(prefix+"/bias", []int{cout}, bias.F)
	d := b.conv(x, prefix+"/depthwise", dwName, "", x.c, 3, stride, x.c)
	return b.conv(d, prefix+"/pointwise", pwName, bn, cout, 1, 1, 1)
}

func (b *builder) relu(x fmap, out string) fmap {
	x.name = b.node("Relu", out, []string{x.name})
	return x
}

func (b *builder) add(x, y fmap, out string) fmap {
	x.name = b.node("Add", out, []string{x.name, y.name})
	return x
}

// maxPool3 is tf.maxPool(x, 3, 2, 'same'). ONNX MaxPool never takes a
// pad as the maximum, which matches TF's -inf padding.
func (b *builder) maxPool3(x fmap, out string) fmap {
	t, bo, h := onnxpb.SamePads(x.h, 3, 2)
	l, r, w := onnxpb.SamePads(x.w, 3, 2)
	name := b.node("MaxPool", out, []string{x.name},
		onnxpb.Attr{Name: "kernel_shape", Ints: onnxpb.Ints(3, 3)},
		onnxpb.Attr{Name: "pads", Ints: onnxpb.Ints(t, l, bo, r)},
		onnxpb.Attr{Name: "strides", Ints: onnxpb.Ints(2, 2)})
	return fmap{name, x.c, h, w}
}

// avgPoolFlatten is tf.avgPool(x, 7, 2, 'valid') then as2D(N, -1). On
// face-api's 7x7 maps it gives one cell, so NCHW and NHWC flatten alike.
func (b *builder) avgPoolFlatten(x fmap, out string) (string, int) {
	if (x.h != 7 || x.w != 7) && b.err == nil {
		b.err = fmt.Errorf("average pool input is %dx%d, want 7x7", x.h, x.w)
	}
	p := b.node("AveragePool", out+"/avg_pool", []string{x.name},
		onnxpb.Attr{Name: "kernel_shape", Ints: onnxpb.Ints(7, 7)},
		onnxpb.Attr{Name: "strides", Ints: onnxpb.Ints(2, 2)})
	return b.node("Flatten", out, []string{p}, onnxpb.Attr{Name: "axis", I: 1}), x.c
}

// fc is face-api's fullyConnectedLayer (matMul + bias) with weights
// [in,out] at prefix/weights, as a Gemm whose output column j is face-api's
// column perm[j].
func (b *builder) fc(x string, in int, prefix, out string, perm []int) string {
	w := b.weight(prefix+"/weights", in, len(perm))
	bias := b.weight(prefix+"/bias", len(perm))
	pw := make([]float32, len(w.F))
	pb := make([]float32, len(perm))
	for j, src := range perm {
		pb[j] = bias.F[src]
		for i := range in {
			pw[i*len(perm)+j] = w.F[i*len(perm)+src]
		}
	}
	wn := b.init(prefix+"/weights", []int{in, len(perm)}, pw)
	bn := b.init(prefix+"/bias", []int{len(perm)}, pb)
	return b.node("Gemm", out, []string{x, wn, bn})
}

// transposeDepthwise views a depthwise filter [H,W,C,1] as HWIO with one
// input and C outputs, [H,W,1,C], which hwioToOIHW turns into [C,1,H,W].
// The data order is the same; only the shape changes.
func transposeDepthwise(t tensor) tensor {
	return tensor{Shape: []int{t.Shape[0], t.Shape[1], 1, t.Shape[2]}, F: t.F}
}

// finish checks that every weight was used and encodes the model.
func (b *builder) finish(name, doc string, outputs []onnxpb.ValueInfo, meta [][2]string) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if u := b.unused(); len(u) > 0 {
		return nil, fmt.Errorf("weights not used by %s: %s", name, strings.Join(u, ", "))
	}
	b.g.Name = name
	b.g.Doc = doc
	b.g.Inputs = []onnxpb.ValueInfo{{Name: InputName, Dims: []int{-1, 3, InputSize, InputSize}}}
	b.g.Outputs = outputs
	return onnxpb.EncodeModel(b.g.Encode(), onnxpb.Producer{Name: producerName, Version: producerVersion}, doc, meta), nil
}
