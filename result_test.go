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
