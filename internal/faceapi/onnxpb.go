package faceapi

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto (ONNX 1.x), limited to what the writer
// emits. Writing the wire format directly keeps the full ONNX schema out
// of the module's dependencies.
const (
	modelIRVersion     = 1
	modelProducerName  = 2
	modelProducerVer   = 3
	modelDocString     = 6
	modelGraph         = 7
	modelOpsetImport   = 8
	modelMetadataProps = 14

	opsetDomain  = 1
	opsetVersion = 2

	entryKey   = 1
	entryValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5

	attrName = 1
	attrI    = 3
	attrInts = 8
	attrType = 20

	attrTypeInt  = 2
	attrTypeInts = 7

	tensorDims     = 1
	tensorDataType = 2
	tensorName     = 8
	tensorRawData  = 9

	valueInfoName = 1
	valueInfoType = 2

	typeTensor       = 1
	tensorTypeElem   = 1
	tensorTypeShape  = 2
	shapeDim         = 1
	dimValue         = 1
	dimParam         = 2
	elemTypeFloat    = 1
	onnxIRVersion    = 8
	onnxOpsetVersion = 13
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

// attr is one node attribute: an int, or a list of ints when ints is set.
type attr struct {
	name string
	i    int64
	ints []int64
}

func (a attr) encode() []byte {
	b := appendStringField(nil, attrName, a.name)
	if a.ints != nil {
		// onnx.proto is proto2: repeated scalars are written unpacked.
		for _, v := range a.ints {
			b = appendIntField(b, attrInts, v)
		}
		return appendIntField(b, attrType, attrTypeInts)
	}
	b = appendIntField(b, attrI, a.i)
	return appendIntField(b, attrType, attrTypeInt)
}

// encodeNode writes a NodeProto of the default (ai.onnx) domain.
func encodeNode(name, op string, inputs, outputs []string, attrs []attr) []byte {
	var b []byte
	for _, in := range inputs {
		b = appendStringField(b, nodeInput, in)
	}
	for _, out := range outputs {
		b = appendStringField(b, nodeOutput, out)
	}
	b = appendStringField(b, nodeName, name)
	b = appendStringField(b, nodeOpType, op)
	for _, a := range attrs {
		b = appendBytesField(b, nodeAttribute, a.encode())
	}
	return b
}

// encodeTensor writes a float32 TensorProto with its values as
// little-endian raw_data, as ONNX specifies.
func encodeTensor(name string, dims []int, data []float32) []byte {
	var b []byte
	for _, d := range dims {
		b = appendIntField(b, tensorDims, int64(d))
	}
	b = appendIntField(b, tensorDataType, elemTypeFloat)
	b = appendStringField(b, tensorName, name)
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return appendBytesField(b, tensorRawData, raw)
}

// encodeValueInfo writes a float32 tensor ValueInfoProto; a negative dim
// is the symbolic batch axis "N".
func encodeValueInfo(name string, dims []int) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d < 0 {
			dim = appendStringField(nil, dimParam, "N")
		} else {
			dim = appendIntField(nil, dimValue, int64(d))
		}
		shape = appendBytesField(shape, shapeDim, dim)
	}
	tt := appendIntField(nil, tensorTypeElem, elemTypeFloat)
	tt = appendBytesField(tt, tensorTypeShape, shape)
	typ := appendBytesField(nil, typeTensor, tt)
	b := appendStringField(nil, valueInfoName, name)
	return appendBytesField(b, valueInfoType, typ)
}

// valueInfo names a graph input or output and its shape.
type valueInfo struct {
	name string
	dims []int
}

// graphProto is the parts of a GraphProto, each already encoded.
type graphProto struct {
	name, doc      string
	nodes, inits   [][]byte
	inputs, output []valueInfo
}

func (g *graphProto) encode() []byte {
	var b []byte
	for _, n := range g.nodes {
		b = appendBytesField(b, graphNode, n)
	}
	b = appendStringField(b, graphName, g.name)
	for _, t := range g.inits {
		b = appendBytesField(b, graphInitializer, t)
	}
	b = appendStringField(b, graphDocString, g.doc)
	for _, v := range g.inputs {
		b = appendBytesField(b, graphInput, encodeValueInfo(v.name, v.dims))
	}
	for _, v := range g.output {
		b = appendBytesField(b, graphOutput, encodeValueInfo(v.name, v.dims))
	}
	return b
}

// encodeModel writes a ModelProto (IR version 8, ai.onnx opset 13) around
// graph. meta is written in order as metadata_props, so the bytes are the
// same on every run.
func encodeModel(graph []byte, doc string, meta [][2]string) []byte {
	b := appendIntField(nil, modelIRVersion, onnxIRVersion)
	b = appendStringField(b, modelProducerName, producerName)
	b = appendStringField(b, modelProducerVer, producerVersion)
	b = appendStringField(b, modelDocString, doc)
	b = appendBytesField(b, modelGraph, graph)
	opset := appendStringField(nil, opsetDomain, "")
	opset = appendIntField(opset, opsetVersion, onnxOpsetVersion)
	b = appendBytesField(b, modelOpsetImport, opset)
	for _, kv := range meta {
		e := appendStringField(nil, entryKey, kv[0])
		e = appendStringField(e, entryValue, kv[1])
		b = appendBytesField(b, modelMetadataProps, e)
	}
	return b
}
