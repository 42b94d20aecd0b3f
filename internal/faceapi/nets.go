package faceapi

import (
	"fmt"
	"strings"

	"github.com/humaninsight/facet/internal/onnxpb"
)

// input adds the graph input and returns it as a feature map.
func (b *builder) input() fmap {
	return fmap{InputName, 3, InputSize, InputSize}
}

// tinyXception is face-api's src/xception TinyXception(2).forwardInput
// after its normalisation: a 512-channel 7x7 map.
func (b *builder) tinyXception() fmap {
	x := b.relu(b.convLayer(b.input(), "entry_flow/conv_in", 3, 32, 2), "entry_flow/conv_in/relu")
	x = b.reductionBlock(x, "entry_flow/reduction_block_0", 64, false)
	x = b.reductionBlock(x, "entry_flow/reduction_block_1", 128, true)
	for i := range 2 {
		x = b.mainBlock(x, fmt.Sprintf("middle_flow/main_block_%d", i))
	}
	x = b.reductionBlock(x, "exit_flow/reduction_block", 256, true)
	x = b.sepConv(x, "exit_flow/separable_conv", 512, 1)
	return b.relu(x, "exit_flow/separable_conv/relu")
}

// reductionBlock: [relu] -> sep -> relu -> sep -> maxPool(3, 2, same),
// plus a strided 1x1 convolution of the block's input (not activated).
func (b *builder) reductionBlock(x fmap, p string, cout int, activate bool) fmap {
	out := x
	if activate {
		out = b.relu(x, p+"/relu_in")
	}
	out = b.sepConv(out, p+"/separable_conv0", cout, 1)
	out = b.sepConv(b.relu(out, p+"/separable_conv0/relu"), p+"/separable_conv1", cout, 1)
	out = b.maxPool3(out, p+"/max_pool")
	return b.add(out, b.convLayer(x, p+"/expansion_conv", 1, cout, 2), p+"/add")
}

// mainBlock: three relu -> sep steps and a residual connection.
func (b *builder) mainBlock(x fmap, p string) fmap {
	out := x
	for i := range 3 {
		sc := fmt.Sprintf("%s/separable_conv%d", p, i)
		out = b.sepConv(b.relu(out, sc+"/relu_in"), sc, x.c, 1)
	}
	return b.add(out, x, p+"/add")
}

// faceFeatureExtractor is face-api's src/faceFeatureExtractor
// FaceFeatureExtractor.forwardInput after its normalisation: four dense
// blocks (32, 64, 128, 256 channels, each halving the size) and
// avgPool(7, 2, valid), flattened to [N,256].
func (b *builder) faceFeatureExtractor() (string, int) {
	x := b.denseBlock4(b.input(), "dense0", 32, true)
	x = b.denseBlock4(x, "dense1", 64, false)
	x = b.denseBlock4(x, "dense2", 128, false)
	x = b.denseBlock4(x, "dense3", 256, false)
	return b.avgPoolFlatten(x, "features")
}

// denseBlock4 keeps face-api's order of additions: out1 + (out2 + (out3 +
// out4)), so float32 rounding follows the reference as closely as it can.
func (b *builder) denseBlock4(x fmap, p string, cout int, first bool) fmap {
	var out1 fmap
	if first {
		out1 = b.convLayer(x, p+"/conv0", 3, cout, 2)
	} else {
		out1 = b.sepConv(x, p+"/conv0", cout, 2)
	}
	out1 = b.relu(out1, p+"/conv0/relu")
	out2 := b.sepConv(out1, p+"/conv1", cout, 1)
	in3 := b.relu(b.add(out1, out2, p+"/in3/add"), p+"/in3")
	out3 := b.sepConv(in3, p+"/conv2", cout, 1)
	s23 := b.add(out2, out3, p+"/in4/add23")
	in4 := b.relu(b.add(out1, s23, p+"/in4/add"), p+"/in4")
	out4 := b.sepConv(in4, p+"/conv3", cout, 1)
	s34 := b.add(out3, out4, p+"/out/add34")
	s234 := b.add(out2, s34, p+"/out/add234")
	return b.relu(b.add(out1, s234, p+"/out/add"), p+"/out")
}

// buildAgeGender is AgeGenderNet.forwardInput: TinyXception(2),
// avgPool(7, 2, valid), fc/age and fc/gender with softmax. The gender
// columns are swapped from face-api's (male, female) to (woman, man).
func buildAgeGender(w map[string]tensor) ([]byte, error) {
	b := newBuilder(w)
	feat, c := b.avgPoolFlatten(b.tinyXception(), "features")
	b.fc(feat, c, "fc/age", OutputAge, []int{0})
	logits := b.fc(feat, c, "fc/gender", "gender_logits", []int{1, 0})
	b.node("Softmax", OutputGender, []string{logits}, onnxpb.Attr{Name: "axis", I: 1})
	return b.finish("faceapi_age_gender", docAgeGender,
		[]onnxpb.ValueInfo{{Name: OutputAge, Dims: []int{-1, 1}}, {Name: OutputGender, Dims: []int{-1, 2}}},
		[][2]string{{"gender_labels", "woman,man"}})
}

// buildExpression is FaceExpressionNet.forwardInput: the feature
// extractor, fc [256,7] and softmax, columns in ExpressionLabels order.
func buildExpression(w map[string]tensor) ([]byte, error) {
	b := newBuilder(w)
	feat, c := b.faceFeatureExtractor()
	perm := make([]int, len(ExpressionLabels))
	for i, l := range ExpressionLabels {
		perm[i] = faceapiExpressionIndex[l]
	}
	logits := b.fc(feat, c, "fc", "expression_logits", perm)
	b.node("Softmax", OutputExpressions, []string{logits}, onnxpb.Attr{Name: "axis", I: 1})
	return b.finish("faceapi_expression", docExpression,
		[]onnxpb.ValueInfo{{Name: OutputExpressions, Dims: []int{-1, len(ExpressionLabels)}}},
		[][2]string{{"labels", strings.Join(ExpressionLabels[:], ",")}})
}

// buildLandmark68 is FaceLandmark68Net.runNet: the feature extractor and
// fc [256,136], without face-api's postProcess (see OutputLandmarks).
func buildLandmark68(w map[string]tensor) ([]byte, error) {
	b := newBuilder(w)
	feat, c := b.faceFeatureExtractor()
	perm := make([]int, 136)
	for i := range perm {
		perm[i] = i
	}
	b.fc(feat, c, "fc", OutputLandmarks, perm)
	return b.finish("faceapi_landmark68", docLandmark68,
		[]onnxpb.ValueInfo{{Name: OutputLandmarks, Dims: []int{-1, 136}}},
		[][2]string{{"landmarks_layout", "x0,y0,...,x67,y67 in [0,1] of the padded 112x112 square"}})
}
