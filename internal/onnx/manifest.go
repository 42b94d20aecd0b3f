package onnx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Roles a model can play in a set.
const (
	RoleDetector = "detector"
	RoleEmotion  = "emotion"
	RoleAge      = "age"
	RoleGender   = "gender"
	// RoleAgeGender is one model that estimates both (face-api's net).
	RoleAgeGender = "age-gender"
	// RoleLandmarks finds facial landmarks in a face crop, for aligned
	// crops and head pose; a detector that gives landmarks needs none.
	RoleLandmarks = "landmarks"
)

// Manifest describes one model set: data, not code branches. Adding a model
// with a known pre- and post-processing is a manifest edit.
type Manifest struct {
	Name   string `json:"name"`
	Models []Spec `json:"models"`

	path string // where it was read from; files resolve against its folder
}

// Spec is everything needed to run one model.
type Spec struct {
	Role    string    `json:"role"`
	Name    string    `json:"name"`
	File    string    `json:"file"` // relative to the manifest; ${FACET_SHARED_DIR} expands
	SHA256  string    `json:"sha256"`
	Source  string    `json:"source,omitempty"`
	License string    `json:"license,omitempty"`
	Input   InputSpec `json:"input"`
	Crop    CropSpec  `json:"crop"`
	Outputs []string  `json:"outputs"`
	Labels  []string  `json:"labels,omitempty"`
	Post    PostSpec  `json:"post"`
	// Weight is an emotion model's weight in the set's ensemble (0 means
	// 1): the ensemble averages the models' log-probabilities.
	Weight float64 `json:"weight,omitempty"`
}

// InputSpec says how pixels become the input tensor: for a channel value p
// in 0..255, x = (p*scale - mean[c]) / std[c].
type InputSpec struct {
	Name   string    `json:"name"`
	Shape  []int64   `json:"shape"`  // -1 on the batch axis: dynamic batch
	Layout string    `json:"layout"` // NCHW | NHWC
	Color  string    `json:"color"`  // RGB | BGR | GRAY (0.299R+0.587G+0.114B)
	Scale  float32   `json:"scale"`
	Mean   []float32 `json:"mean"` // one per channel
	Std    []float32 `json:"std"`
	// Resize is "" (OpenCV's bilinear, pixel centres aligned) or "legacy"
	// (TensorFlow 1's resize_bilinear: no half-pixel shift), whichever
	// the model's reference code uses.
	Resize string `json:"resize,omitempty"`
}

// CropSpec says which part of the frame the model sees. Kind "frame" is the
// whole frame stretched to the input size (detectors); "face" is a region
// around the detector box: its sides times Scale (made square first when
// Square), centred on the box or anchored at its top-left corner, clamped
// to the frame.
//
// Align rotates the crop so that the eyes are level when the detection has
// landmarks (the way aligned training sets such as UTKFace were cut); the
// crop is then centred on the box and keeps its size, and parts outside the
// frame repeat its edge instead of shifting the crop.
type CropSpec struct {
	Kind   string  `json:"kind"` // frame | face
	Scale  float64 `json:"scale,omitempty"`
	Square bool    `json:"square,omitempty"`
	Anchor string  `json:"anchor,omitempty"` // center (default) | top-left
	Align  bool    `json:"align,omitempty"`
	Pad    string  `json:"pad,omitempty"` // "" | zero (face-api: the box padded black to a square)
}

// PostSpec says how outputs become results. Kinds:
//   - ultraface: outputs scores [1,N,2] and boxes [1,N,4] (x1,y1,x2,y2 in 0..1);
//     keep score > ScoreThreshold, then hard NMS at IoUThreshold.
//   - probs: the single output already holds probabilities, one per label.
//   - softmax: the single output holds logits; softmax gives probabilities.
//   - age-gender: two outputs, age [1] in years and gender [2]
//     probabilities (woman, man).
//   - landmarks68: one output of 136 values, 68 points (x, y) in 0..1 of
//     the crop (iBUG 300-W order), reduced to the five points detections
//     carry.
//   - ssrnet: the nine SSR-Net outputs (3 stages); value = stagewise
//     regression times Scale (101 for age in years, 1 for gender). For
//     gender, Threshold is the value read as 0.5 ("man" above it).
type PostSpec struct {
	Kind           string  `json:"kind"`
	ScoreThreshold float64 `json:"score_threshold,omitempty"`
	IoUThreshold   float64 `json:"iou_threshold,omitempty"`
	Scale          float64 `json:"scale,omitempty"`
	Threshold      float64 `json:"threshold,omitempty"`
}

