package facet

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckText applies the one rule for free text the API stores (names,
// company, contact, consent method...): valid UTF-8, no control or
// format characters (NUL, line breaks in a name, the bidirectional
// overrides that make "exe.txt" read as "txt.exe"), and a length counted
// in characters, not bytes, so 60 emoji fit where 200 characters do. An
// empty value is refused when required. It returns an EInvalid error that
// names field.
func CheckText(field, s string, max int, required bool) error {
	switch {
	case !utf8.ValidString(s):
		return Errorf(EInvalid, "%s: not valid UTF-8", field)
	case required && strings.TrimSpace(s) == "":
		return Errorf(EInvalid, "%s: required", field)
	case utf8.RuneCountInString(s) > max:
		return Errorf(EInvalid, "%s: at most %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return Errorf(EInvalid, "%s: control or formatting character U+%04X not allowed", field, r)
		}
	}
	return nil
}
