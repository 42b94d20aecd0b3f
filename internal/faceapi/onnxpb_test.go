package faceapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// spec is one tensor of a synthetic weights manifest.
type spec struct {
	name  string
	shape []int
}

// sepSpecs lists a separable convolution's tensors as face-api names them.
func sepSpecs(p string, cin, cout int) []spec {
	return []spec{{p + "/depthwise_filter", []int{3, 3, cin, 1}}, {p + "/pointwise_filter", []int{1, 1, cin, cout}}, {p + "/bias", []int{cout}}}
}

func convSpecs(p string, k, cin, cout int) []spec {
	return []spec{{p + "/filters", []int{k, k, cin, cout}}, {p + "/bias", []int{cout}}}
}

// netSpecs mirrors face-api's extractParamsFromWeightMap for each network,
// written out independently of the builder so a naming slip shows.
func netSpecs(net string) []spec {
	var s []spec
	if net == NetAgeGender {
		s = convSpecs("entry_flow/conv_in", 3, 3, 32)
		red := func(p string, cin, cout int) {
			s = append(s, sepSpecs(p+"/separable_conv0", cin, cout)...)
			s = append(s, sepSpecs(p+"/separable_conv1", cout, cout)...)
			s = append(s, convSpecs(p+"/expansion_conv", 1, cin, cout)...)
		}
		red("entry_flow/reduction_block_0", 32, 64)
		red("entry_flow/reduction_block_1", 64, 128)
		for b := range 2 {
			for c := range 3 {
				s = append(s, sepSpecs(fmt.Sprintf("middle_flow/main_block_%d/separable_conv%d", b, c), 128, 128)...)
			}
		}
		red("exit_flow/reduction_block", 128, 256)
		s = append(s, sepSpecs("exit_flow/separable_conv", 256, 512)...)
		return append(s, spec{"fc/age/weights", []int{512, 1}}, spec{"fc/age/bias", []int{1}},
			spec{"fc/gender/weights", []int{512, 2}}, spec{"fc/gender/bias", []int{2}})
	}
	cin := 3
	for d, cout := range []int{32, 64, 128, 256} {
		p := fmt.Sprintf("dense%d", d)
		if d == 0 {
			s = append(s, convSpecs(p+"/conv0", 3, cin, cout)...)
		} else {
			s = append(s, sepSpecs(p+"/conv0", cin, cout)...)
		}
		for c := 1; c < 4; c++ {
			s = append(s, sepSpecs(fmt.Sprintf("%s/conv%d", p, c), cout, cout)...)
		}
		cin = cout
	}
	out := 7
	if net == NetLandmark68 {
		out = 136
	}
	return append(s, spec{"fc/weights", []int{256, out}}, spec{"fc/bias", []int{out}})
}

// synthManifest makes a weights manifest and its .bin for specs: filters
// uint8-quantized (uint16 for the pointwise ones), biases raw float32, as
// in face-api's files. It returns the values tfjs would decode too.
func synthManifest(t *testing.T, specs []spec, seed uint64) ([]byte, []byte, map[string][]float32) {
	r := rand.New(rand.NewPCG(seed, 7))
	var items []map[string]any
	var bin []byte
	want := map[string][]float32{}
	for _, s := range specs {
		n := prod(s.shape)
		item := map[string]any{"name": s.name, "shape": s.shape, "dtype": "float32"}
		vals := make([]float32, n)
		switch {
		case strings.HasSuffix(s.name, "/bias"):
			for i := range vals {
				vals[i] = float32(r.NormFloat64() * 0.1)
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(vals[i]))
			}
		default:
			scale, lo := 0.01+r.Float64()*0.01, -0.5-r.Float64()
			q := map[string]any{"dtype": "uint8", "scale": scale, "min": lo}
			wide := strings.HasSuffix(s.name, "pointwise_filter")
			if wide {
				q["dtype"] = "uint16"
				scale /= 256
				q["scale"] = scale
			}
			item["quantization"] = q
			for i := range vals {
				if wide {
					v := uint16(r.IntN(65536))
					bin = binary.LittleEndian.AppendUint16(bin, v)
					vals[i] = float32(float64(v)*scale + lo)
				} else {
					v := byte(r.IntN(256))
					bin = append(bin, v)
					vals[i] = float32(float64(v)*scale + lo)
				}
			}
		}
		want[s.name] = vals
		items = append(items, item)
	}
	m, err := json.Marshal([]map[string]any{{"paths": []string{"w.bin"}, "weights": items}})
	if err != nil {
		t.Fatal(err)
	}
	return m, bin, want
}

