package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords hashes with argon2id. Each hash costs Memory KiB, so hashing is
// bounded to Concurrency at a time: a burst of logins must not exhaust memory.
type Passwords struct {
	Memory      uint32 // KiB; 0 = 64 MiB
	Time        uint32 // passes; 0 = 1
	Threads     uint8  // 0 = 2
	Concurrency int    // 0 = 2
	sem         chan struct{}
	dummy       string
}

// withDefaults fills in the zero parameters.
func (p Passwords) withDefaults() Passwords {
	if p.Memory == 0 {
		p.Memory = 64 * 1024
	}
	if p.Time == 0 {
		p.Time = 1
	}
	if p.Threads == 0 {
		p.Threads = 2
	}
	if p.Concurrency == 0 {
		p.Concurrency = 2
	}
	return p
}

func (p *Passwords) init() {
	*p = p.withDefaults()
	p.sem = make(chan struct{}, p.Concurrency)
	// A hash to check unknown accounts against, so that a login for an
	// unknown email costs as much as one for a known email. Checking costs
	// the same whatever the key it compares with, so the key is random rather
	// than hashed: a hash here cost every start a third of a second and 64 MiB.
	salt, key := make([]byte, 16), make([]byte, 32)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	b64 := base64.RawStdEncoding
	p.dummy = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Hash returns a PHC-format argon2id hash of password.
func (p *Passwords) Hash(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	q := p.withDefaults()
	release := p.acquire()
	key := argon2.IDKey([]byte(password), salt, q.Time, q.Memory, q.Threads, 32)
	release()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, q.Memory, q.Time, q.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Check reports whether password matches hash, in constant time. An empty
// hash (unknown user) is checked against a dummy to keep timing uniform.
func (p *Passwords) Check(hash, password string) bool {
	known := hash != ""
	if !known {
		hash = p.dummy
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &threads); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || mem > 1<<21 || t > 16 {
		return false
	}
	release := p.acquire()
	got := argon2.IDKey([]byte(password), salt, t, mem, threads, uint32(len(want)))
	release()
	return subtle.ConstantTimeCompare(got, want) == 1 && known
}

// acquire takes one of the hashing slots. A Passwords that no Server set up
// has none and hashes unbounded rather than block for ever.
func (p *Passwords) acquire() (release func()) {
	if p.sem == nil {
		return func() {}
	}
	p.sem <- struct{}{}
	return func() { <-p.sem }
}
