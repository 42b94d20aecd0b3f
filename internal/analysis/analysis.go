// Package analysis turns decoded frames into facial-expression metadata:
// faces with stable track ids, per-face emotions, valence, age and gender,
// and a summary over the recording. It is pure Go over two small interfaces,
// FrameSource and Models, so it runs the same on ffmpeg and ONNX Runtime as
// on the fakes of its unit tests.
package analysis

import "github.com/humaninsight/facet"

// Image is a packed rgb24 picture, row-major, 3 bytes a pixel.
type Image struct {
	W, H int
	Pix  []byte
}

// Box is a rectangle in coordinates normalised to 0..1 of the frame.
type Box struct{ X1, Y1, X2, Y2 float64 }

// Area returns the box's area (0 for an empty or inverted box).
func (b Box) Area() float64 {
	w, h := b.X2-b.X1, b.Y2-b.Y1
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// IoU returns the intersection over union of a and b.
func IoU(a, b Box) float64 {
	in := Box{max(a.X1, b.X1), max(a.Y1, b.Y1), min(a.X2, b.X2), min(a.Y2, b.Y2)}.Area()
	if in == 0 {
		return 0
	}
	return in / (a.Area() + b.Area() - in)
}

// Point is a position normalised to 0..1 of the frame.
type Point struct{ X, Y float64 }

// Five-point landmark indexes, in the order YuNet and RetinaFace give them
// (the subject's right eye is on the left of the picture).
const (
	RightEye = iota
	LeftEye
	Nose
	RightMouth
	LeftMouth
)

// Detection is a face found by the detector. Landmarks, when the model set
// can find them, are five points (RightEye...LeftMouth); nil otherwise.
type Detection struct {
	Box       Box
	Score     float64
	Landmarks *[5]Point
}

// Attributes are the per-face estimates of the classification models. Age
// and Man are NaN when the model set has no age or gender model.
type Attributes struct {
	Emotions facet.Emotions // probabilities, EmotionLabels order
	Age      float64        // years
	Man      float64        // probability that the face reads as a man
}

// Models finds faces and describes them. Implementations are safe for
// concurrent use by several goroutines (the pipeline runs one frame per
// worker) and return errors only for failures of the runtime, never for
// what a picture shows: no face is an empty slice.
type Models interface {
	// Detect returns the faces in img, best first.
	Detect(img Image) ([]Detection, error)
	// Describe returns one Attributes per detection, in the same order.
	Describe(img Image, faces []Detection) ([]Attributes, error)
}

// EmotionReader is implemented by Models that can run their emotion
// models alone. A face followed from one frame to the next (Tracking)
// keeps its age and gender, which belong to the person, and has only its
// emotions read again.
type EmotionReader interface {
	// Emotions returns one reading per detection, in the same order.
	Emotions(img Image, faces []Detection) ([]facet.Emotions, error)
}

// FrameSource yields decoded frames of a fixed size in presentation order.
// ReadFrame fills dst (W*H*3 bytes) and returns the frame's time in
// seconds; it returns io.EOF after the last frame. It is used by one
// goroutine at a time.
type FrameSource interface {
	ReadFrame(dst []byte) (t float64, err error)
}
