// Package license issues and verifies Gatehouse licence keys.
//
// A licence key is "gh1." + base64url(payload JSON) + "." + base64url(signature),
// without padding. The signature is ed25519 over the ASCII text before the
// second dot ("gh1." + encoded payload), so the version prefix is signed too
// and a key can never be reinterpreted under another format version.
//
// The package imports only the standard library so that the code deciding the
// plan can be audited on its own.
package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// FeatureRoleBasedAccess gates roles, per-object access controls and the
// other endpoints of the role-based access API.
const FeatureRoleBasedAccess = "role_based_access"

// FeatureSSO gates organization domains and sign-in through the identity provider.
const FeatureSSO = "sso"

// FeatureSCIM gates provisioning members and roles through SCIM 2.0.
const FeatureSCIM = "scim"

// Plan names a licence tier.
type Plan string

const (
	Free       Plan = "free"
	Enterprise Plan = "enterprise"
)

// Features returns the features the plan unlocks. It is never nil, so it
// encodes as [] rather than null in PostHog's available_features field.
// Unknown plans have no features. The slice is fresh on every call: callers
// may keep or modify it.
func (p Plan) Features() []string {
	switch p {
	case Enterprise:
		return []string{FeatureRoleBasedAccess, FeatureSSO, FeatureSCIM}
	default:
		return []string{}
	}
}

// Has reports whether the plan unlocks feature.
func (p Plan) Has(feature string) bool {
	for _, f := range p.Features() {
		if f == feature {
			return true
		}
	}
	return false
}

// known reports whether p is a plan this build understands. A payload
// naming any other plan is rejected rather than downgraded, because a
// licence for a plan we cannot honour is an issuing mistake worth surfacing.
func (p Plan) known() bool {
	return p == Free || p == Enterprise
}

// License is the signed content of a licence key.
//
// A zero ValidUntil means the licence never expires. Times are kept to the
// second and returned in UTC.
type License struct {
	Plan       Plan
	ValidUntil time.Time
	IssuedAt   time.Time
	ID         string
}

// keyPrefix is both the format marker and the format version: a new payload
// shape gets a new prefix instead of silently changing the meaning of gh1.
const keyPrefix = "gh1"

// Error classes, wrapped by every error Verify returns so tests (and later
// callers) can tell them apart without matching strings.
var (
	errMalformed    = errors.New("malformed licence key")
	errBadSignature = errors.New("licence signature does not verify")
	errExpired      = errors.New("licence expired")
)

// payload is the JSON signed into a key. Times are Unix seconds: integers
// have one encoding, where RFC 3339 text has several that would all need
// handling by every future verifier.
type payload struct {
	ID         string `json:"id"`
	Plan       Plan   `json:"plan"`
	IssuedAt   int64  `json:"issued_at"`
	ValidUntil int64  `json:"valid_until,omitempty"`
}

// b64 is the encoding of both key parts. Strict rejects non-zero padding
// bits, so each key has exactly one textual form.
var b64 = base64.RawURLEncoding.Strict()

// GenerateKey returns base64 (standard encoding) text of a new ed25519
// private key (64 bytes: seed then public key) and its public key, reading
// entropy from rand (crypto/rand when nil).
func GenerateKey(rand io.Reader) (privateB64, publicB64 string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", fmt.Errorf("generate licence key pair: %w", err)
	}
	return base64.StdEncoding.EncodeToString(priv), base64.StdEncoding.EncodeToString(pub), nil
}

// ParsePublicKey accepts standard base64 text of a 32-byte ed25519 public
// key, or else a path to a file holding that text. Surrounding whitespace is
// ignored in both. One setting (GATEHOUSE_LICENSE_PUBLIC_KEY) serves both
// forms because a key is short enough for an environment variable but
// deployments that mount secrets as files should not need a wrapper script.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty licence public key")
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	data, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("licence public key is neither base64 of %d bytes nor a readable file: %w", ed25519.PublicKeySize, err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("licence public key file %s: not base64: %w", s, err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("licence public key file %s: got %d bytes, want %d", s, len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// ParsePrivateKey decodes standard base64 text (typically the contents of
// license.key, surrounding whitespace ignored) of a 64-byte ed25519 private
// key, as GenerateKey writes it, or of a bare 32-byte seed.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("licence private key: not base64: %w", err)
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		// The second half is the public key and ed25519.Sign trusts it; a
		// corrupted half would yield keys that never verify, found only by
		// customers. Recompute it from the seed to catch that here.
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !bytes.Equal(priv, b) {
			return nil, errors.New("licence private key: public half does not match the seed")
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("licence private key: got %d bytes, want %d", len(b), ed25519.PrivateKeySize)
	}
}

// Issue signs l with priv and returns the licence key.
//
// The plan must be known. An empty ID is replaced by a random one and a zero
// IssuedAt by the current time, so the CLI need not invent them; times are
// truncated to the second. A zero ValidUntil issues a licence that never
// expires.
func Issue(priv ed25519.PrivateKey, l License) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("issue licence: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if !l.Plan.known() {
		return "", fmt.Errorf("issue licence: unknown plan %q", l.Plan)
	}
	if l.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("issue licence: generate id: %w", err)
		}
		l.ID = hex.EncodeToString(b[:])
	}
	if l.IssuedAt.IsZero() {
		l.IssuedAt = time.Now()
	}
	p := payload{ID: l.ID, Plan: l.Plan, IssuedAt: l.IssuedAt.Unix()}
	if !l.ValidUntil.IsZero() {
		p.ValidUntil = l.ValidUntil.Unix()
		if p.ValidUntil <= p.IssuedAt {
			return "", fmt.Errorf("issue licence: valid until %s is not after issued at %s",
				l.ValidUntil.UTC().Format(time.RFC3339), l.IssuedAt.UTC().Format(time.RFC3339))
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("issue licence: %w", err)
	}
	signed := keyPrefix + "." + b64.EncodeToString(body)
	sig := ed25519.Sign(priv, []byte(signed))
	return signed + "." + b64.EncodeToString(sig), nil
}

