package tfjs

import (
	"fmt"
	"slices"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// convert emits the ONNX nodes of one TF node whose inputs are ins; the
// last node's output is named out.
func (c *converter) convert(n *nodeDef, ins []value, out string) (value, error) {
	switch n.Op {
	case "Const":
		return value{name: n.Name}, nil // rank 0: written out by its consumer
	case "Placeholder":
		return c.placeholder(n, out)
	case "Identity":
		if err := wantRanks(ins, -1); err != nil {
			return value{}, err
		}
		return ins[0], nil
	case "_FusedConv2D":
		return c.fusedConv(n, ins, out)
	case "DepthwiseConv2dNative":
		return c.depthwise(n, ins, out)
	case "MaxPool":
		return c.maxPool(n, ins, out)
	case "AddV2":
		if err := wantRanks(ins, -1, -1); err != nil {
			return value{}, err
		}
		a, b := ins[0], ins[1]
		if a.rank == 0 || a.rank != b.rank || a.c != b.c || a.h != b.h || a.w != b.w {
			return value{}, fmt.Errorf("operands %+v and %+v differ in shape (broadcasting is not supported)", a, b)
		}
		a.name = c.g.AddNode("Add", out, []string{a.name, b.name})
		return a, nil
	case "Relu":
		if err := wantRanks(ins, -1); err != nil || ins[0].rank == 0 {
			return value{}, fmt.Errorf("want one non-constant input, got %d", len(ins))
		}
		v := ins[0]
		v.name = c.g.AddNode("Relu", out, []string{v.name})
		return v, nil
	case "Mean":
		return c.mean(n, ins, out)
	case "Softmax":
		if err := wantRanks(ins, -1); err != nil || ins[0].rank == 0 {
			return value{}, fmt.Errorf("want one non-constant input, got %d", len(ins))
		}
		// TF normalises the last (channel) axis, which is axis 1 of both
		// an NCHW map and an [N,C] matrix.
		v := ins[0]
		v.name = c.g.AddNode("Softmax", out, []string{v.name}, onnxpb.Attr{Name: "axis", I: 1})
		return v, nil
	}
	return value{}, fmt.Errorf("unsupported op %s", n.Op)
}

// wantRanks checks the number of inputs and, where ranks[i] >= 0, the
// rank of input i (0: a Const).
func wantRanks(ins []value, ranks ...int) error {
	if len(ins) != len(ranks) {
		return fmt.Errorf("%d inputs, want %d", len(ins), len(ranks))
	}
	for i, r := range ranks {
		if r >= 0 && ins[i].rank != r {
			return fmt.Errorf("input %d (%s) has rank %d, want %d", i, ins[i].name, ins[i].rank, r)
		}
	}
	return nil
}

// placeholder declares the graph's NHWC input under the TF name and
// transposes it to NCHW for the ONNX convolutions.
func (c *converter) placeholder(n *nodeDef, out string) (value, error) {
	if c.input.Name != "" {
		return value{}, fmt.Errorf("second Placeholder (first %s); one input is supported", c.input.Name)
	}
	if t := n.Attr["dtype"].Type; t != "DT_FLOAT" {
		return value{}, fmt.Errorf("dtype %q, want DT_FLOAT", t)
	}
	sh := n.Attr["shape"].Shape
	if sh == nil || len(sh.Dim) != 4 {
		return value{}, fmt.Errorf("shape %+v, want NHWC [N,H,W,C]", sh)
	}
	dims := make([]int, 4)
	for i, d := range sh.Dim {
		v, err := d.Size.Int64()
		if err != nil || v == 0 || v < -1 || (i > 0 && v < 0) {
			return value{}, fmt.Errorf("shape dim %d is %q, want a static size (batch may be -1)", i, d.Size)
		}
		dims[i] = int(v)
	}
	c.input = onnxpb.ValueInfo{Name: n.Name, Dims: dims}
	name := c.g.AddNode("Transpose", n.Name+"/nchw", []string{n.Name},
		onnxpb.Attr{Name: "perm", Ints: onnxpb.Ints(0, 3, 1, 2)})
	if out == OutputName {
		return value{}, fmt.Errorf("the input is the graph's output")
	}
	return value{name: name, rank: 4, c: dims[3], h: dims[1], w: dims[2]}, nil
}

// constant returns the manifest tensor of the Const input v, checking its
// dtype and shape (-1 in shape: any size), and marks it used.
func (c *converter) constant(v value, float bool, shape ...int) (Tensor, error) {
	if v.rank != 0 {
		return Tensor{}, fmt.Errorf("input %s is not a Const", v.name)
	}
	t, ok := c.weights[v.name]
	if !ok {
		return Tensor{}, fmt.Errorf("const %s has no tensor in the weights manifest", v.name)
	}
	ok = len(t.Shape) == len(shape) && (float == (t.F != nil || t.I == nil))
	for i := range shape {
		ok = ok && (shape[i] < 0 || shape[i] == t.Shape[i])
	}
	if !ok {
		return Tensor{}, fmt.Errorf("const %s has shape %v (float %v), want %v (float %v)", v.name, t.Shape, t.F != nil, shape, float)
	}
	c.used[v.name] = true
	return t, nil
}

// addInit writes a Const under its TF name once; a second use in the
// same layout shares the initializer.
func (c *converter) addInit(name string, dims []int, data []float32) (string, error) {
	if c.inits == nil {
		c.inits = map[string][]int{}
	}
	if prev, ok := c.inits[name]; ok {
		if !slices.Equal(prev, dims) {
			return "", fmt.Errorf("const %s used as %v and as %v", name, prev, dims)
		}
		return name, nil
	}
	c.inits[name] = dims
	return c.g.AddInit(name, dims, data), nil
}
