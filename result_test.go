package facet

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValenceAndDominant(t *testing.T) {
	cases := []struct {
		name    string
		e       Emotions
		valence float64
		dom     string
	}{
		{"happy", Emotions{Happy: 0.9, Neutral: 0.1}, 0.9, "happy"},
		{"sad beats angry", Emotions{Angry: 0.2, Sad: 0.5, Happy: 0.1, Neutral: 0.2}, -0.4, "sad"},
		{"surprise is not negative", Emotions{Surprise: 0.8, Happy: 0.1, Neutral: 0.1}, 0.1, "surprise"},
		{"all negative", Emotions{Disgust: 1}, -1, "disgust"},
		{"neutral", Emotions{Neutral: 1}, 0, "neutral"},
		{"tie takes first", Emotions{Fear: 0.5, Happy: 0.5}, 0, "fear"},
	}
	for _, c := range cases {
		if got := c.e.Valence(); math.Abs(got-c.valence) > 1e-12 {
			t.Errorf("%s: valence %v, want %v", c.name, got, c.valence)
		}
		if got := EmotionLabels[c.e.Dominant()]; got != c.dom {
			t.Errorf("%s: dominant %s, want %s", c.name, got, c.dom)
		}
	}
}

func TestEmotionsJSON(t *testing.T) {
	e := Emotions{0.1, 0, 0.000049, 0.66666, 0.2, 0, 0.03333}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"angry":0.1,"disgust":0,"fear":0,"happy":0.6667,"sad":0.2,"surprise":0,"neutral":0.0333}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("marshal (-want +got):\n%s", diff)
	}
	var back Emotions
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[Happy] != 0.6667 {
		t.Errorf("round trip: %v", back)
	}
	if err := json.Unmarshal([]byte(`{"joy":1}`), &back); err == nil {
		t.Error("an unknown label was accepted")
	}
}

func TestNumJSON(t *testing.T) {
	v := struct {
		A Num  `json:"a"`
		B Num  `json:"b"`
		C *Num `json:"c"`
		D Num  `json:"d"`
	}{A: 1.23456789, B: Num(math.NaN()), D: -0.00001}
	b, _ := json.Marshal(v)
	if diff := cmp.Diff(`{"a":1.2346,"b":null,"c":null,"d":0}`, string(b)); diff != "" {
		t.Error(diff)
	}
}

func TestErrors(t *testing.T) {
	cause := json.Unmarshal([]byte("{"), new(any))
	err := Errorf(EUnreadable, "decode: %w", cause)
	if ErrorCode(err) != EUnreadable || !IsBadVideo(err) {
		t.Errorf("code %q", ErrorCode(err))
	}
	if err.Unwrap() != cause {
		t.Error("cause not wrapped")
	}
	if ErrorCode(nil) != "" || ErrorCode(cause) != EInternal || IsBadVideo(cause) {
		t.Error("plain errors")
	}
	if ErrorMessage(cause) != "internal error" {
		t.Error("an internal error's text leaked")
	}
}

func TestFaceJSON(t *testing.T) {
	e := Emotions{Happy: 0.75, Neutral: 0.25}
	dom := "happy"
	described := Face{Track: 1, Box: [4]Num{0.1, 0.2, 0.3, 0.4}, Score: 0.99, Emotions: &e, Dominant: &dom, Valence: NumPtr(0.75),
		Age: NumPtr(31), Gender: &GenderProb{Woman: 0.2, Man: 0.8},
		Quality: &FaceQuality{SizePx: 142, Brightness: 121.34567, Sharpness: 310.2, Yaw: NumPtr(-0.04), Roll: NumPtr(2.5)}, Flags: []string{}}
	flagged := Face{Track: 2, Box: [4]Num{0.8, 0.1, 0.03, 0.04}, Score: 0.8,
		Quality: &FaceQuality{SizePx: 19, Brightness: 35}, Flags: []string{"too_small", "too_dark"}}
	cases := []struct {
		name string
		f    Face
		want string
	}{
		{"described", described, `{"track":1,"box":[0.1,0.2,0.3,0.4],"score":0.99,` +
			`"emotions":{"angry":0,"disgust":0,"fear":0,"happy":0.75,"sad":0,"surprise":0,"neutral":0.25},"dominant":"happy","valence":0.75,` +
			`"age":31,"gender":{"woman":0.2,"man":0.8},"quality":{"size_px":142,"brightness":121.3457,"sharpness":310.2,"yaw":-0.04,"roll":2.5},"flags":[]}`},
		{"flagged", flagged, `{"track":2,"box":[0.8,0.1,0.03,0.04],"score":0.8,"emotions":null,"dominant":null,"valence":null,` +
			`"age":null,"gender":null,"quality":{"size_px":19,"brightness":35,"sharpness":0,"yaw":null,"roll":null},"flags":["too_small","too_dark"]}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, string(b)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
		var back Face
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Described() != c.f.Described() {
			t.Errorf("%s: described %v after a round trip", c.name, back.Described())
		}
	}
	// A face stored before quality was measured reads as described.
	var old Face
	if err := json.Unmarshal([]byte(`{"track":1,"box":[0,0,1,1],"score":1,"emotions":{"happy":1},"dominant":"happy","valence":1,"age":null,"gender":null}`), &old); err != nil {
		t.Fatal(err)
	}
	if !old.Described() || old.Quality != nil || *old.Dominant != "happy" {
		t.Errorf("older face: %+v", old)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := Summary{Frames: 10, FramesWithFace: 9, FaceRatio: 0.9, ValenceMean: NumPtr(0.1),
		Age:    &AgeSummary{Median: 34, P10: 29, P90: 41, N: 8},
		Gender: &GenderSummary{Label: GenderUncertain, Confidence: 0.62, N: 8},
		Quality: &RecordingQuality{DescribedRatio: 0.8, Faces: 9, FaceSizePx: NumPtr(142), Brightness: NumPtr(121.3),
			Sharpness: NumPtr(310.2), Flagged: NumPtr(1.0 / 9), Flags: []string{}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{
		"age":     map[string]any{"median": 34.0, "p10": 29.0, "p90": 41.0, "n": 8.0},
		"gender":  map[string]any{"label": "uncertain", "confidence": 0.62, "n": 8.0},
		"quality": map[string]any{"described_ratio": 0.8, "faces": 9.0, "face_size_px": 142.0, "brightness": 121.3, "sharpness": 310.2, "turned_away": nil, "flagged": 0.1111, "flags": []any{}},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil || back.Quality == nil || back.Gender.N != 8 || back.Age.N != 8 {
		t.Errorf("round trip: %+v %v", back, err)
	}
}
