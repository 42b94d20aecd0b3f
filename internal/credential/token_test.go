package credential

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	tests := []struct{ name, prefix string }{
		{"session", "fs_"},
		{"invitation", "inv_"},
		{"no prefix", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, hash := NewToken(tt.prefix)
			body, found := strings.CutPrefix(tok, tt.prefix)
			if !found {
				t.Fatalf("token %q lacks prefix %q", tok, tt.prefix)
			}
			raw, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil || len(raw) != 32 {
				t.Errorf("token body %q: %d bytes, %v; want 32 bytes of unpadded base64url", body, len(raw), err)
			}
			sum := sha256.Sum256([]byte(tok))
			if want := hex.EncodeToString(sum[:]); hash != want || HashToken(tok) != want {
				t.Errorf("hash = %s, HashToken = %s; want %s", hash, HashToken(tok), want)
			}
			if again, _ := NewToken(tt.prefix); again == tok {
				t.Error("two new tokens are equal")
			}
		})
	}
}

// TestHashTokenKnown pins the hash to SHA-256 of the whole token: the
// value is the well-known SHA-256 of "abc" (FIPS 180-2, appendix B.1).
func TestHashTokenKnown(t *testing.T) {
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashToken("abc"); got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}
