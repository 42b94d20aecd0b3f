package credential

import (
	"encoding/base32"
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// rfcSecret is the test key of RFC 4226 and RFC 6238 (SHA-1), the ASCII
// bytes "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestRFCSecret(t *testing.T) {
	if got := base32.StdEncoding.EncodeToString([]byte("12345678901234567890")); got != rfcSecret {
		t.Fatalf("base32 of the RFC key = %s, want %s", got, rfcSecret)
	}
}

// TestHOTPRFC4226 checks the HOTP values of RFC 4226 Appendix D.
func TestHOTPRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		if got := hotp([]byte("12345678901234567890"), uint64(counter), 6); got != w {
			t.Errorf("hotp(counter %d) = %s, want %s", counter, got, w)
		}
	}
}

// TestTOTPRFC6238 checks the SHA-1 rows of RFC 6238 Appendix B: the
// 8-digit values through hotp, and their last six digits through TOTPCode.
func TestTOTPRFC6238(t *testing.T) {
	tests := []struct {
		unix  int64
		eight string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.unix), func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			if got := hotp([]byte("12345678901234567890"), uint64(tt.unix/30), 8); got != tt.eight {
				t.Errorf("8-digit code = %s, want %s", got, tt.eight)
			}
			got, err := TOTPCode(rfcSecret, at)
			if err != nil || got != tt.eight[2:] {
				t.Errorf("TOTPCode = %q, %v; want %s", got, err, tt.eight[2:])
			}
			step, ok := VerifyTOTP(rfcSecret, tt.eight[2:], at, 0)
			if !ok || step != tt.unix/30 {
				t.Errorf("VerifyTOTP = %d, %v; want %d, true", step, ok, tt.unix/30)
			}
		})
	}
}

func TestTOTPCodeSecretForms(t *testing.T) {
	at := time.Unix(59, 0)
	tests := []struct {
		name, secret string
		ok           bool
	}{
		{"canonical", rfcSecret, true},
		{"lower case, spaced", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", true},
		{"padded", rfcSecret + "======", true},
		{"not base32", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", false},
		{"under 128 bits", "GEZDGNBVGY3TQOJQGEZDGNBV", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := TOTPCode(tt.secret, at)
			if tt.ok && (err != nil || code != "287082") {
				t.Errorf("TOTPCode = %q, %v; want 287082", code, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("TOTPCode = %q; want an error", code)
			}
		})
	}
}

func TestVerifyTOTPWindowAndReplay(t *testing.T) {
	now := time.Unix(1234567890, 0) // step 41152263, 0 s into it
	const cur = 41152263
	code := func(step int64) string {
		return hotp([]byte("12345678901234567890"), uint64(step), 6)
	}
	tests := []struct {
		name     string
		code     string
		lastStep int64
		want     int64 // accepted step, -1 when refused
	}{
		{"current", code(cur), 0, cur},
		{"previous", code(cur - 1), 0, cur - 1},
		{"next", code(cur + 1), 0, cur + 1},
		{"two back", code(cur - 2), 0, -1},
		{"two ahead", code(cur + 2), 0, -1},
		{"replayed", code(cur), cur, -1},
		{"older than the last used", code(cur - 1), cur, -1},
		{"previous after an older use", code(cur - 1), cur - 2, cur - 1},
		{"next after the current was used", code(cur + 1), cur, cur + 1},
		{"wrong", "000000", 0, -1},
		{"five digits", code(cur)[1:], 0, -1},
		{"seven digits", code(cur) + "0", 0, -1},
		{"spaced", code(cur)[:3] + " " + code(cur)[3:], 0, -1},
		{"letters", "12345a", 0, -1},
		{"full-width digits", "１２３４５６", 0, -1},
		{"empty", "", 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := VerifyTOTP(rfcSecret, tt.code, now, tt.lastStep)
			if tt.want < 0 && ok {
				t.Errorf("VerifyTOTP(%q, last %d) accepted step %d; want refused", tt.code, tt.lastStep, step)
			}
			if tt.want >= 0 && (!ok || step != tt.want) {
				t.Errorf("VerifyTOTP(%q, last %d) = %d, %v; want %d, true", tt.code, tt.lastStep, step, ok, tt.want)
			}
		})
	}
	if _, ok := VerifyTOTP("not a secret", code(cur), now, 0); ok {
		t.Error("VerifyTOTP accepted a code under a malformed secret")
	}
}

func TestNewTOTPSecret(t *testing.T) {
	format := regexp.MustCompile(`^[A-Z2-7]{32}$`) // 160 bits, no padding
	a, b := NewTOTPSecret(), NewTOTPSecret()
	for _, s := range []string{a, b} {
		if !format.MatchString(s) {
			t.Errorf("NewTOTPSecret = %q, want 32 upper-case base32 characters", s)
		}
		now := time.Now()
		code, err := TOTPCode(s, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := VerifyTOTP(s, code, now, 0); !ok {
			t.Errorf("VerifyTOTP refused its own code under %s", s)
		}
	}
	if a == b {
		t.Error("two new secrets are equal")
	}
}

func TestTOTPURI(t *testing.T) {
	tests := []struct {
		name, issuer, account, want string
	}{
		{"plain", "Facet", "jane@example.com",
			"otpauth://totp/Facet:jane%40example.com?secret=" + rfcSecret +
				"&issuer=Facet&algorithm=SHA1&digits=6&period=30"},
		{"spaces, colon, ampersand", "Acme & Co: Research", "Jane Doe",
			"otpauth://totp/Acme%20%26%20Co%3A%20Research:Jane%20Doe?secret=" + rfcSecret +
				"&issuer=Acme%20%26%20Co%3A%20Research&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TOTPURI(rfcSecret, tt.issuer, tt.account)
			if got != tt.want {
				t.Errorf("TOTPURI =\n%s\nwant\n%s", got, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/"+tt.issuer+":"+tt.account ||
				q.Get("issuer") != tt.issuer || q.Get("secret") != rfcSecret {
				t.Errorf("TOTPURI does not parse back: %s %s %q %v", u.Scheme, u.Host, u.Path, q)
			}
		})
	}
}
