package facet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// EmotionLabels are the seven expression classes, in the order every model
// in our manifests outputs them and every export prints them.
var EmotionLabels = [7]string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}

// Indexes into EmotionLabels and Emotions.
const (
	Angry = iota
	Disgust
	Fear
	Happy
	Sad
	Surprise
	Neutral
)

// Emotions holds one value per label in EmotionLabels order. It marshals as
// a JSON object keyed by label, in that order (a Go map would sort them).
type Emotions [7]float64

// MarshalJSON writes {"angry":p,...} with values rounded to 4 decimals.
func (e Emotions) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, l := range EmotionLabels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(l)
		b.WriteString(`":`)
		b.WriteString(FormatFloat(e[i], 4))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object keyed by label; unknown labels are an error.
func (e *Emotions) UnmarshalJSON(data []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*e = Emotions{}
	for k, v := range m {
		i := EmotionIndex(k)
		if i < 0 {
			return fmt.Errorf("unknown emotion %q", k)
		}
		e[i] = v
	}
	return nil
}

// EmotionIndex returns the index of label in EmotionLabels, or -1.
func EmotionIndex(label string) int {
	for i, l := range EmotionLabels {
		if l == label {
			return i
		}
	}
	return -1
}

// Dominant returns the index of the largest value (the first on ties).
func (e Emotions) Dominant() int {
	best := 0
	for i := 1; i < len(e); i++ {
		if e[i] > e[best] {
			best = i
		}
	}
	return best
}

// Valence is happy minus the strongest negative emotion (angry, disgust,
// fear, sad), in [-1, 1] for probabilities.
func (e Emotions) Valence() float64 {
	neg := max(e[Angry], e[Disgust], e[Fear], e[Sad])
	return e[Happy] - neg
}

// Result is what one analysis of one video produces: the JSON contract of
// `facet analyze --format json`, stored and served unchanged by the app.
type Result struct {
	Video    VideoInfo  `json:"video"`
	Settings Settings   `json:"settings"`
	Models   []ModelRef `json:"models"`
	Summary  Summary    `json:"summary"`
	// Warnings say what makes the result less than the whole video
	// (WarnTruncated); absent when there is nothing to say.
	Warnings []string `json:"warnings,omitempty"`
	Frames   []Frame  `json:"frames"`
}

// WarnTruncated marks a result whose frames stop well before the duration
// the container states: the file was cut short (an interrupted upload),
// and the figures cover only the part that could be decoded.
const WarnTruncated = "truncated"