func convertSynth(t *testing.T, net string, seed uint64) ([]byte, map[string][]float32) {
	t.Helper()
	m, bin, want := synthManifest(t, netSpecs(net), seed)
	model, err := Convert(net, m, func(p string) ([]byte, error) {
		if p != "w.bin" {
			return nil, fmt.Errorf("unexpected path %q", p)
		}
		return bin, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return model, want
}

// fields decodes one protobuf message into its fields by number: varints
// as uint64, length-delimited fields as []byte.
func fields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	out := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			out[num] = append(out[num], v)
			b = b[m:]
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			out[num] = append(out[num], v)
			b = b[m:]
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
	}
	return out
}

func str(v any) string { return string(v.([]byte)) }

// valueInfoDims returns a ValueInfoProto's name and dims, -1 for "N".
func valueInfoDims(t *testing.T, vi []byte) (string, []int) {
	f := fields(t, vi)
	tt := fields(t, fields(t, f[onnxpb.ValueInfoType][0].([]byte))[onnxpb.TypeTensor][0].([]byte))
	if tt[onnxpb.TensorTypeElem][0].(uint64) != onnxpb.ElemTypeFloat {
		t.Errorf("%s is not float32", str(f[onnxpb.ValueInfoName][0]))
	}
	var dims []int
	for _, d := range fields(t, tt[onnxpb.TensorTypeShape][0].([]byte))[onnxpb.ShapeDim] {
		df := fields(t, d.([]byte))
		if p, ok := df[onnxpb.DimParam]; ok && str(p[0]) == "N" {
			dims = append(dims, -1)
		} else {
			dims = append(dims, int(df[onnxpb.DimValue][0].(uint64)))
		}
	}
	return str(f[onnxpb.ValueInfoName][0]), dims
}

// TestModelStructure decodes each converted model with protowire and checks
// the header, the interface, the initializer count and that every node
// reads only values defined before it.
func TestModelStructure(t *testing.T) {
	outputs := map[string][]string{
		NetAgeGender: {OutputAge, OutputGender}, NetExpression: {OutputExpressions}, NetLandmark68: {OutputLandmarks},
	}
	for _, o := range Outputs {
		t.Run(o.Net, func(t *testing.T) {
			model, _ := convertSynth(t, o.Net, 1)
			again, _ := convertSynth(t, o.Net, 1)
			if !bytes.Equal(model, again) {
				t.Error("two conversions of the same weights differ")
			}
			m := fields(t, model)
			if m[onnxpb.ModelIRVersion][0].(uint64) != 8 {
				t.Errorf("ir_version %d, want 8", m[onnxpb.ModelIRVersion][0])
			}
			opset := fields(t, m[onnxpb.ModelOpsetImport][0].([]byte))
			if len(opset[onnxpb.OpsetDomain]) != 1 || str(opset[onnxpb.OpsetDomain][0]) != "" || opset[onnxpb.OpsetVersion][0].(uint64) != 13 {
				t.Errorf("opset import %v, want ai.onnx 13", opset)
			}
			g := fields(t, m[onnxpb.ModelGraph][0].([]byte))
			checkInterface(t, g, outputs[o.Net])
			if n, want := len(g[onnxpb.GraphInitializer]), len(netSpecs(o.Net)); n != want {
				t.Errorf("%d initializers, want one per manifest tensor, %d", n, want)
			}
			checkTopology(t, g)
		})
	}
}

