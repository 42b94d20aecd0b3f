package eval

import (
	"testing"

	"github.com/humaninsight/facet"
)

func TestParseEmotion(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"happy", facet.Happy, true},
		{" Happy ", facet.Happy, true},
		{"HAPPINESS", facet.Happy, true},
		{"fearful", facet.Fear, true},
		{"disgusted", facet.Disgust, true},
		{"surprised", facet.Surprise, true},
		{"anger", facet.Angry, true},
		{"sadness", facet.Sad, true},
		{"neutral", facet.Neutral, true},
		{"contempt", NoEmotion, false},
		{"Happyish", NoEmotion, false},
		{"", NoEmotion, false},
	}
	for _, c := range cases {
		got, ok := ParseEmotion(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseEmotion(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseGender(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"male", Man, true},
		{"M", Man, true},
		{" Man ", Man, true},
		{"female", Woman, true},
		{"F", Woman, true},
		{"w", Woman, true},
		{"Woman", Woman, true},
		{"uncertain", "", false}, // never a truth label
		{"x", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := ParseGender(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseGender(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseAge(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"45", 45, true},
		{" 7.5 ", 7.5, true},
		{"0", 0, true},
		{"20-29", 24.5, true}, // midpoint of the labels, not of [20, 30)
		{"10 - 15", 12.5, true},
		{"60-60", 60, true},
		{"130", 130, true},
		{"131", 0, false},
		{"29-20", 0, false},
		{"60+", 0, false},
		{"-5", 0, false},
		{"1e2", 0, false},
		{"inf", 0, false},
		{"NaN", 0, false},
		{"forty", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseAge(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
