package onnxfix

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/humaninsight/facet/internal/testenv"
)

// float32 bit patterns, chosen to cover each class the flush must tell apart.
const (
	posNormal    = 0x3fc00000 // 1.5
	negNormal    = 0xbfc00000 // -1.5
	minNormal    = 0x00800000 // smallest normal: not denormal
	posDenormMin = 0x00000001
	posDenormMax = 0x007fffff
	negDenormMin = 0x80000001
	negDenormMax = 0x807fffff
	posZero      = 0x00000000
	negZero      = 0x80000000
	quietNaN     = 0x7fc00000
	signalNaN    = 0x7f800001 // mantissa set like a denormal, exponent all ones
	posInf       = 0x7f800000
	negInf       = 0xff800000
)

// mixed holds four denormals among values that must survive unchanged.
var mixed = []uint32{posNormal, posDenormMin, negNormal, posDenormMax, minNormal,
	negDenormMin, posZero, negDenormMax, negZero, quietNaN, signalNaN, posInf, negInf}

// flushed is mixed after Fix.
var flushed = []uint32{posNormal, posZero, negNormal, posZero, minNormal,
	negZero, posZero, negZero, negZero, quietNaN, signalNaN, posInf, negInf}

// tensor describes a TensorProto for the synthetic models.
type tensor struct {
	name     string
	dataType uint64
	raw      []uint32 // raw_data, omitted when nil
	packed   []uint32 // packed float_data, omitted when nil
	unpacked []uint32 // float_data as one fixed32 field per value
}

// model describes a ModelProto for the synthetic models. Unknown fields are
// added at every level so that byte-for-byte comparison proves they survive.
type model struct {
	irVersion uint64
	inputs    []string
	tensors   []tensor
}

func (m model) bytes() []byte {
	var g []byte
	g = appendMsg(g, 1, func(b []byte) []byte { // node
		b = appendString(b, 1, "x")
		b = appendString(b, 1, "w")
		b = appendString(b, 2, "y")
		return appendString(b, 4, "Conv")
	})
	g = appendString(g, 2, "graph")
	for _, t := range m.tensors {
		g = appendMsg(g, 5, t.bytes)
	}
	g = protowire.AppendTag(g, 500, protowire.Fixed32Type)
	g = protowire.AppendFixed32(g, 0xdeadbeef)
	for _, in := range m.inputs {
		g = appendMsg(g, 11, func(b []byte) []byte {
			b = appendString(b, 1, in)
			b = appendString(b, 2, "\x0a\x02\x08\x01") // type: tensor of FLOAT
			return appendString(b, 77, "unknown in value info")
		})
	}
	g = appendMsg(g, 12, func(b []byte) []byte { return appendString(b, 1, "y") })

	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, m.irVersion)
	b = appendString(b, 2, "test")
	b = appendString(b, 999, "unknown in model")
	b = appendString(b, 7, string(g))
	b = appendMsg(b, 8, func(b []byte) []byte { // opset_import
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, 13)
	})
	b = protowire.AppendTag(b, 1000, protowire.VarintType)
	return protowire.AppendVarint(b, 42)
}

func (t tensor) bytes(b []byte) []byte {
	b = appendString(b, 1, "\x02\x02") // dims, packed
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, t.dataType)
	b = appendString(b, 8, t.name)
	if t.raw != nil {
		b = appendString(b, 9, string(le(t.raw)))
	}
	if t.packed != nil {
		b = appendString(b, 4, string(le(t.packed)))
	}
	for _, v := range t.unpacked {
		b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, v)
	}
	return appendString(b, 300, "unknown in tensor")
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMsg(b []byte, num protowire.Number, msg func([]byte) []byte) []byte {
	return appendString(b, num, string(msg(nil)))
}