func checkInterface(t *testing.T, g map[protowire.Number][]any, outputs []string) {
	t.Helper()
	if len(g[onnxpb.GraphInput]) != 1 {
		t.Fatalf("%d graph inputs, want 1 (initializers are not inputs)", len(g[onnxpb.GraphInput]))
	}
	name, dims := valueInfoDims(t, g[onnxpb.GraphInput][0].([]byte))
	if name != InputName || !slices.Equal(dims, []int{-1, 3, 112, 112}) {
		t.Errorf("input %s %v, want input [N 3 112 112]", name, dims)
	}
	var got []string
	for _, v := range g[onnxpb.GraphOutput] {
		name, dims := valueInfoDims(t, v.([]byte))
		got = append(got, name)
		if len(dims) != 2 || dims[0] != -1 {
			t.Errorf("output %s dims %v, want [N k]", name, dims)
		}
	}
	if !slices.Equal(got, outputs) {
		t.Errorf("outputs %v, want %v", got, outputs)
	}
}

func checkTopology(t *testing.T, g map[protowire.Number][]any) {
	t.Helper()
	defined := map[string]bool{InputName: true}
	for _, ti := range g[onnxpb.GraphInitializer] {
		defined[str(fields(t, ti.([]byte))[onnxpb.TensorName][0])] = true
	}
	ops := map[string]bool{}
	for _, nb := range g[onnxpb.GraphNode] {
		n := fields(t, nb.([]byte))
		for _, in := range n[onnxpb.NodeInput] {
			if !defined[str(in)] {
				t.Fatalf("node %s reads %s before it is defined", str(n[onnxpb.NodeName][0]), str(in))
			}
		}
		for _, out := range n[onnxpb.NodeOutput] {
			if defined[str(out)] {
				t.Fatalf("value %s defined twice", str(out))
			}
			defined[str(out)] = true
		}
		ops[str(n[onnxpb.NodeOpType][0])] = true
	}
	allowed := []string{"Conv", "Relu", "Add", "MaxPool", "AveragePool", "Flatten", "Gemm", "Softmax"}
	for op := range ops {
		if !slices.Contains(allowed, op) {
			t.Errorf("unexpected op %s", op)
		}
	}
}

