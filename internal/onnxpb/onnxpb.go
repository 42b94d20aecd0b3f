// Package onnxpb writes ONNX models (ModelProto, IR version 8, ai.onnx
// opset 13) straight to the protobuf wire format with protowire. It covers
// only what facet's converters emit: float32 tensors, int and int-list
// attributes, and float32 graph inputs and outputs with a symbolic batch
// axis. Writing the wire format directly keeps the full ONNX schema out of
// the module's dependencies, and the converters' output byte-for-byte
// deterministic.
package onnxpb

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto (ONNX 1.x), limited to what the writer
// emits. They are exported so tests can decode the output with protowire.
const (
	ModelIRVersion     = 1
	ModelProducerName  = 2
	ModelProducerVer   = 3
	ModelDocString     = 6
	ModelGraph         = 7
	ModelOpsetImport   = 8
	ModelMetadataProps = 14

	OpsetDomain  = 1
	OpsetVersion = 2

	EntryKey   = 1
	EntryValue = 2

	GraphNode        = 1
	GraphName        = 2
	GraphInitializer = 5
	GraphDocString   = 10
	GraphInput       = 11
	GraphOutput      = 12

	NodeInput     = 1
	NodeOutput    = 2
	NodeName      = 3
	NodeOpType    = 4
	NodeAttribute = 5

	AttrName = 1
	AttrI    = 3
	AttrInts = 8
	AttrType = 20

	AttrTypeInt  = 2
	AttrTypeInts = 7

	TensorDims     = 1
	TensorDataType = 2
	TensorName     = 8
	TensorRawData  = 9

	ValueInfoName = 1
	ValueInfoType = 2

	TypeTensor      = 1
	TensorTypeElem  = 1
	TensorTypeShape = 2
	ShapeDim        = 1
	DimValue        = 1
	DimParam        = 2
	ElemTypeFloat   = 1

	// IRVersion and OpsetVersion13 are what EncodeModel declares.
	IRVersion      = 8
	OpsetVersion13 = 13
)

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendIntField(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// Attr is one node attribute: an int, or a list of ints when Ints is set.
type Attr struct {
	Name string
	I    int64
	Ints []int64
}

func (a Attr) encode() []byte {
	b := appendStringField(nil, AttrName, a.Name)
	if a.Ints != nil {
		// onnx.proto is proto2: repeated scalars are written unpacked.
		for _, v := range a.Ints {
			b = appendIntField(b, AttrInts, v)
		}
		return appendIntField(b, AttrType, AttrTypeInts)
	}
	b = appendIntField(b, AttrI, a.I)
	return appendIntField(b, AttrType, AttrTypeInt)
}

// EncodeNode writes a NodeProto of the default (ai.onnx) domain.
func EncodeNode(name, op string, inputs, outputs []string, attrs []Attr) []byte {
	var b []byte
	for _, in := range inputs {
		b = appendStringField(b, NodeInput, in)
	}
	for _, out := range outputs {
		b = appendStringField(b, NodeOutput, out)
	}
	b = appendStringField(b, NodeName, name)
	b = appendStringField(b, NodeOpType, op)
	for _, a := range attrs {
		b = appendBytesField(b, NodeAttribute, a.encode())
	}
	return b
}

// EncodeTensor writes a float32 TensorProto with its values as
// little-endian raw_data, as ONNX specifies.
func EncodeTensor(name string, dims []int, data []float32) []byte {
	var b []byte
	for _, d := range dims {
		b = appendIntField(b, TensorDims, int64(d))
	}
	b = appendIntField(b, TensorDataType, ElemTypeFloat)
	b = appendStringField(b, TensorName, name)
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return appendBytesField(b, TensorRawData, raw)
}

// EncodeValueInfo writes a float32 tensor ValueInfoProto; a negative dim
// is the symbolic batch axis "N".
func EncodeValueInfo(name string, dims []int) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d < 0 {
			dim = appendStringField(nil, DimParam, "N")
		} else {
			dim = appendIntField(nil, DimValue, int64(d))
		}
		shape = appendBytesField(shape, ShapeDim, dim)
	}
	tt := appendIntField(nil, TensorTypeElem, ElemTypeFloat)
	tt = appendBytesField(tt, TensorTypeShape, shape)
	typ := appendBytesField(nil, TypeTensor, tt)
	b := appendStringField(nil, ValueInfoName, name)
	return appendBytesField(b, ValueInfoType, typ)
}

