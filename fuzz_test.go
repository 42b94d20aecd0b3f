package facet

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// idShape is ValidID written out by hand, as the oracle of FuzzValidID: a
// prefix of 2 to 4 lowercase ASCII letters, "_", 24 lowercase hex digits.
func idShape(s string) bool {
	prefix, hexPart, ok := strings.Cut(s, "_")
	if !ok || len(prefix) < 2 || len(prefix) > 4 || len(hexPart) != 24 {
		return false
	}
	for _, c := range []byte(prefix) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	for _, c := range []byte(hexPart) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FuzzValidID: ValidID accepts exactly the ids the service makes, and only
// strings that every path an id travels keeps as they are: JSON (API
// bodies, documents, messages), URL paths and queries, HTML, blob names
// (project/recording, split at the one "/"), case folding and trimming.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{
		"rec_0123456789abcdef01234567", "pr_0123456789abcdef01234567", "an_0123456789abcdef01234567", "cl_ffffffffffffffffffffffff",
		"rec_0123456789abcdef01234567\n", " rec_0123456789abcdef01234567", "REC_0123456789ABCDEF01234567", "rec_0123456789abcdef0123456",
		"recor_0123456789abcdef01234567", "r_0123456789abcdef01234567", "rec_0123456789abcdef0123456g", "rec_%23abc", "..%2F..",
		"rec_0123456789abcdef01234567/x", "rec_０123456789abcdef01234567", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := ValidID(s)
		if ok != idShape(s) {
			t.Fatalf("ValidID(%q) = %v, the id shape says %v", s, ok, !ok)
		}
		if !ok {
			return
		}
		j, _ := json.Marshal(s)
		var back string
		if err := json.Unmarshal(j, &back); err != nil || back != s || string(j) != `"`+s+`"` {
			t.Fatalf("ValidID(%q) but JSON gives %s, back %q, %v", s, j, back, err)
		}
		u, err := url.PathUnescape(url.PathEscape(s))
		if err != nil || u != s || url.PathEscape(s) != s || url.QueryEscape(s) != s {
			t.Fatalf("ValidID(%q) but a URL changes it: %q, %v", s, url.PathEscape(s), err)
		}
		blobProject, blobRec, _ := strings.Cut(s+"/"+s, "/")
		kept := html.EscapeString(s) == s && strings.ToLower(s) == s && strings.TrimSpace(s) == s &&
			path.Clean("/"+s) == "/"+s && blobProject == s && blobRec == s && utf8.RuneCountInString(s) == len(s)
		if !kept {
			t.Fatalf("ValidID(%q) but HTML, case, spaces, a path or a blob name change it", s)
		}
	})
}

// checkTextMessage is what CheckText may say after "<field>: ": a fixed
// text per rule, never the value itself.
var checkTextMessage = regexp.MustCompile(`^(not valid UTF-8|required|at most (\d+) characters|control or formatting character U\+([0-9A-F]{4,6}) not allowed)$`)

// textAllowed is CheckText's rule written out as the oracle: valid UTF-8,
// not blank when required, at most max characters, no control (Cc) or
// format (Cf) character, and no line or paragraph separator (U+2028,
// U+2029: categories Zl and Zp), which break a line as a newline does.
func textAllowed(s string, max int, required bool) bool {
	if !utf8.ValidString(s) || required && strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
	})
}

// FuzzCheckText: CheckText accepts exactly the text its rule allows; a
// refusal is EInvalid, names the field, and says which rule in fixed words
// (the value is never echoed), and the rule it names is one the text
// breaks.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{
		"Trailer test", "Café ☕ München", strings.Repeat("😀", 60), "", "   ", "bad\xff\xfe", "nul\x00name", "two\nlines",
		"\u202Etxt.exe", "zero\u200Bwidth", "del\x7f", "c1\u0085", "line\u2028sep", "para\u2029sep", "\U000E0001tag", "\uFEFFbom", "\t",
	} {
		f.Add("name", s, 200, true)
	}
	f.Add("contact.phone", "", 40, false)
	f.Add("demographics.size", strings.Repeat("é", 41), 40, false)
	f.Fuzz(func(t *testing.T, field, s string, max int, required bool) {
		max = int(uint(max) % 300)
		err := CheckText(field, s, max, required)
		if allowed := textAllowed(s, max, required); (err == nil) != allowed {
			t.Fatalf("CheckText(%q, max %d, required %v) = %v, the rule says allowed=%v", s, max, required, err, allowed)
		}
		if err == nil {
			return
		}
		msg, ok := strings.CutPrefix(err.Error(), field+": ")
		if ErrorCode(err) != EInvalid || !ok {
			t.Fatalf("CheckText(%q) = %q (%s), want invalid and the field first", s, err, ErrorCode(err))
		}
		m := checkTextMessage.FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("CheckText(%q) says %q: not one of the rule's messages", s, msg)
		}
		var broken bool
		switch {
		case msg == "not valid UTF-8":
			broken = !utf8.ValidString(s)
		case msg == "required":
			broken = required && strings.TrimSpace(s) == ""
		case m[2] != "":
			broken = m[2] == fmt.Sprint(max) && utf8.RuneCountInString(s) > max
		default:
			var r rune
			fmt.Sscanf(m[3], "%X", &r)
			broken = strings.ContainsRune(s, r) && !textAllowed(string(r), 1, false)
		}
		if !broken {
			t.Fatalf("CheckText(%q, max %d, required %v) says %q, which the text does not break", s, max, required, msg)
		}
	})
}