func le(vs []uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func TestFix(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		want      []byte
		wantStats Stats
	}{
		{
			name: "drops shadowing inputs and flushes raw and packed data",
			in: model{8, []string{"x", "w", "b"}, []tensor{
				{name: "w", dataType: 1, raw: mixed},
				{name: "b", dataType: 1, packed: mixed},
			}}.bytes(),
			want: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 1, raw: flushed},
				{name: "b", dataType: 1, packed: flushed},
			}}.bytes(),
			wantStats: Stats{InputsDropped: 2, DenormalsFlushed: 8, Initializers: 2},
		},
		{
			name: "flushes unpacked float_data",
			in: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 1, unpacked: mixed},
			}}.bytes(),
			want: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 1, unpacked: flushed},
			}}.bytes(),
			wantStats: Stats{DenormalsFlushed: 4, Initializers: 1},
		},
		{
			name: "clean model is returned unchanged",
			in: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 1, raw: flushed, packed: flushed},
			}}.bytes(),
			want: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 1, raw: flushed, packed: flushed},
			}}.bytes(),
			wantStats: Stats{Initializers: 1},
		},
		{
			// As INT32 these bit patterns are ordinary integers.
			name: "non-float initializer is not flushed",
			in: model{8, []string{"x", "w"}, []tensor{
				{name: "w", dataType: 6, raw: mixed},
			}}.bytes(),
			want: model{8, []string{"x"}, []tensor{
				{name: "w", dataType: 6, raw: mixed},
			}}.bytes(),
			wantStats: Stats{InputsDropped: 1, Initializers: 1},
		},
		{
			// IR version 3 requires initializers among the inputs.
			name: "ir version 3 keeps shadowing inputs",
			in: model{3, []string{"x", "w"}, []tensor{
				{name: "w", dataType: 1, raw: mixed},
			}}.bytes(),
			want: model{3, []string{"x", "w"}, []tensor{
				{name: "w", dataType: 1, raw: flushed},
			}}.bytes(),
			wantStats: Stats{DenormalsFlushed: 4, Initializers: 1},
		},
		{
			// Protobuf merges repeated message fields into one graph.
			name:      "graph split across two fields",
			in:        splitGraph([]string{"x", "w"}),
			want:      splitGraph([]string{"x"}),
			wantStats: Stats{InputsDropped: 1, Initializers: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.in)
			got, st, err := Fix(in)
			if err != nil {
				t.Fatalf("Fix: %v", err)
			}
			if diff := cmp.Diff(tt.wantStats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bytes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.in, in); diff != "" {
				t.Errorf("Fix modified its input (-want +got):\n%s", diff)
			}

			again, st, err := Fix(got)
			if err != nil {
				t.Fatalf("second Fix: %v", err)
			}
			if diff := cmp.Diff(Stats{Initializers: tt.wantStats.Initializers}, st); diff != "" {
				t.Errorf("second Fix stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("second Fix changed the bytes (-want +got):\n%s", diff)
			}
		})
	}
}

// splitGraph returns a model whose graph comes in two fields: the
// initializer in the first, the inputs in the second.
func splitGraph(inputs []string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 8)
	b = appendMsg(b, 7, func(b []byte) []byte {
		return appendMsg(b, 5, tensor{name: "w", dataType: 1, raw: []uint32{posNormal}}.bytes)
	})
	return appendMsg(b, 7, func(b []byte) []byte {
		for _, in := range inputs {
			b = appendMsg(b, 11, func(b []byte) []byte { return appendString(b, 1, in) })
		}
		return b
	})
}