// decodeB64 decodes unpadded base64url. The standard decoder skips '\r'
// and '\n' even in strict mode, so a key with a line break inside would
// verify as the same licence under another spelling; only the alphabet
// itself is accepted.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsFunc(s, notB64) {
		return nil, errors.New("not base64url")
	}
	return b64.DecodeString(s)
}

func notB64(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		return false
	}
	return true
}

// Verify parses key (surrounding whitespace ignored), checks its signature
// against pub and its expiry against now, and returns the licence.
//
// Errors read as sentences fit for a log line: "malformed licence key: …",
// "licence signature does not verify", "licence expired on 2025-01-01",
// "unknown licence plan …". A licence is expired from the instant ValidUntil
// onwards.
func Verify(pub ed25519.PublicKey, key string, now time.Time) (License, error) {
	// ed25519.Verify panics on a public key of the wrong size.
	if len(pub) != ed25519.PublicKeySize {
		return License{}, fmt.Errorf("licence public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	key = strings.TrimSpace(key)
	prefix, rest, ok := strings.Cut(key, ".")
	if !ok {
		return License{}, fmt.Errorf("%w: want %s.<payload>.<signature>", errMalformed, keyPrefix)
	}
	if prefix != keyPrefix {
		return License{}, fmt.Errorf("%w: unknown format %q, want %q", errMalformed, truncate(prefix), keyPrefix)
	}
	encBody, encSig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(encSig, ".") {
		return License{}, fmt.Errorf("%w: want %s.<payload>.<signature>", errMalformed, keyPrefix)
	}
	body, err := decodeB64(encBody)
	if err != nil {
		return License{}, fmt.Errorf("%w: payload is not base64url", errMalformed)
	}
	sig, err := decodeB64(encSig)
	if err != nil {
		return License{}, fmt.Errorf("%w: signature is not base64url", errMalformed)
	}
	if len(sig) != ed25519.SignatureSize {
		return License{}, fmt.Errorf("%w: signature has %d bytes, want %d", errMalformed, len(sig), ed25519.SignatureSize)
	}
	// Check the signature before parsing: the JSON decoder then only ever
	// sees bytes we produced ourselves.
	if !ed25519.Verify(pub, []byte(key[:len(keyPrefix)+1+len(encBody)]), sig) {
		return License{}, errBadSignature
	}

	var p payload
	dec := json.NewDecoder(bytes.NewReader(body))
	// A field this build does not know could be a restriction it cannot
	// enforce, so refuse the licence rather than ignore the field.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return License{}, fmt.Errorf("%w: payload: %v", errMalformed, err)
	}
	if dec.More() {
		return License{}, fmt.Errorf("%w: payload has trailing data", errMalformed)
	}
	if !p.Plan.known() {
		return License{}, fmt.Errorf("unknown licence plan %q", truncate(string(p.Plan)))
	}
	l := License{Plan: p.Plan, ID: p.ID, IssuedAt: time.Unix(p.IssuedAt, 0).UTC()}
	if p.ValidUntil != 0 {
		l.ValidUntil = time.Unix(p.ValidUntil, 0).UTC()
		if !now.Before(l.ValidUntil) {
			return License{}, fmt.Errorf("%w on %s", errExpired, l.ValidUntil.Format(time.DateOnly))
		}
	}
	return l, nil
}

// PlanAt returns the plan l grants at now: its own plan until ValidUntil
// (exclusive, as in Verify), the free plan from then on. The zero License
// grants the free plan. It only compares times, so a server can ask it on
// every request and a licence that expires while the server runs stops
// granting its plan at that instant.
func (l License) PlanAt(now time.Time) Plan {
	if l.Plan == "" || !l.ValidUntil.IsZero() && !now.Before(l.ValidUntil) {
		return Free
	}
	return l.Plan
}

// Resolve decides the plan the server runs with at start. It never fails:
// any problem yields the free plan, and the reason is a sentence for the
// start-up log line explaining the outcome either way.
func Resolve(pubKeyText, key string, now time.Time) (Plan, string) {
	l, reason := ResolveLicense(pubKeyText, key, now)
	return l.Plan, reason
}

// ResolveLicense is Resolve returning the licence itself, so that a server
// can keep it and let its expiry take effect while it runs. Any problem
// yields License{Plan: Free}.
func ResolveLicense(pubKeyText, key string, now time.Time) (License, string) {
	free := License{Plan: Free}
	if strings.TrimSpace(key) == "" {
		return free, "no licence key set (GATEHOUSE_LICENSE_KEY)"
	}
	if strings.TrimSpace(pubKeyText) == "" {
		return free, "no licence public key set (GATEHOUSE_LICENSE_PUBLIC_KEY)"
	}
	pub, err := ParsePublicKey(pubKeyText)
	if err != nil {
		return free, fmt.Sprintf("GATEHOUSE_LICENSE_PUBLIC_KEY: %v", err)
	}
	l, err := Verify(pub, key, now)
	if err != nil {
		return free, err.Error()
	}
	if l.ValidUntil.IsZero() {
		return l, fmt.Sprintf("%s licence valid with no expiry date", l.Plan)
	}
	return l, fmt.Sprintf("%s licence valid until %s", l.Plan, l.ValidUntil.Format(time.DateOnly))
}

// truncate bounds attacker-controlled text quoted in error messages so a
// crafted key cannot flood the log.
func truncate(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
