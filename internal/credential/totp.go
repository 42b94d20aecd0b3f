package credential

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters: the ones every authenticator app supports without being
// told (RFC 6238 defaults), so the otpauth URI's explicit values are only
// a courtesy.
const (
	totpPeriod = 30
	totpDigits = 6
	// totpSecretLen is RFC 4226's recommended 160 bits; minTOTPSecretLen
	// is its required 128, refused below so a truncated record fails loudly.
	totpSecretLen    = 20
	minTOTPSecretLen = 16
)

// b32 is the encoding authenticator apps expect in otpauth URIs.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a new random 160-bit TOTP secret in upper-case
// base32 without padding, as shown to the user and put in the otpauth URI.
func NewTOTPSecret() string {
	b := make([]byte, totpSecretLen)
	rand.Read(b) // never fails since Go 1.24; it crashes the program instead
	return b32.EncodeToString(b)
}

// TOTPURI returns the otpauth URI that an authenticator app reads from a
// QR code. Issuer and account are escaped, colons included, because the
// label's colon separates them; spaces become %20 rather than + because
// some apps show a + literally.
func TOTPURI(secret, issuer, account string) string {
	esc := func(s string) string {
		return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	}
	return "otpauth://totp/" + esc(issuer) + ":" + esc(account) +
		"?secret=" + esc(secret) + "&issuer=" + esc(issuer) +
		fmt.Sprintf("&algorithm=SHA1&digits=%d&period=%d", totpDigits, totpPeriod)
}

// TOTPCode returns the 6-digit code for secret (base32, as from
// NewTOTPSecret) at time t.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return hotp(key, uint64(totpStep(t)), totpDigits), nil
}

// VerifyTOTP checks a 6-digit code against the steps just before, at and
// just after t, to allow for clock drift and typing time. A step at or
// before lastStep is never accepted: the caller stores the returned step
// and passes it next time, so an overheard code cannot be used again.
// Anything but exactly six ASCII digits, or a bad secret, is refused.
func VerifyTOTP(secret, code string, t time.Time, lastStep int64) (step int64, ok bool) {
	key, err := decodeSecret(secret)
	if err != nil || !sixDigits(code) {
		return 0, false
	}
	now := totpStep(t)
	// All three candidates are computed and compared, whatever matches,
	// so the time taken says nothing about which step (if any) was right.
	for s := now + 1; s >= now-1; s-- {
		match := subtle.ConstantTimeCompare([]byte(hotp(key, uint64(s), totpDigits)), []byte(code)) == 1
		if match && s > lastStep && s >= 0 {
			step, ok = s, true
		}
	}
	return step, ok
}

// totpStep is the RFC 6238 time step number of t.
func totpStep(t time.Time) int64 {
	return t.Unix() / totpPeriod
}

// decodeSecret accepts the secret as users may type it from the setup
// screen: any case, with spaces, with or without padding.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(secret, " ", ""))
	key, err := b32.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("totp secret is not base32: %w", err)
	}
	if len(key) < minTOTPSecretLen {
		return nil, errors.New("totp secret is shorter than 128 bits")
	}
	return key, nil
}

// sixDigits reports whether code is exactly six ASCII digits.
func sixDigits(code string) bool {
	if len(code) != totpDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// hotp is RFC 4226's HOTP value of counter under key with the given number
// of digits, zero-padded: HMAC-SHA1, dynamic truncation, modulo 10^digits.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	mac.Write(binary.BigEndian.AppendUint64(nil, counter))
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}
