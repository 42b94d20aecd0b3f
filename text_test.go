package facet

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	cases := []struct {
		s    string
		ok   bool
		note string
	}{
		{"Trailer test", true, "plain"},
		{"Café ☕ München", true, "accents and symbols"},
		{strings.Repeat("😀", 60), true, "60 emoji are 60 characters (240 bytes)"},
		{strings.Repeat("é", 200), true, "200 characters of 2 bytes"},
		{strings.Repeat("é", 201), false, "201 characters"},
		{"", false, "empty, required"},
		{"   ", false, "blank, required"},
		{"bad\xff\xfe", false, "invalid UTF-8"},
		{"nul\x00name", false, "NUL"},
		{"two\nlines", false, "line break"},
		{"\u202Etxt.exe", false, "right-to-left override"},
		{"zero\u200Bwidth", false, "zero-width space (format)"},
		{"del\x7f", false, "DEL"},
		{"c1\u0085", false, "C1 control"},
	}
	for _, c := range cases {
		err := CheckText("name", c.s, 200, true)
		if (err == nil) != c.ok {
			t.Errorf("%s (%q): err %v, want ok=%v", c.note, c.s, err, c.ok)
		}
		if err != nil && (ErrorCode(err) != EInvalid || !strings.HasPrefix(err.Error(), "name: ")) {
			t.Errorf("%s: error %q should be invalid and name the field", c.note, err)
		}
	}
	if err := CheckText("contact.phone", "", 40, false); err != nil {
		t.Errorf("optional empty: %v", err)
	}
}