// ValueInfo names a graph input or output and its shape (-1: batch).
type ValueInfo struct {
	Name string
	Dims []int
}

// Graph is the parts of a GraphProto, nodes and initializers already
// encoded, in the order they are written.
type Graph struct {
	Name, Doc       string
	Nodes, Inits    [][]byte
	Inputs, Outputs []ValueInfo
}

// Encode writes the GraphProto.
func (g *Graph) Encode() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendBytesField(b, GraphNode, n)
	}
	b = appendStringField(b, GraphName, g.Name)
	for _, t := range g.Inits {
		b = appendBytesField(b, GraphInitializer, t)
	}
	b = appendStringField(b, GraphDocString, g.Doc)
	for _, v := range g.Inputs {
		b = appendBytesField(b, GraphInput, EncodeValueInfo(v.Name, v.Dims))
	}
	for _, v := range g.Outputs {
		b = appendBytesField(b, GraphOutput, EncodeValueInfo(v.Name, v.Dims))
	}
	return b
}

// AddInit appends a float32 initializer and returns its name.
func (g *Graph) AddInit(name string, dims []int, data []float32) string {
	g.Inits = append(g.Inits, EncodeTensor(name, dims, data))
	return name
}

// AddNode appends a single-output node named after its output and returns
// that name.
func (g *Graph) AddNode(op, out string, inputs []string, attrs ...Attr) string {
	g.Nodes = append(g.Nodes, EncodeNode(out, op, inputs, []string{out}, attrs))
	return out
}

// Producer names the program that wrote a model (ModelProto's
// producer_name and producer_version).
type Producer struct {
	Name, Version string
}

// EncodeModel writes a ModelProto (IR version 8, ai.onnx opset 13) around
// graph. meta is written in order as metadata_props, so the bytes are the
// same on every run.
func EncodeModel(graph []byte, p Producer, doc string, meta [][2]string) []byte {
	b := appendIntField(nil, ModelIRVersion, IRVersion)
	b = appendStringField(b, ModelProducerName, p.Name)
	b = appendStringField(b, ModelProducerVer, p.Version)
	b = appendStringField(b, ModelDocString, doc)
	b = appendBytesField(b, ModelGraph, graph)
	opset := appendStringField(nil, OpsetDomain, "")
	opset = appendIntField(opset, OpsetVersion, OpsetVersion13)
	b = appendBytesField(b, ModelOpsetImport, opset)
	for _, kv := range meta {
		e := appendStringField(nil, EntryKey, kv[0])
		e = appendStringField(e, EntryValue, kv[1])
		b = appendBytesField(b, ModelMetadataProps, e)
	}
	return b
}

// SamePads is TensorFlow's 'SAME' padding along one axis: the output has
// ceil(n/stride) cells and any odd padding goes at the end (bottom,
// right), unlike a symmetric ONNX pad.
func SamePads(n, k, stride int) (before, after, out int) {
	out = (n + stride - 1) / stride
	total := max((out-1)*stride+k-n, 0)
	return total / 2, total - total/2, out
}

// Ints converts ints to an attribute's int64 list.
func Ints(v ...int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// HWIOToOIHW reorders a TensorFlow conv filter [H,W,I,O] (shape) to ONNX's
// [O,I,H,W]. A depthwise filter [H,W,C,1] has the same data order as HWIO
// [H,W,1,C], so passing that shape gives ONNX's grouped [C,1,H,W].
func HWIOToOIHW(shape []int, data []float32) []float32 {
	kh, kw, ci, co := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(data))
	for y := range kh {
		for x := range kw {
			for i := range ci {
				for o := range co {
					out[((o*ci+i)*kh+y)*kw+x] = data[((y*kw+x)*ci+i)*co+o]
				}
			}
		}
	}
	return out
}
