package tfjs

import (
	"fmt"
	"strings"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// geom is a convolution's or pool's spatial arithmetic in ONNX terms.
type geom struct {
	attrs []onnxpb.Attr // kernel_shape, pads, strides and any dilations
	h, w  int           // output size
}

// nhwc4 reads a 4-element NHWC list attribute ([1,y,x,1]); absent gives def.
func nhwc4(n *nodeDef, key string, def int) (y, x int, err error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil || len(a.List.I) == 0 {
		return def, def, nil
	}
	var v [4]int64
	if len(a.List.I) != 4 {
		return 0, 0, fmt.Errorf("%s %v, want 4 values", key, a.List.I)
	}
	for i, s := range a.List.I {
		if v[i], err = s.Int64(); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", key, err)
		}
	}
	if v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1 {
		return 0, 0, fmt.Errorf("%s %v, want [1,y,x,1]", key, v)
	}
	return int(v[1]), int(v[2]), nil
}

// spatial works out TF's output size and padding for a kh x kw window over
// x, from the node's strides, dilations, padding and explicit_paddings.
// 'SAME' becomes explicit pads with any odd cell at the end, as TF pads.
func spatial(n *nodeDef, x value, kh, kw int) (geom, error) {
	if f := string(n.Attr["data_format"].S); f != "" && f != "NHWC" {
		return geom{}, fmt.Errorf("data_format %s, want NHWC", f)
	}
	sh, sw, err := nhwc4(n, "strides", 1)
	if err != nil {
		return geom{}, err
	}
	dh, dw, err := nhwc4(n, "dilations", 1)
	if err != nil {
		return geom{}, err
	}
	eh, ew := (kh-1)*dh+1, (kw-1)*dw+1
	var t, b, l, r int
	switch p := string(n.Attr["padding"].S); p {
	case "VALID":
	case "SAME":
		t, b, _ = onnxpb.SamePads(x.h, eh, sh)
		l, r, _ = onnxpb.SamePads(x.w, ew, sw)
	case "EXPLICIT":
		e := n.Attr["explicit_paddings"].List
		if e == nil || len(e.I) != 8 {
			return geom{}, fmt.Errorf("explicit_paddings want 8 values")
		}
		var v [8]int
		for i, s := range e.I {
			k, err := s.Int64()
			if err != nil || k < 0 {
				return geom{}, fmt.Errorf("explicit_paddings %v", e.I)
			}
			v[i] = int(k)
		}
		if v[0]+v[1]+v[6]+v[7] != 0 {
			return geom{}, fmt.Errorf("explicit_paddings %v pad the batch or channels", v)
		}
		t, b, l, r = v[2], v[3], v[4], v[5]
	default:
		return geom{}, fmt.Errorf("padding %q, want SAME, VALID or EXPLICIT", p)
	}
	g := geom{h: (x.h+t+b-eh)/sh + 1, w: (x.w+l+r-ew)/sw + 1}
	if x.h+t+b < eh || x.w+l+r < ew {
		return geom{}, fmt.Errorf("window %dx%d larger than the padded %dx%d input", eh, ew, x.h+t+b, x.w+l+r)
	}
	g.attrs = []onnxpb.Attr{
		{Name: "kernel_shape", Ints: onnxpb.Ints(kh, kw)},
		{Name: "pads", Ints: onnxpb.Ints(t, l, b, r)},
		{Name: "strides", Ints: onnxpb.Ints(sh, sw)},
	}
	if dh != 1 || dw != 1 {
		g.attrs = append(g.attrs, onnxpb.Attr{Name: "dilations", Ints: onnxpb.Ints(dh, dw)})
	}
	return g, nil
}

// fusedOps reads _FusedConv2D's fused_ops: BiasAdd, optionally then Relu
// (grappler's conv+bias(+relu) fusion). Others, e.g. FusedBatchNorm or
// LeakyRelu, are refused.
func fusedOps(n *nodeDef) (relu bool, err error) {
	var ops []string
	if l := n.Attr["fused_ops"].List; l != nil {
		for _, s := range l.S {
			ops = append(ops, string(s))
		}
	}
	switch strings.Join(ops, ",") {
	case "BiasAdd":
		return false, nil
	case "BiasAdd,Relu":
		return true, nil
	}
	return false, fmt.Errorf("fused_ops %v, want [BiasAdd] or [BiasAdd Relu]", ops)
}

