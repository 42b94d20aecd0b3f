// Package credential holds the portal's sign-in secrets, following NIST
// SP 800-63B: argon2id password hashes in PHC string format, a password
// policy that checks length, context words and a breached-password list
// instead of composition rules, and RFC 6238 TOTP codes with replay
// protection. (Session and invitation tokens are the app's random secrets,
// stored as hashes like API keys: see internal/app.)
package credential

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The cost of new hashes is the OWASP minimum for argon2id (19 MiB, two
// passes, one lane): enough to make offline guessing expensive while one
// hash still takes only about 45 ms of one core.
const (
	hashMemoryKiB = 19 * 1024
	hashTime      = 2
	hashThreads   = 1
	saltLen       = 16
	keyLen        = 32
)

// Bounds on what a stored hash may ask of us. The record comes from our own
// database, but a corrupted or planted one must not make one sign-in
// attempt allocate unbounded memory or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// b64 is the PHC string format's encoding: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// HashPassword hashes pw with argon2id under a fresh 16-byte salt and
// returns it in PHC string format, e.g.
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, so the parameters travel
// with the hash and can be raised later without breaking stored records.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, hashTime, hashMemoryKiB, hashThreads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, hashMemoryKiB, hashTime, hashThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches encoded, an argon2id hash in
// PHC string format with any parameters within sane bounds. A malformed or
// out-of-bounds encoding is an error, not a mismatch, so that a broken
// record shows up in the logs instead of as a user who cannot sign in.
func VerifyPassword(encoded, pw string) (ok bool, err error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parsePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash. The parameters may
// come in any order because implementations differ (the node argon2
// package writes m,p,t), but each must appear exactly once.
func parsePHC(s string) (phc, error) {
	var h phc
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return h, errors.New("password hash is not a PHC string")
	}
	if f[1] != "argon2id" {
		return h, fmt.Errorf("password hash algorithm %q is not argon2id", f[1])
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("password hash version %q is not v=%d", f[2], argon2.Version)
	}
	p, err := parseParams(f[3])
	if err != nil {
		return h, err
	}
	h.memory, h.time, h.threads = uint32(p['m']), uint32(p['t']), uint8(p['p'])
	if h.salt, err = b64.DecodeString(f[4]); err != nil {
		return h, fmt.Errorf("password hash salt: %w", err)
	}
	if h.key, err = b64.DecodeString(f[5]); err != nil {
		return h, fmt.Errorf("password hash key: %w", err)
	}
	if len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return h, fmt.Errorf("password hash salt is %d bytes, want %d to %d", len(h.salt), minSaltLen, maxSaltLen)
	}
	if len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return h, fmt.Errorf("password hash key is %d bytes, want %d to %d", len(h.key), minKeyLen, maxKeyLen)
	}
	return h, nil
}

// parseParams parses "m=M,t=T,p=P" and checks the bounds, including
// argon2's own rule that memory is at least 8 KiB per lane.
func parseParams(s string) (map[byte]uint64, error) {
	limits := map[byte]uint64{'m': maxMemoryKiB, 't': maxTime, 'p': maxThreads}
	p := make(map[byte]uint64, 3)
	for _, kv := range strings.Split(s, ",") {
		k, v, found := strings.Cut(kv, "=")
		limit, known := limits[firstByte(k)]
		if !found || len(k) != 1 || !known {
			return nil, fmt.Errorf("password hash parameter %q is not m, t or p", kv)
		}
		if _, dup := p[k[0]]; dup {
			return nil, fmt.Errorf("password hash parameter %s given twice", k)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < 1 || n > limit {
			return nil, fmt.Errorf("password hash parameter %s=%s is not between 1 and %d", k, v, limit)
		}
		p[k[0]] = n
	}
	if len(p) != 3 {
		return nil, errors.New("password hash needs all of m, t and p")
	}
	if p['m'] < 8*p['p'] {
		return nil, fmt.Errorf("password hash memory m=%d is under 8 KiB per lane", p['m'])
	}
	return p, nil
}

// firstByte returns s[0], or 0 for an empty string.
func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}
