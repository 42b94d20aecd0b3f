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
	Frames   []Frame    `json:"frames"`
}

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
}

// ModelRef names one model used, with the sha256 of its file.
type ModelRef struct {
	Role   string `json:"role"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Summary aggregates every face observation of a recording.
type Summary struct {
	Frames         int            `json:"frames"`
	FramesWithFace int            `json:"frames_with_face"`
	FaceRatio      Num            `json:"face_ratio"`
	Emotions       EmotionSummary `json:"emotions"`
	Dominant       Emotions       `json:"dominant"`
	ValenceMean    *Num           `json:"valence_mean"`
	Age            *AgeSummary    `json:"age"`
	Gender         *GenderSummary `json:"gender"`
	WallS          Num            `json:"wall_s"`
}

// EmotionSummary holds the mean and the peak of each emotion over faces.
type EmotionSummary struct {
	Mean Emotions `json:"mean"`
	Peak Emotions `json:"peak"`
}

// AgeSummary is the distribution of per-face age estimates, in years.
type AgeSummary struct {
	Median Num `json:"median"`
	P10    Num `json:"p10"`
	P90    Num `json:"p90"`
}

// GenderSummary is the majority estimate and its mean probability.
type GenderSummary struct {
	Label      string `json:"label"` // woman | man
	Confidence Num    `json:"confidence"`
}

// Frame is one sampled frame: its time and every face found in it.
type Frame struct {
	T     Num    `json:"t"`
	Faces []Face `json:"faces"`
}

// Face is one face in one frame. Box is x, y, w, h normalised to 0..1 of
// the frame. Age and Gender are null when the model set has no such model.
type Face struct {
	Track    int         `json:"track"`
	Box      [4]Num      `json:"box"`
	Score    Num         `json:"score"`
	Emotions Emotions    `json:"emotions"`
	Dominant string      `json:"dominant"`
	Valence  Num         `json:"valence"`
	Age      *Num        `json:"age"`
	Gender   *GenderProb `json:"gender"`
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