// fusedConv is _FusedConv2D: Conv2D with an HWIO filter, + bias, then
// maybe Relu, as an ONNX Conv (OIHW weights) and Relu.
func (c *converter) fusedConv(n *nodeDef, ins []value, out string) (value, error) {
	relu, err := fusedOps(n)
	if err != nil {
		return value{}, err
	}
	if err := wantRanks(ins, 4, 0, 0); err != nil {
		return value{}, err
	}
	x := ins[0]
	f, err := c.constant(ins[1], true, -1, -1, x.c, -1)
	if err != nil {
		return value{}, err
	}
	kh, kw, co := f.Shape[0], f.Shape[1], f.Shape[3]
	bias, err := c.constant(ins[2], true, co)
	if err != nil {
		return value{}, err
	}
	g, err := spatial(n, x, kh, kw)
	if err != nil {
		return value{}, err
	}
	wn, err := c.addInit(ins[1].name, []int{co, x.c, kh, kw}, onnxpb.HWIOToOIHW(f.Shape, f.F))
	if err != nil {
		return value{}, err
	}
	bn, err := c.addInit(ins[2].name, []int{co}, bias.F)
	if err != nil {
		return value{}, err
	}
	convOut := out
	if relu {
		convOut = n.Name + "/BiasAdd"
	}
	name := c.g.AddNode("Conv", convOut, []string{x.name, wn, bn}, g.attrs...)
	if relu {
		name = c.g.AddNode("Relu", out, []string{name})
	}
	return value{name: name, rank: 4, c: co, h: g.h, w: g.w}, nil
}

// depthwise is DepthwiseConv2dNative with filter [H,W,C,M] as a grouped
// Conv (group C) with weights [C*M,1,H,W]; TF's output channel c*M+m is
// ONNX's too.
func (c *converter) depthwise(n *nodeDef, ins []value, out string) (value, error) {
	if err := wantRanks(ins, 4, 0); err != nil {
		return value{}, err
	}
	x := ins[0]
	f, err := c.constant(ins[1], true, -1, -1, x.c, -1)
	if err != nil {
		return value{}, err
	}
	kh, kw, m := f.Shape[0], f.Shape[1], f.Shape[3]
	g, err := spatial(n, x, kh, kw)
	if err != nil {
		return value{}, err
	}
	// [H,W,C,M] has the data order of HWIO [H,W,1,C*M].
	w := onnxpb.HWIOToOIHW([]int{kh, kw, 1, x.c * m}, f.F)
	wn, err := c.addInit(ins[1].name, []int{x.c * m, 1, kh, kw}, w)
	if err != nil {
		return value{}, err
	}
	attrs := append(g.attrs, onnxpb.Attr{Name: "group", I: int64(x.c)})
	name := c.g.AddNode("Conv", out, []string{x.name, wn}, attrs...)
	return value{name: name, rank: 4, c: x.c * m, h: g.h, w: g.w}, nil
}

// maxPool is MaxPool with SAME or VALID padding. ONNX MaxPool never takes
// a pad cell as the maximum, which matches TF's -inf padding.
func (c *converter) maxPool(n *nodeDef, ins []value, out string) (value, error) {
	if err := wantRanks(ins, 4); err != nil {
		return value{}, err
	}
	if p := string(n.Attr["padding"].S); p != "SAME" && p != "VALID" {
		return value{}, fmt.Errorf("padding %q, want SAME or VALID", p)
	}
	kh, kw, err := nhwc4(n, "ksize", 0)
	if err != nil || kh == 0 {
		return value{}, fmt.Errorf("ksize: want [1,h,w,1] (%v)", err)
	}
	g, err := spatial(n, ins[0], kh, kw)
	if err != nil {
		return value{}, err
	}
	v := ins[0]
	v.name = c.g.AddNode("MaxPool", out, []string{v.name}, g.attrs...)
	v.h, v.w = g.h, g.w
	return v, nil
}

// mean is Mean over H and W (a global average pool) as ReduceMean over
// NCHW's axes 2 and 3; keep_dims false gives an [N,C] matrix.
func (c *converter) mean(n *nodeDef, ins []value, out string) (value, error) {
	if err := wantRanks(ins, 4, 0); err != nil {
		return value{}, err
	}
	axes, err := c.constant(ins[1], false, -1)
	if err != nil {
		return value{}, err
	}
	set := map[int32]bool{}
	for _, a := range axes.I {
		if a < 0 {
			a += 4 // TF counts negative axes from the end
		}
		set[a] = true
	}
	if len(axes.I) != 2 || !set[1] || !set[2] {
		return value{}, fmt.Errorf("reduction axes %v, want H and W [1 2]", axes.I)
	}
	keep := n.Attr["keep_dims"].B
	v := ins[0]
	v.name = c.g.AddNode("ReduceMean", out, []string{v.name},
		onnxpb.Attr{Name: "axes", Ints: onnxpb.Ints(2, 3)},
		onnxpb.Attr{Name: "keepdims", I: map[bool]int64{false: 0, true: 1}[keep]})
	v.h, v.w = 1, 1
	if !keep {
		v.rank = 2
	}
	return v, nil
}