// ReadManifest reads and validates the manifest at path. Unknown fields are
// an error, so a typo cannot silently change how a model is fed.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: read manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: manifest %s: %w", path, err)
	}
	// Files resolve against the manifest's folder whatever the working
	// directory is later.
	if m.path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("onnx: manifest %s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest; files then resolve
// against the working directory.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest for what would otherwise fail at run time.
func (m *Manifest) Validate() error {
	if m.Name == "" {
		return fmt.Errorf("name is empty")
	}
	seen := map[string]bool{}
	for i, s := range m.Models {
		if err := s.validate(); err != nil {
			return fmt.Errorf("model %d (%s): %w", i, s.Name, err)
		}
		// Emotion models may be several (an ensemble); every other role,
		// counting age-gender as both age and gender, is filled once.
		roles := []string{s.Role}
		if s.Role == RoleAgeGender {
			roles = []string{RoleAge, RoleGender}
		}
		for _, r := range roles {
			if seen[r] && r != RoleEmotion {
				return fmt.Errorf("model %d (%s): a second %s model", i, s.Name, r)
			}
			seen[r] = true
		}
	}
	if !seen[RoleDetector] || !seen[RoleEmotion] {
		return fmt.Errorf("a set needs a detector and an emotion model")
	}
	return nil
}

func (s Spec) validate() error {
	if !slices.Contains([]string{RoleDetector, RoleEmotion, RoleAge, RoleGender, RoleAgeGender, RoleLandmarks}, s.Role) {
		return fmt.Errorf("unknown role %q", s.Role)
	}
	if s.Name == "" || s.File == "" {
		return fmt.Errorf("name and file are required")
	}
	if len(s.SHA256) != 64 {
		return fmt.Errorf("sha256 must be 64 hex digits")
	}
	if err := s.Input.validate(); err != nil {
		return err
	}
	if err := s.Crop.validate(); err != nil {
		return err
	}
	return s.validatePost()
}

// validate checks an input's shape, colour order, layout and
// normalisation against each other.
func (in InputSpec) validate() error {
	if in.Name == "" || len(in.Shape) != 4 {
		return fmt.Errorf("input needs a name and a 4-d shape")
	}
	for _, d := range in.Shape[1:] {
		if d <= 0 {
			return fmt.Errorf("input shape %v: only the batch axis may be dynamic", in.Shape)
		}
	}
	channels := 3
	switch in.Color {
	case "RGB", "BGR":
	case "GRAY":
		channels = 1
	default:
		return fmt.Errorf("input color %q: want RGB, BGR or GRAY", in.Color)
	}
	switch in.Layout {
	case "NCHW":
		if in.Shape[1] != int64(channels) {
			return fmt.Errorf("input shape %v does not hold %d channels", in.Shape, channels)
		}
	case "NHWC":
		if in.Shape[3] != int64(channels) {
			return fmt.Errorf("input shape %v does not hold %d channels", in.Shape, channels)
		}
	default:
		return fmt.Errorf("input layout %q: want NCHW or NHWC", in.Layout)
	}
	if in.Resize != "" && in.Resize != "legacy" {
		return fmt.Errorf("input resize %q: want legacy or nothing", in.Resize)
	}
	if len(in.Mean) != channels || len(in.Std) != channels || in.Scale == 0 {
		return fmt.Errorf("input needs scale and %d mean and std values", channels)
	}
	for _, v := range in.Std {
		if v == 0 {
			return fmt.Errorf("input std must not be 0")
		}
	}
	return nil
}

// validate checks a crop rule's fields.
func (c CropSpec) validate() error {
	switch c.Kind {
	case "frame":
	case "face":
		if c.Scale <= 0 {
			return fmt.Errorf("face crop needs a scale > 0")
		}
		if c.Anchor != "" && c.Anchor != "center" && c.Anchor != "top-left" {
			return fmt.Errorf("crop anchor %q: want center or top-left", c.Anchor)
		}
		if c.Pad != "" && (c.Pad != "zero" || c.Anchor == "top-left") {
			return fmt.Errorf("crop pad %q: want zero, on a centred crop", c.Pad)
		}
	default:
		return fmt.Errorf("crop kind %q: want frame or face", c.Kind)
	}
	return nil
}

// validatePost checks that the post-processing fits the outputs, the role
// and the labels.
func (s Spec) validatePost() error {
	want := map[string]int{"ultraface": 2, "probs": 1, "softmax": 1, "ssrnet": 9, "age-gender": 2, "landmarks68": 1}
	n, ok := want[s.Post.Kind]
	if !ok {
		return fmt.Errorf("post kind %q: want ultraface, probs, softmax, ssrnet, age-gender or landmarks68", s.Post.Kind)
	}
	if s.Weight < 0 || (s.Weight > 0 && s.Role != RoleEmotion) {
		return fmt.Errorf("weight %v: only emotion models have a weight, and it is positive", s.Weight)
	}
	if len(s.Outputs) != n {
		return fmt.Errorf("post %s takes %d outputs, got %d", s.Post.Kind, n, len(s.Outputs))
	}
	roleOK := map[string][]string{
		RoleDetector:  {"ultraface"},
		RoleEmotion:   {"probs", "softmax"},
		RoleAge:       {"ssrnet"},
		RoleGender:    {"probs", "softmax", "ssrnet"},
		RoleAgeGender: {"age-gender"},
		RoleLandmarks: {"landmarks68"},
	}
	if !slices.Contains(roleOK[s.Role], s.Post.Kind) {
		return fmt.Errorf("post %s cannot serve role %s", s.Post.Kind, s.Role)
	}
	if (s.Role == RoleDetector) != (s.Crop.Kind == "frame") {
		return fmt.Errorf("a detector sees the frame, the others a face crop")
	}
	switch {
	case s.Role == RoleEmotion && len(s.Labels) != 7:
		return fmt.Errorf("an emotion model needs the 7 labels")
	case s.Role == RoleGender && s.Post.Kind != "ssrnet" && !slices.Equal(s.Labels, []string{"woman", "man"}):
		return fmt.Errorf(`a gender classifier needs labels ["woman","man"]`)
	}
	return nil
}

// Spec returns the (first) model of role, if the set has one.
func (m *Manifest) Spec(role string) (Spec, bool) {
	for _, s := range m.Models {
		if s.Role == role {
			return s, true
		}
	}
	return Spec{}, false
}

// FilePath returns where s's file is: ${FACET_SHARED_DIR} expands to that
// variable, or to ../shared beside the project (the manifest's parent's
// parent); a relative path resolves against the manifest's folder.
func (m *Manifest) FilePath(s Spec) string {
	dir := "."
	if m.path != "" {
		dir = filepath.Dir(m.path)
	}
	p := os.Expand(s.File, func(k string) string {
		if k == "FACET_SHARED_DIR" {
			if v := os.Getenv(k); v != "" {
				return v
			}
			return filepath.Join(dir, "..", "..", "shared")
		}
		return os.Getenv(k)
	})
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p
}

// Verify checks that every file exists and matches its sha256, so a
// corrupt download or a swapped file never runs.
func (m *Manifest) Verify() error {
	for _, s := range m.Models {
		if err := VerifyFile(m.FilePath(s), s.SHA256); err != nil {
			return fmt.Errorf("onnx: model %s: %w", s.Name, err)
		}
	}
	return nil
}

// VerifyFile checks path's sha256 against want (hex).
func VerifyFile(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("checksum mismatch for %s: got sha256 %s, want %s", filepath.Base(path), got, want)
	}
	return nil
}