func TestGraphInputs(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"three inputs", model{8, []string{"x", "w", "b"}, nil}.bytes(), []string{"x", "w", "b"}},
		{"no inputs", model{8, nil, nil}.bytes(), nil},
		{"split graph", splitGraph([]string{"x", "w"}), []string{"x", "w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GraphInputs(tt.in)
			if err != nil {
				t.Fatalf("GraphInputs: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inputs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFixErrors(t *testing.T) {
	good := model{8, []string{"x", "w"}, []tensor{{name: "w", dataType: 1, raw: mixed}}}.bytes()
	tests := []struct {
		name        string
		in          []byte
		want        string // part of the error message
		inputsValid bool   // GraphInputs does not look at tensors
	}{
		{"empty", nil, "no graph", false},
		{"text file", []byte("hello, this is not a model\n"), "not an ONNX model", false},
		{"truncated", good[:len(good)/2], "not an ONNX model", false},
		{"no graph", good[:2], "no graph", false},
		{"graph not a message", []byte{7<<3 | 0, 1}, "graph has wire type", false},
		{"garbage graph", []byte{7<<3 | 2, 2, 0xff, 0xff}, "parse graph", false},
		{"input not a message", appendString(nil, 7, "\x58\x01"), "input has wire type", false},
		{
			"raw data not whole floats",
			appendMsg(nil, 7, func(b []byte) []byte {
				return appendMsg(b, 5, func(b []byte) []byte {
					b = protowire.AppendTag(b, 2, protowire.VarintType)
					b = protowire.AppendVarint(b, 1)
					return appendString(b, 9, "12345")
				})
			}),
			"not whole float32s",
			true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Fix(tt.in)
			if err == nil || !strings.HasPrefix(err.Error(), "onnxfix: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fix error = %v, want one starting %q containing %q", err, "onnxfix: ", tt.want)
			}
			_, err = GraphInputs(tt.in)
			if got := err == nil; got != tt.inputsValid {
				t.Errorf("GraphInputs error = %v, want error %v", err, !tt.inputsValid)
			} else if err != nil && !strings.HasPrefix(err.Error(), "onnxfix: ") {
				t.Errorf("GraphInputs error = %v, want one starting %q", err, "onnxfix: ")
			}
		})
	}
}

func TestFixFile(t *testing.T) {
	in := model{8, []string{"x", "w"}, []tensor{{name: "w", dataType: 1, raw: mixed}}}.bytes()
	want, wantStats, err := Fix(in)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		src       []byte // nil: no source file
		inPlace   bool   // dst is src
		wantErr   bool
		wantDst   []byte // nil: dst must not exist
		wantStats Stats
	}{
		{"fixes", in, false, false, want, wantStats},
		{"fixes in place", in, true, false, want, wantStats},
		{"missing source", nil, false, true, nil, Stats{}},
		{"not a model", []byte("not a model"), false, true, nil, Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src.onnx"), filepath.Join(dir, "dst.onnx")
			if tt.inPlace {
				dst = src
			}
			if tt.src != nil {
				if err := os.WriteFile(src, tt.src, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := FixFile(src, dst)
			if (err != nil) != tt.wantErr {
				t.Fatalf("FixFile error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantStats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			got, err := os.ReadFile(dst)
			if tt.wantDst == nil {
				if !os.IsNotExist(err) {
					t.Errorf("dst: got err %v, want it absent", err)
				}
			} else if diff := cmp.Diff(tt.wantDst, got); diff != "" {
				t.Errorf("dst (-want +got):\n%s", diff)
			}

			// No temporary file may be left behind, whatever happened.
			var names []string
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if n := e.Name(); n != "src.onnx" && n != "dst.onnx" {
					names = append(names, n)
				}
			}
			if diff := cmp.Diff([]string(nil), names); diff != "" {
				t.Errorf("leftover files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFixRealModels(t *testing.T) {
	tests := []struct {
		file        string
		wantInputs  []string // after the fix; nil to skip the check
		wantDropped bool
		wantFlushed bool
	}{
		{file: "fr_age.onnx", wantInputs: []string{"input"}, wantDropped: true},
		{file: "fr_gender.onnx", wantFlushed: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(testenv.File(t, filepath.Join(".cache", "orig", tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			before, err := GraphInputs(in)
			if err != nil {
				t.Fatalf("GraphInputs before: %v", err)
			}
			out, st, err := Fix(in)
			if err != nil {
				t.Fatalf("Fix: %v", err)
			}
			t.Logf("%s: %d inputs before, stats %+v", tt.file, len(before), st)

			after, err := GraphInputs(out)
			if err != nil {
				t.Fatalf("GraphInputs after: %v", err)
			}
			if tt.wantDropped && len(before) <= 1 {
				t.Errorf("inputs before = %q, want more than 1", before)
			}
			if tt.wantInputs != nil {
				if diff := cmp.Diff(tt.wantInputs, after); diff != "" {
					t.Errorf("inputs after (-want +got):\n%s", diff)
				}
			}
			if got := len(before) - len(after); got != st.InputsDropped {
				t.Errorf("InputsDropped = %d, but inputs went from %d to %d", st.InputsDropped, len(before), len(after))
			}
			if tt.wantFlushed && st.DenormalsFlushed == 0 {
				t.Errorf("DenormalsFlushed = 0, want > 0")
			}

			again, st2, err := Fix(out)
			if err != nil {
				t.Fatalf("second Fix: %v", err)
			}
			if diff := cmp.Diff(Stats{Initializers: st.Initializers}, st2); diff != "" {
				t.Errorf("second Fix stats (-want +got):\n%s", diff)
			}
			if !bytes.Equal(out, again) {
				t.Errorf("second Fix changed the bytes (%d -> %d bytes)", len(out), len(again))
			}
		})
	}
}