// initializer returns the named initializer's dims and float32 values.
func initializer(t *testing.T, model []byte, name string) ([]int, []float32) {
	t.Helper()
	g := fields(t, fields(t, model)[onnxpb.ModelGraph][0].([]byte))
	for _, ti := range g[onnxpb.GraphInitializer] {
		f := fields(t, ti.([]byte))
		if str(f[onnxpb.TensorName][0]) != name {
			continue
		}
		var dims []int
		for _, d := range f[onnxpb.TensorDims] {
			dims = append(dims, int(d.(uint64)))
		}
		raw := f[onnxpb.TensorRawData][0].([]byte)
		vals := make([]float32, len(raw)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return dims, vals
	}
	t.Fatalf("no initializer %s", name)
	return nil, nil
}

// TestWeightLayouts checks the dequantised values and each layout change:
// HWIO to OIHW, depthwise to grouped, and the permuted fc columns.
func TestWeightLayouts(t *testing.T) {
	model, want := convertSynth(t, NetAgeGender, 2)
	dims, got := initializer(t, model, "entry_flow/conv_in/filters")
	w := want["entry_flow/conv_in/filters"] // [3,3,3,32] HWIO
	if !slices.Equal(dims, []int{32, 3, 3, 3}) {
		t.Fatalf("conv filters dims %v", dims)
	}
	if got[((5*3+2)*3+1)*3+0] != w[((1*3+0)*3+2)*32+5] { // o=5 i=2 y=1 x=0
		t.Error("conv filter not transposed HWIO -> OIHW")
	}
	dims, got = initializer(t, model, "exit_flow/separable_conv/depthwise_filter")
	w = want["exit_flow/separable_conv/depthwise_filter"] // [3,3,256,1]
	if !slices.Equal(dims, []int{256, 1, 3, 3}) || got[(200*3+2)*3+1] != w[(2*3+1)*256+200] {
		t.Errorf("depthwise filter dims %v or values wrong", dims)
	}
	dims, got = initializer(t, model, "exit_flow/separable_conv/pointwise_filter")
	w = want["exit_flow/separable_conv/pointwise_filter"] // [1,1,256,512], uint16
	if !slices.Equal(dims, []int{512, 256, 1, 1}) || got[7*256+3] != w[3*512+7] {
		t.Errorf("pointwise filter dims %v or values wrong", dims)
	}
	_, got = initializer(t, model, "fc/gender/weights")
	w = want["fc/gender/weights"]
	for i := range 512 {
		if got[2*i] != w[2*i+1] || got[2*i+1] != w[2*i] {
			t.Fatalf("gender fc row %d: %v, want face-api's columns swapped %v", i, got[2*i:2*i+2], w[2*i:2*i+2])
		}
	}
	_, got = initializer(t, model, "fc/gender/bias")
	if w = want["fc/gender/bias"]; got[0] != w[1] || got[1] != w[0] {
		t.Errorf("gender bias %v, want %v swapped", got, w)
	}
	model, want = convertSynth(t, NetExpression, 3)
	_, got = initializer(t, model, "fc/bias")
	w = want["fc/bias"]
	for j, l := range ExpressionLabels {
		if got[j] != w[faceapiExpressionIndex[l]] {
			t.Errorf("expression bias column %d (%s) = %v, want face-api's %v", j, l, got[j], w[faceapiExpressionIndex[l]])
		}
	}
}

func TestSamePads(t *testing.T) {
	for _, c := range []struct{ n, k, s, before, after, out int }{
		{112, 3, 2, 0, 1, 56}, // the odd pixel at the end, as TF does
		{56, 3, 1, 1, 1, 56},
		{7, 3, 2, 1, 1, 4},
		{28, 1, 2, 0, 0, 14},
		{14, 3, 2, 0, 1, 7},
	} {
		b, a, o := onnxpb.SamePads(c.n, c.k, c.s)
		if b != c.before || a != c.after || o != c.out {
			t.Errorf("onnxpb.SamePads(%d, %d, %d) = %d, %d, %d; want %d, %d, %d", c.n, c.k, c.s, b, a, o, c.before, c.after, c.out)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	specs := netSpecs(NetExpression)
	m, bin, _ := synthManifest(t, specs, 4)
	read := func(string) ([]byte, error) { return bin, nil }
	mExtra, binExtra, _ := synthManifest(t, append(slices.Clone(specs), spec{"extra/bias", []int{3}}), 4)
	mMissing, binMissing, _ := synthManifest(t, specs[1:], 4)
	cases := []struct {
		name, net, want string
		manifest        []byte
		read            func(string) ([]byte, error)
	}{
		{"unknown net", "ssd_mobilenetv1_model", "unknown network", m, read},
		{"wrong net", NetAgeGender, "missing", m, read},
		{"short bin", NetExpression, "bytes left", m, func(string) ([]byte, error) { return bin[:len(bin)-1], nil }},
		{"long bin", NetExpression, "the manifest describes", m, func(string) ([]byte, error) { return append(bin, 0), nil }},
		{"unused tensor", NetExpression, "not used", mExtra, func(string) ([]byte, error) { return binExtra, nil }},
		{"missing tensor", NetExpression, "dense0/conv0/filters missing", mMissing, func(string) ([]byte, error) { return binMissing, nil }},
		{"read error", NetExpression, "read w.bin", m, func(string) ([]byte, error) { return nil, fmt.Errorf("boom") }},
		{"bad json", NetExpression, "weights manifest", []byte("{"), read},
	}
	for _, c := range cases {
		_, err := Convert(c.net, c.manifest, c.read)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "faceapi: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
