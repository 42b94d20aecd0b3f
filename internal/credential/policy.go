package credential

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// Length limits of SP 800-63B: at least 12 characters when the password is
// the only factor's secret, and a generous maximum so passphrases fit while
// a request cannot hand argon2 megabytes.
const (
	minPasswordRunes = 12
	maxPasswordBytes = 256
	minContextRunes  = 4
)

// serviceName is always a context word: a password naming the site it is
// for is among the first an attacker tries.
const serviceName = "facet"

var (
	errTooShort    = fmt.Errorf("password must be at least %d characters long", minPasswordRunes)
	errTooLong     = fmt.Errorf("password must be at most %d bytes long", maxPasswordBytes)
	errNotUTF8     = errors.New("password is not valid UTF-8 text")
	errRepeated    = errors.New("password is a single character repeated")
	errSequence    = errors.New("password is a simple sequence such as abcd or 4321")
	errBreached    = errors.New("password is a commonly used password found in data breaches")
	errBreachedEnd = errors.New("password is a commonly used password found in data breaches with only digits or symbols added at the end")
)

// breached is the lower-case set of the 30,000 most common passwords from
// real breaches that zxcvbn ships (MIT licence). It is built on first use
// so that programs that never check a password do not pay for the map.
var breached = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, pw := range list {
		set[strings.ToLower(pw)] = struct{}{}
	}
	return set
})

// CheckPassword applies the sign-up and change-password policy and returns
// a plain-English reason when pw is refused, for the caller to show with a
// 422. There are no composition rules (SP 800-63B 5.1.1.2): length, a
// breached-password list, context words and trivial patterns only. The
// context words are the user's own, such as the local part of the e-mail
// address and the company name; "facet" is always one. Words shorter than
// four characters are ignored because they occur by chance in good
// passphrases.
func CheckPassword(pw string, context ...string) error {
	switch {
	case !utf8.ValidString(pw):
		return errNotUTF8
	case len(pw) > maxPasswordBytes:
		return errTooLong
	case utf8.RuneCountInString(pw) < minPasswordRunes:
		return errTooShort
	}
	lower := strings.ToLower(pw)
	for _, w := range append([]string{serviceName}, context...) {
		w = strings.ToLower(strings.TrimSpace(w))
		if utf8.RuneCountInString(w) >= minContextRunes && strings.Contains(lower, w) {
			return fmt.Errorf("password must not contain %q", w)
		}
	}
	if repeated(lower) {
		return errRepeated
	}
	if sequence(lower) {
		return errSequence
	}
	set := breached()
	if _, ok := set[lower]; ok {
		return errBreached
	}
	if listedBeforeSuffix(set, lower) {
		return errBreachedEnd
	}
	return nil
}

// listedBeforeSuffix reports whether s is a listed password followed by
// digits, punctuation, symbols or spaces ("leavemealone2024!"). Appending
// those is the first mangling rule of every cracking tool, so it adds
// almost nothing to a listed password. Every cut within the suffix is
// tried because listed passwords may end in digits themselves
// ("iampurehaha2" + "1!"). The listed part must keep four characters: with
// a shorter one most of the password is the suffix, no mere decoration.
func listedBeforeSuffix(set map[string]struct{}, s string) bool {
	for i := len(s); i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsDigit(r) && !unicode.IsPunct(r) && !unicode.IsSymbol(r) && !unicode.IsSpace(r) {
			return false
		}
		i -= size
		if _, ok := set[s[:i]]; ok && utf8.RuneCountInString(s[:i]) >= minContextRunes {
			return true
		}
	}
	return false
}

// repeated reports whether s is one character over and over.
func repeated(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// sequence reports whether each character of s is the next (or each the
// previous) after the one before, as in "abcdefghijkl" or "987654321098";
// digits wrap around from 9 to 0 because that is how such passwords go on.
func sequence(s string) bool {
	r := []rune(s)
	up, down := true, true
	for i := 1; i < len(r); i++ {
		up = up && next(r[i-1], r[i])
		down = down && next(r[i], r[i-1])
	}
	return up || down
}

// next reports whether b follows a, with 0 following 9.
func next(a, b rune) bool {
	return b == a+1 || (a == '9' && b == '0')
}
