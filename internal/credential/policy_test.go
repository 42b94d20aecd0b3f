package credential

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// longBreached returns the entries of the shipped breached list that are
// long enough to pass the length rule, so the list check is what refuses
// them.
func longBreached(t *testing.T) []string {
	t.Helper()
	var long []string
	for _, pw := range frequency.FrequencyLists["passwords"] {
		if utf8.RuneCountInString(pw) >= minPasswordRunes {
			long = append(long, pw)
		}
	}
	if len(long) < 100 {
		t.Fatalf("only %d breached passwords of %d+ characters; has the list changed?", len(long), minPasswordRunes)
	}
	return long
}

func TestCheckPassword(t *testing.T) {
	context := []string{"jane.doe", "Acme Widgets", "ibm", ""}
	tests := []struct {
		name, pw string
		want     string // part of the reason, "" when accepted
	}{
		{"passphrase", "correct horse battery staple", ""},
		{"exactly 12", "vq8ZtY#m2pLx", ""},
		{"12 runes, more bytes", "ÄÖÜäöüßéèêëï", ""},
		{"256 bytes", strings.Repeat("abcdefghijklmnoq", 16), ""},
		{"short context word allowed", "ibm keyboards are loud", ""},
		{"listed base with a letter after", "leavemealonez", ""},
		{"11 characters", "vq8ZtY#m2pL", "at least 12 characters"},
		{"11 runes, 22 bytes", "ÄÖÜäöüßéèêë", "at least 12 characters"},
		{"short and breached", "password", "at least 12 characters"},
		{"257 bytes", strings.Repeat("abcdefghijklmnoq", 16) + "x", "at most 256 bytes"},
		{"invalid UTF-8", "abcdefghijk\xff", "not valid UTF-8"},
		{"service name", "MyFacetPassword", `"facet"`},
		{"e-mail local part", "hello jane.doe 2024", `"jane.doe"`},
		{"company, other case", "i work at ACME WIDGETS", `"acme widgets"`},
		{"repeated letter", "aaaaaaaaaaaaaaaa", "single character repeated"},
		{"repeated symbol", "!!!!!!!!!!!!", "single character repeated"},
		{"letters up", "abcdefghijklmnop", "simple sequence"},
		{"letters down", "ZYXWVUTSRQPONM", "simple sequence"},
		{"digits wrapping", "123456789012", "simple sequence"},
		{"digits down wrapping", "321098765432", "simple sequence"},
		{"breached", "leavemealone", "found in data breaches"},
		{"breached, other case", "LeaveMeAlone", "found in data breaches"},
		{"breached keyboard walk", "1qaz2wsx3edc", "found in data breaches"},
		{"breached plus digits", "leavemealone2024!", "digits or symbols added"},
		{"short breached plus digits", "password12345", "digits or symbols added"},
		{"breached plus spaced symbols", "peanutbutter !!", "digits or symbols added"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.pw, context...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckPassword(%q) = %v; want accepted", tt.pw, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckPassword(%q) = %v; want a reason with %q", tt.pw, err, tt.want)
			}
		})
	}
}

func TestCheckPasswordRefusesLongBreached(t *testing.T) {
	for _, pw := range longBreached(t) {
		if err := CheckPassword(pw); err == nil {
			t.Errorf("CheckPassword(%q) accepted a breached password", pw)
		}
		if err := CheckPassword(pw + "1!"); err == nil {
			t.Errorf("CheckPassword(%q) accepted a breached password with a suffix", pw+"1!")
		}
	}
}
