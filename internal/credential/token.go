package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// tokenBytes is 256 bits: far beyond guessing, so one unsalted SHA-256 is
// enough to keep stored hashes useless to whoever reads the database.
const tokenBytes = 32

// NewToken returns a random token for a session cookie or an invitation
// link: prefix followed by 32 random bytes in unpadded base64url, so it is
// safe in URLs and cookies and the prefix tells what it is when it turns
// up in a log. Hash is HashToken(token), the only form to store.
func NewToken(prefix string) (token string, hash string) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails since Go 1.24; it crashes the program instead
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of the whole token, prefix included,
// which is what NewToken's hash is; the caller hashes a presented token
// with it to look up the stored one.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