// VideoInfo describes the analysed video as ffprobe saw it.
type VideoInfo struct {
	DurationS Num    `json:"duration_s"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	FPS       Num    `json:"fps"`
	Codec     string `json:"codec"`
}

// Settings are the analysis settings that shaped a result.
type Settings struct {
	SampleFPS float64 `json:"sample_fps"` // 0 = every frame
	Models    string  `json:"models"`     // model set name
	// SmoothS is the width in seconds of the centred window over which each
	// face track's emotions were smoothed; 0 = raw per-frame scores (also
	// every result made before smoothing existed, and every still image).
	SmoothS float64 `json:"smooth_s"`
	// Detect is how faces were found; "" (every result made before the
	// setting existed) means DetectEveryFrame.
	Detect DetectMode `json:"detect,omitempty"`
}

// DetectMode says on which frames the face detector runs.
type DetectMode string

// Detection modes.
const (
	// DetectEveryFrame runs the detector and every model on every analysed
	// frame: the exact mode, and the default.
	DetectEveryFrame DetectMode = "every-frame"
	// DetectTrack runs the detector at least once a second and follows
	// faces between detections by matching their pictures; a face whose
	// picture has barely changed keeps its last description. Faster, at a
	// measured cost in agreement (README, How the engine works).
	DetectTrack DetectMode = "track"
)

// Valid reports whether m is a known mode; "" counts as DetectEveryFrame.
func (m DetectMode) Valid() bool {
	return m == "" || m == DetectEveryFrame || m == DetectTrack
}

// DefaultSmoothS is the smoothing window of new analyses: half a second
// spans a few sampled frames at the default 5 fps, enough to damp one-frame
// flickers of the expression net, yet shorter than most facial
// expressions (0.5 to 4 s), so real changes survive.
const DefaultSmoothS = 0.5

// MaxSmoothS is the widest smoothing window accepted: a wider one would
// blend separate expressions into one.
const MaxSmoothS = 5.0

// ModelRef names one model used, with the sha256 of its file.
type ModelRef struct {
	Role   string `json:"role"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Summary aggregates every face observation of a recording. A face found
// but not described (see Face.Flags) counts in FramesWithFace, FaceRatio
// and Quality, never in the emotion, valence, age and gender figures.
type Summary struct {
	Frames         int            `json:"frames"`
	FramesWithFace int            `json:"frames_with_face"` // frames with a face found, described or not
	FaceRatio      Num            `json:"face_ratio"`
	Emotions       EmotionSummary `json:"emotions"`
	Dominant       Emotions       `json:"dominant"`
	ValenceMean    *Num           `json:"valence_mean"`
	Age            *AgeSummary    `json:"age"`
	Gender         *GenderSummary `json:"gender"`
	// Quality is null in results made before it was measured.
	Quality *RecordingQuality `json:"quality"`
	WallS   Num               `json:"wall_s"`
}

// RecordingQuality says how far a recording's figures can be trusted, as
// FaceReader and Rekognition report it beside their estimates. Figures
// over faces are null when no face was measured; TurnedAway is also null
// when the model set finds no landmarks.
type RecordingQuality struct {
	// DescribedRatio is the share of frames with at least one described face.
	DescribedRatio Num `json:"described_ratio"`
	// Faces counts every face found, described or flagged.
	Faces int `json:"faces"`
	// FaceSizePx is the median of the faces' shorter side, in frame pixels.
	FaceSizePx *Num `json:"face_size_px"`
	// Brightness is the mean of the faces' mean luma (0..255).
	Brightness *Num `json:"brightness"`
	// Sharpness is the mean of the faces' sharpness (see FaceQuality).
	Sharpness *Num `json:"sharpness"`
	// TurnedAway is the share of faces with landmarks whose head is turned
	// too far sideways for a frontal reading.
	TurnedAway *Num `json:"turned_away"`
	// Flagged is the share of faces found but not described.
	Flagged *Num `json:"flagged"`
	// Flags are plain-word codes of what makes the figures less reliable
	// (few_faces, small_faces, dark, blurry, turned_away); [] when none.
	Flags []string `json:"flags"`
}

// EmotionSummary holds the mean and the peak of each emotion over faces.
type EmotionSummary struct {
	Mean Emotions `json:"mean"`
	Peak Emotions `json:"peak"`
}

// AgeSummary is the distribution of per-face age estimates, in years: the
// median, and P10..P90 as the interval that holds the middle 80 % of the
// per-frame estimates (how much the model's reading wanders, not a
// confidence interval for the person's age). N counts the faces that
// contributed.
type AgeSummary struct {
	Median Num `json:"median"`
	P10    Num `json:"p10"`
	P90    Num `json:"p90"`
	N      int `json:"n"`
}

// GenderSummary is the mean of the per-face probabilities: Confidence is
// the larger side's mean probability, and Label is that side, or
// "uncertain" when Confidence is too low to name one. N counts the faces
// that contributed.
type GenderSummary struct {
	Label      string `json:"label"` // woman | man | uncertain
	Confidence Num    `json:"confidence"`
	N          int    `json:"n"`
}

// Gender summary labels.
const (
	GenderWoman     = "woman"
	GenderMan       = "man"
	GenderUncertain = "uncertain"
)

// Frame is one sampled frame: its time and every face found in it.
type Frame struct {
	T     Num    `json:"t"`
	Faces []Face `json:"faces"`
	// Stimulus and StimulusT place the frame on what was on screen in a
	// stimulus study (Align over the page's viewing log): the stimulus's
	// id (or BaselineID) and the time in it. Absent for frames during a
	// stall, a pause, lost focus or between stimuli, and outside studies.
	Stimulus  string `json:"stimulus,omitempty"`
	StimulusT *Num   `json:"stimulus_t,omitempty"`
}

// Face is one face in one frame. Box is x, y, w, h normalised to 0..1 of
// the frame. A face too small or too dark to judge is found but not
// described: Flags says why, and Emotions, Dominant, Valence, Age and
// Gender are null, so that no reader can mistake it for a neutral face.
// Age and Gender are also null when the model set has no such model.
// Quality is null in results made before it was measured.
type Face struct {
	Track    int          `json:"track"`
	Box      [4]Num       `json:"box"`
	Score    Num          `json:"score"`
	Emotions *Emotions    `json:"emotions"`
	Dominant *string      `json:"dominant"`
	Valence  *Num         `json:"valence"`
	Age      *Num         `json:"age"`
	Gender   *GenderProb  `json:"gender"`
	Quality  *FaceQuality `json:"quality"`
	Flags    []string     `json:"flags"` // why the face was not described; [] when it was
}

// Described reports whether the models described the face: only described
// faces count in emotion, valence, age and gender figures.
func (f Face) Described() bool { return f.Emotions != nil }

// FaceQuality is what the pixels of one face allow: its size, light and
// sharpness, and how far the head is turned when landmarks are known.
type FaceQuality struct {
	// SizePx is the shorter side of the box (clipped to the frame), in
	// pixels of the analysed frame.
	SizePx Num `json:"size_px"`
	// Brightness is the mean Rec.601 luma of the box, 0..255.
	Brightness Num `json:"brightness"`
	// Sharpness is the variance of the 3x3 Laplacian of the box's luma
	// (0..255) resampled to 64x64, so that it does not depend on the
	// face's size in pixels; a flat box gives 0.
	Sharpness Num `json:"sharpness"`
	// Yaw is the nose's offset from the eyes' midpoint along the eye line,
	// divided by the eye distance: 0 frontal, positive when the nose points
	// to the right of the picture. Null without landmarks.
	Yaw *Num `json:"yaw"`
	// Roll is the angle of the eye line in degrees, positive when the head
	// leans clockwise in the picture. Null without landmarks.
	Roll *Num `json:"roll"`
}

// GenderProb is the estimated probability of each gender label.
type GenderProb struct {
	Woman Num `json:"woman"`
	Man   Num `json:"man"`
}

// Num is a float64 that marshals with at most 4 decimals: the figures are
// model estimates, and more digits only make results and exports larger.
type Num float64

// MarshalJSON writes n rounded to 4 decimals (NaN and Inf, which JSON cannot
// hold, are written as null).
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(FormatFloat(f, 4)), nil
}

// NumPtr returns a pointer to Num(f).
func NumPtr(f float64) *Num { n := Num(f); return &n }

// FormatFloat formats f with at most prec decimals and no trailing zeros.
func FormatFloat(f float64, prec int) string {
	p := math.Pow(10, float64(prec))
	r := math.Round(f*p) / p
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
