// Package faceapi converts three networks of the npm package
// @vladmandic/face-api (MIT) into ONNX models: age/gender, facial
// expression and 68-point landmarks. face-api ships only weights
// (model/NAME-weights_manifest.json and NAME.bin, uint8-quantized tensors);
// its networks are TypeScript in src/, so the graphs here are rebuilt from
// that code, layer by layer, with TensorFlow's semantics ('same' padding
// that puts the odd pixel at the end, max pooling that never picks a pad).
// tools/faceapi-ref runs face-api itself under Node, and the tests check
// that the ONNX models give the same outputs.
//
// Every model has the same input, InputName: float32 [N,3,112,112] NCHW,
// RGB, already normalised as face-api does: (pixel - MeanRGB[c]) / 255.
// Normalisation stays out of the graph so the project's own preprocessing
// does it with the rest of the crop. face-api's crop rule (see
// NetInput.toBatchTensor(112, true)): take the face box, clipped to the
// image and floored to whole pixels, pad it with zeros (black, before
// normalisation) to a square with the face centred (when the difference is
// odd, the extra row or column goes at the end: right or bottom), then
// resize to 112x112 with tf.image.resizeBilinear(alignCorners=false,
// halfPixelCenters=false): source = destination * (side/112), no
// half-pixel offset, pixel values kept as floats.
//
// The output is deterministic: the same weights give the same bytes, so a
// model's sha256 can be pinned.
package faceapi

import (
	"fmt"
	"io"

	"github.com/humaninsight/facet/internal/tfjs"
)

// Names of face-api's networks, as its model files are named.
const (
	NetAgeGender  = "age_gender_model"
	NetExpression = "face_expression_model"
	NetLandmark68 = "face_landmark_68_model"
)

// InputName is every model's input; InputSize its height and width.
const (
	InputName = "input"
	InputSize = 112
)

// MeanRGB is face-api's per-channel mean; the input is (pixel - MeanRGB[c])
// / 255 with pixels in 0..255.
var MeanRGB = [3]float32{122.782, 117.001, 104.298}

// Output names.
const (
	// OutputAge is the age model's [N,1] age in years (face-api's fc/age,
	// not clamped).
	OutputAge = "age"
	// OutputGender is the age model's [N,2] softmax probabilities in
	// GenderLabels order: face-api's (male, female) columns swapped.
	OutputGender = "gender"
	// OutputExpressions is the expression model's [N,7] softmax
	// probabilities in ExpressionLabels order.
	OutputExpressions = "expressions"
	// OutputLandmarks is the landmark model's [N,136] raw fc output, what
	// face-api's FaceLandmark68Net.runNet returns before postProcess:
	// interleaved x0, y0, x1, y1, ..., x67, y67 for face-api's 68 points
	// (iBUG 300-W order: jaw 0-16, eyebrows 17-26, nose 27-35, eyes
	// 36-47, mouth 48-67). Each value is a fraction of the side of the
	// padded square the network sees: value*112 is the position in the
	// 112x112 input (0 its left or top edge, 1 its right or bottom edge;
	// face-api adds no half-pixel offset), value*S in the padded crop of
	// side S = max(w, h). Values are not clamped and may fall outside
	// [0,1]. face-api's postProcess maps them to the unpadded w x h crop
	// as x' = (x*S - (S-w)/2) / w and y' = (y*S - (S-h)/2) / h, then to
	// image pixels as box.x + x'*w, box.y + y'*h. Note (S-w)/2 is exact
	// while its padding put floor((S-w)/2) pixels first, so for an odd
	// difference face-api's own mapping is half a pixel (of the crop) off.
	OutputLandmarks = "landmarks"
)

// GenderLabels is the order of OutputGender's columns.
var GenderLabels = [2]string{"woman", "man"}

// ExpressionLabels is the order of OutputExpressions' columns, this
// project's. face-api's order is neutral, happy, sad, angry, fearful,
// disgusted, surprised; fearful is fear, disgusted is disgust, surprised
// is surprise.
var ExpressionLabels = [7]string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}

// faceapiExpressionIndex is each of ExpressionLabels' column in face-api's fc.
var faceapiExpressionIndex = map[string]int{
	"neutral": 0, "happy": 1, "sad": 2, "angry": 3, "fear": 4, "disgust": 5, "surprise": 6,
}

const (
	producerName    = "facet internal/faceapi"
	producerVersion = "1"
	preprocessDoc   = "Input: float32 [N,3,112,112] RGB, (pixel - [122.782, 117.001, 104.298]) / 255, " +
		"the face crop zero-padded to a centred square and resized to 112 " +
		"(tf.image.resizeBilinear, alignCorners false, halfPixelCenters false). "
	docAgeGender = "face-api (@vladmandic/face-api) AgeGenderNet: TinyXception(2), avgPool, fc. " + preprocessDoc +
		"Outputs: age [N,1] in years; gender [N,2] softmax (woman, man)."
	docExpression = "face-api (@vladmandic/face-api) FaceExpressionNet: FaceFeatureExtractor, fc, softmax. " + preprocessDoc +
		"Output: expressions [N,7] softmax (angry, disgust, fear, happy, sad, surprise, neutral)."
	docLandmark68 = "face-api (@vladmandic/face-api) FaceLandmark68Net before postProcess. " + preprocessDoc +
		"Output: landmarks [N,136] x0,y0,...,x67,y67 as fractions of the padded square's side."
)

var builders = map[string]func(map[string]tensor) ([]byte, error){
	NetAgeGender:  buildAgeGender,
	NetExpression: buildExpression,
	NetLandmark68: buildLandmark68,
}

// Convert builds the ONNX model (ModelProto bytes) of face-api network
// net (NetAgeGender, NetExpression or NetLandmark68) from its weights
// manifest; readBin returns a weights file named in the manifest's paths,
// relative to the manifest.
func Convert(net string, manifestJSON []byte, readBin func(path string) ([]byte, error)) ([]byte, error) {
	build, ok := builders[net]
	if !ok {
		return nil, fmt.Errorf("faceapi: unknown network %q", net)
	}
	w, err := decodeWeights(manifestJSON, readBin)
	if err != nil {
		return nil, fmt.Errorf("faceapi: %s: %w", net, err)
	}
	model, err := build(w)
	if err != nil {
		return nil, fmt.Errorf("faceapi: %s: %w", net, err)
	}
	return model, nil
}

// Output names a converted network and the file it is written to.
type Output struct {
	Net  string // face-api's name, e.g. NetAgeGender
	File string // e.g. faceapi_age_gender.onnx
}

// Outputs lists what ConvertPackage makes, in a fixed order.
var Outputs = []Output{
	{NetAgeGender, "faceapi_age_gender.onnx"},
	{NetExpression, "faceapi_expression.onnx"},
	{NetLandmark68, "faceapi_landmark68.onnx"},
}

// ConvertPackage converts every network of Outputs from face-api's npm
// tarball (as `npm pack @vladmandic/face-api` makes it, files under
// package/model/) and returns the models by Output.File.
func ConvertPackage(tgz io.Reader) (map[string][]byte, error) {
	files, err := tfjs.PackageFiles(tgz, "package/model/", nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, o := range Outputs {
		manifest, ok := files[o.Net+"-weights_manifest.json"]
		if !ok {
			return nil, fmt.Errorf("faceapi: package has no model/%s-weights_manifest.json", o.Net)
		}
		model, err := Convert(o.Net, manifest, func(p string) ([]byte, error) {
			if b, ok := files[p]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("no model/%s in the package", p)
		})
		if err != nil {
			return nil, err
		}
		out[o.File] = model
	}
	return out, nil
}
