package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	issuedAt   = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	validUntil = time.Date(2038, 1, 19, 0, 0, 0, 0, time.UTC)
	now        = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
)

// mustKeyPair returns a deterministic key pair so failures reproduce.
func mustKeyPair(t testing.TB, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// mustIssue issues l or fails the test.
func mustIssue(t testing.TB, priv ed25519.PrivateKey, l License) string {
	t.Helper()
	key, err := Issue(priv, l)
	if err != nil {
		t.Fatalf("Issue(%+v) error = %v", l, err)
	}
	return key
}

// signRaw builds a gh1 key around arbitrary payload bytes, to reach the
// checks that run after the signature.
func signRaw(t testing.TB, priv ed25519.PrivateKey, body string) string {
	t.Helper()
	signed := "gh1." + base64.RawURLEncoding.EncodeToString([]byte(body))
	return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(signed)))
}

// writeFile writes content to a new file under t.TempDir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanFeatures(t *testing.T) {
	tests := []struct {
		plan    Plan
		want    []string
		wantRBA bool
	}{
		{Free, []string{}, false},
		{Enterprise, []string{FeatureRoleBasedAccess, FeatureSSO, FeatureSCIM}, true},
		{Plan("platinum"), []string{}, false},
		{Plan(""), []string{}, false},
	}
	for _, tt := range tests {
		got := tt.plan.Features()
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("Plan(%q).Features() = %#v, want %#v", tt.plan, got, tt.want)
		}
		if got := tt.plan.Has(FeatureRoleBasedAccess); got != tt.wantRBA {
			t.Errorf("Plan(%q).Has(%q) = %v, want %v", tt.plan, FeatureRoleBasedAccess, got, tt.wantRBA)
		}
		if tt.plan.Has("") || tt.plan.Has("nonexistent") {
			t.Errorf("Plan(%q).Has(unknown feature) = true, want false", tt.plan)
		}
	}
}

func TestFeaturesReturnsFreshSlice(t *testing.T) {
	Enterprise.Features()[0] = "tampered"
	if !Enterprise.Has(FeatureRoleBasedAccess) {
		t.Fatal("modifying the result of Features changed the plan")
	}
}

func TestGenerateKey(t *testing.T) {
	privB64, pubB64, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey error = %v", err)
	}
	priv, err := ParsePrivateKey(privB64 + "\n")
	if err != nil {
		t.Fatalf("ParsePrivateKey(generated) error = %v", err)
	}
	pub, err := ParsePublicKey(pubB64 + "\n")
	if err != nil {
		t.Fatalf("ParsePublicKey(generated) error = %v", err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("generated public key does not match the private key")
	}

	// The reader is the only entropy source, so equal readers give equal keys.
	a1, b1, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	a2, b2, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if a1 != a2 || b1 != b2 {
		t.Error("GenerateKey with equal readers gave different keys")
	}
	if _, _, err := GenerateKey(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateKey(empty reader) error = nil, want error")
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	keyShape := regexp.MustCompile(`^gh1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
	tests := []struct {
		name   string
		in     License
		suffix string // appended to the issued key, as a shell or file might
		want   License
	}{
		{
			name: "enterprise",
			in:   License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-1"},
			want: License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-1"},
		},
		{
			name: "free",
			in:   License{Plan: Free, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-2"},
			want: License{Plan: Free, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-2"},
		},
		{
			name: "no expiry",
			in:   License{Plan: Enterprise, IssuedAt: issuedAt, ID: "lic-3"},
			want: License{Plan: Enterprise, IssuedAt: issuedAt, ID: "lic-3"},
		},
		{
			name:   "trailing newline",
			in:     License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-4"},
			suffix: "\n",
			want:   License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-4"},
		},
		{
			name:   "surrounding whitespace",
			in:     License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-5"},
			suffix: " \r\n\t",
			want:   License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-5"},
		},
		{
			name: "sub-second times and other zones are truncated to UTC seconds",
			in: License{
				Plan:       Enterprise,
				ValidUntil: validUntil.Add(900 * time.Millisecond).In(time.FixedZone("X", 3600)),
				IssuedAt:   issuedAt.Add(500 * time.Millisecond),
				ID:         "lic-6",
			},
			want: License{Plan: Enterprise, ValidUntil: validUntil, IssuedAt: issuedAt, ID: "lic-6"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := mustIssue(t, priv, tt.in)
			if !keyShape.MatchString(key) {
				t.Errorf("Issue = %q, want shape %v", key, keyShape)
			}
			got, err := Verify(pub, tt.suffix+key+tt.suffix, now)
			if err != nil {
				t.Fatalf("Verify error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
			if got.ValidUntil.Location() != time.UTC || got.IssuedAt.Location() != time.UTC {
				t.Errorf("Verify times in %v/%v, want UTC", got.ValidUntil.Location(), got.IssuedAt.Location())
			}
		})
	}
}

func TestIssueDefaults(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	before := time.Now().Truncate(time.Second)
	key := mustIssue(t, priv, License{Plan: Enterprise})
	after := time.Now()
	l, err := Verify(pub, key, now)
	if err != nil {
		t.Fatalf("Verify error = %v", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(l.ID) {
		t.Errorf("default ID = %q, want 32 hex digits", l.ID)
	}
	if l.IssuedAt.Before(before) || l.IssuedAt.After(after) {
		t.Errorf("default IssuedAt = %v, want between %v and %v", l.IssuedAt, before, after)
	}
	other := mustIssue(t, priv, License{Plan: Enterprise})
	if l2, _ := Verify(pub, other, now); l2.ID == l.ID {
		t.Errorf("two issued licences share ID %q", l.ID)
	}
}

func TestIssueErrors(t *testing.T) {
	_, priv := mustKeyPair(t, 1)
	tests := []struct {
		name string
		priv ed25519.PrivateKey
		in   License
	}{
		{"unknown plan", priv, License{Plan: "platinum"}},
		{"empty plan", priv, License{}},
		{"nil private key", nil, License{Plan: Enterprise}},
		{"short private key", priv[:32], License{Plan: Enterprise}},
		{"valid until before issued", priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: issuedAt.Add(-time.Hour)}},
		{"valid until equals issued", priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: issuedAt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if key, err := Issue(tt.priv, tt.in); err == nil {
				t.Errorf("Issue(%+v) = %q, want error", tt.in, key)
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	expiry := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	key := mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: expiry})
	tests := []struct {
		name    string
		now     time.Time
		wantErr bool
	}{
		{"one second before", expiry.Add(-time.Second), false},
		{"at expiry", expiry, true},
		{"later", now, true},
		{"later in another zone", now.In(time.FixedZone("Y", -8*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(pub, key, tt.now)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Verify(now=%v) error = %v, want nil", tt.now, err)
				}
				return
			}
			if !errors.Is(err, errExpired) {
				t.Fatalf("Verify(now=%v) error = %v, want %v", tt.now, err, errExpired)
			}
			if got, want := err.Error(), "licence expired on 2025-01-01"; got != want {
				t.Errorf("Verify error = %q, want %q", got, want)
			}
		})
	}
}

func TestVerifyRejectsForgedAndTampered(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	otherPub, otherPriv := mustKeyPair(t, 2)
	genuine := mustIssue(t, priv, License{Plan: Free, IssuedAt: issuedAt, ValidUntil: validUntil, ID: "a"})
	parts := strings.Split(genuine, ".")
	enterpriseParts := strings.Split(mustIssue(t, otherPriv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: validUntil, ID: "a"}), ".")

	flippedSig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flippedSig[0] ^= 1

	tests := []struct {
		name string
		pub  ed25519.PublicKey
		key  string
	}{
		{"signed with another key", pub, mustIssue(t, otherPriv, License{Plan: Enterprise, IssuedAt: issuedAt})},
		{"genuine key, wrong public key", otherPub, genuine},
		{"payload swapped for an enterprise one", pub, parts[0] + "." + enterpriseParts[1] + "." + parts[2]},
		{"payload edited by hand", pub, parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"id":"a","plan":"enterprise","issued_at":1717243200}`)) + "." + parts[2]},
		{"signature bit flipped", pub, parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(flippedSig)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Verify(tt.pub, tt.key, now)
			if !errors.Is(err, errBadSignature) {
				t.Fatalf("Verify = %+v, %v, want error %v", l, err, errBadSignature)
			}
			if got, want := err.Error(), "licence signature does not verify"; got != want {
				t.Errorf("Verify error = %q, want %q", got, want)
			}
			if l != (License{}) {
				t.Errorf("Verify returned %+v with an error, want zero License", l)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	genuine := mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: validUntil})
	parts := strings.Split(genuine, ".")
	tests := []struct {
		name    string
		key     string
		wantErr error  // sentinel the error wraps, or nil to check wantMsg only
		wantMsg string // substring of the message
	}{
		{"empty", "", errMalformed, "malformed licence key"},
		{"whitespace only", " \n", errMalformed, "malformed licence key"},
		{"no dots", "gh1", errMalformed, "malformed licence key"},
		{"one dot", "gh1.abc", errMalformed, "malformed licence key"},
		{"empty parts", "gh1..", errMalformed, "malformed licence key"},
		{"four parts", genuine + ".x", errMalformed, "malformed licence key"},
		{"other version", "gh2." + parts[1] + "." + parts[2], errMalformed, `unknown format "gh2"`},
		{"no prefix", parts[1] + "." + parts[2], errMalformed, "malformed licence key"},
		{"payload not base64url", "gh1.!!!." + parts[2], errMalformed, "payload is not base64url"},
		{"payload std base64 with padding", "gh1." + parts[1] + "==." + parts[2], errMalformed, "payload is not base64url"},
		{"signature not base64url", "gh1." + parts[1] + ".***", errMalformed, "signature is not base64url"},
		{"signature truncated", "gh1." + parts[1] + "." + parts[2][:40], errMalformed, "signature has"},
		{"signature empty", "gh1." + parts[1] + ".", errMalformed, "signature has 0 bytes"},
		{"inner whitespace", "gh1." + parts[1] + " ." + parts[2], errMalformed, "malformed licence key"},
		{"signed payload not JSON", signRaw(t, priv, "hello"), errMalformed, "payload"},
		{"signed payload JSON array", signRaw(t, priv, `[]`), errMalformed, "payload"},
		{"signed payload wrong type", signRaw(t, priv, `{"plan":"enterprise","issued_at":"yesterday"}`), errMalformed, "payload"},
		{"signed payload unknown field", signRaw(t, priv, `{"plan":"enterprise","issued_at":1,"max_users":5}`), errMalformed, "max_users"},
		{"signed payload trailing data", signRaw(t, priv, `{"plan":"enterprise","issued_at":1}{}`), errMalformed, "trailing data"},
		{"signed payload unknown plan", signRaw(t, priv, `{"plan":"platinum","issued_at":1}`), nil, `unknown licence plan "platinum"`},
		{"signed payload no plan", signRaw(t, priv, `{"issued_at":1}`), nil, `unknown licence plan ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Verify(pub, tt.key, now)
			if err == nil {
				t.Fatalf("Verify(%q) = %+v, want error", tt.key, l)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify(%q) error = %v, want %v", tt.key, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Verify(%q) error = %q, want it to contain %q", tt.key, err, tt.wantMsg)
			}
		})
	}
}

func TestVerifyBadPublicKeyDoesNotPanic(t *testing.T) {
	_, priv := mustKeyPair(t, 1)
	key := mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt})
	for _, pub := range []ed25519.PublicKey{nil, {}, make(ed25519.PublicKey, 31), make(ed25519.PublicKey, 64)} {
		if _, err := Verify(pub, key, now); err == nil {
			t.Errorf("Verify(public key of %d bytes) error = nil, want error", len(pub))
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _ := mustKeyPair(t, 1)
	text := base64.StdEncoding.EncodeToString(pub)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"base64", text, ""},
		{"base64 with newline", text + "\n", ""},
		{"file", writeFile(t, "license.pub", text), ""},
		{"file with trailing newline", writeFile(t, "license.pub", text+"\r\n"), ""},
		{"path with surrounding spaces", " " + writeFile(t, "license.pub", text) + "\n", ""},
		{"empty", "", "empty"},
		{"blank", "  \n", "empty"},
		{"missing file", filepath.Join(t.TempDir(), "nope.pub"), "neither base64"},
		{"base64 of wrong length, not a file", base64.StdEncoding.EncodeToString(pub[:31]), "neither base64"},
		{"url-safe base64 is not accepted", strings.NewReplacer("+", "-", "/", "_").Replace(text) + "x", "neither base64"},
		{"file not base64", writeFile(t, "bad.pub", "not base64!"), "not base64"},
		{"file wrong length", writeFile(t, "short.pub", base64.StdEncoding.EncodeToString(pub[:16])), "got 16 bytes"},
		{"file holds the private key", writeFile(t, "license.key", base64.StdEncoding.EncodeToString(make([]byte, 64))), "got 64 bytes"},
		{"directory", t.TempDir(), "neither base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePublicKey(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKey(%q) error = %v", tt.in, err)
			}
			if !got.Equal(pub) {
				t.Errorf("ParsePublicKey(%q) = %x, want %x", tt.in, got, pub)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	_, priv := mustKeyPair(t, 1)
	_, otherPriv := mustKeyPair(t, 2)
	mismatched := append(slices.Clone(priv[:32]), otherPriv[32:]...)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"full key", base64.StdEncoding.EncodeToString(priv), ""},
		{"full key with newline", base64.StdEncoding.EncodeToString(priv) + "\n", ""},
		{"seed only", base64.StdEncoding.EncodeToString(priv.Seed()), ""},
		{"empty", "", "got 0 bytes"},
		{"not base64", "-----BEGIN PRIVATE KEY-----", "not base64"},
		{"wrong length", base64.StdEncoding.EncodeToString(priv[:40]), "got 40 bytes"},
		{"public half does not match", base64.StdEncoding.EncodeToString(mismatched), "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePrivateKey(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrivateKey(%q) error = %v", tt.in, err)
			}
			if !got.Equal(priv) {
				t.Errorf("ParsePrivateKey(%q) = %x, want %x", tt.in, got, priv)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	pub, priv := mustKeyPair(t, 1)
	_, otherPriv := mustKeyPair(t, 2)
	pubText := base64.StdEncoding.EncodeToString(pub)
	pubFile := writeFile(t, "license.pub", pubText+"\n")
	valid := mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: validUntil})

	tests := []struct {
		name       string
		pubKeyText string
		key        string
		wantPlan   Plan
		wantReason string
	}{
		{"no key", pubText, "", Free, "no licence key set (GATEHOUSE_LICENSE_KEY)"},
		{"blank key", pubText, " \n", Free, "no licence key set (GATEHOUSE_LICENSE_KEY)"},
		{"no public key", "", valid, Free, "no licence public key set (GATEHOUSE_LICENSE_PUBLIC_KEY)"},
		{"bad public key", "/nonexistent/license.pub", valid, Free, "GATEHOUSE_LICENSE_PUBLIC_KEY: licence public key is neither base64"},
		{"valid", pubText, valid, Enterprise, "enterprise licence valid until 2038-01-19"},
		{"valid, key with newline", pubText, valid + "\n", Enterprise, "enterprise licence valid until 2038-01-19"},
		{"valid, public key from file", pubFile, valid, Enterprise, "enterprise licence valid until 2038-01-19"},
		{"valid, no expiry", pubText, mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt}), Enterprise, "enterprise licence valid with no expiry date"},
		{"valid free licence", pubText, mustIssue(t, priv, License{Plan: Free, IssuedAt: issuedAt, ValidUntil: validUntil}), Free, "free licence valid until 2038-01-19"},
		{"expired", pubText, mustIssue(t, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}), Free, "licence expired on 2025-01-01"},
		{"forged", pubText, mustIssue(t, otherPriv, License{Plan: Enterprise, IssuedAt: issuedAt}), Free, "licence signature does not verify"},
		{"malformed", pubText, "not-a-licence", Free, "malformed licence key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, reason := Resolve(tt.pubKeyText, tt.key, now)
			if plan != tt.wantPlan || !strings.HasPrefix(reason, tt.wantReason) {
				t.Errorf("Resolve(%q, %q) = %q, %q, want %q, %q…", tt.pubKeyText, tt.key, plan, reason, tt.wantPlan, tt.wantReason)
			}
		})
	}
}

func TestPlanAt(t *testing.T) {
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		l    License
		now  time.Time
		want Plan
	}{
		{"zero licence", License{}, now, Free},
		{"free licence", License{Plan: Free}, now, Free},
		{"no expiry", License{Plan: Enterprise}, until.AddDate(100, 0, 0), Enterprise},
		{"before expiry", License{Plan: Enterprise, ValidUntil: until}, until.Add(-time.Nanosecond), Enterprise},
		{"at expiry", License{Plan: Enterprise, ValidUntil: until}, until, Free},
		{"after expiry", License{Plan: Enterprise, ValidUntil: until}, until.Add(time.Second), Free},
	}
	for _, tt := range tests {
		if got := tt.l.PlanAt(tt.now); got != tt.want {
			t.Errorf("%s: PlanAt(%v) = %q, want %q", tt.name, tt.now, got, tt.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv := mustKeyPair(f, 1)
	f.Add(mustIssue(f, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: validUntil, ID: "x"}))
	f.Add(mustIssue(f, priv, License{Plan: Free, IssuedAt: issuedAt}) + "\n")
	f.Add(mustIssue(f, priv, License{Plan: Enterprise, IssuedAt: issuedAt, ValidUntil: issuedAt.Add(time.Hour)}))
	f.Add(signRaw(f, priv, `{"plan":"platinum","issued_at":1}`))
	f.Add(signRaw(f, priv, `{"plan":"enterprise","issued_at":1,"valid_until":-5}`))
	f.Add(signRaw(f, priv, `not json`))
	f.Add("")
	f.Add("gh1..")
	f.Add("gh1.e30.AAAA")
	f.Add("gh1.\x00\xff.\u00e9")
	f.Fuzz(func(t *testing.T, key string) {
		l, err := Verify(pub, key, now)
		if err != nil {
			if l != (License{}) {
				t.Errorf("Verify(%q) = %+v with error %v, want zero License", key, l, err)
			}
			return
		}
		if !l.Plan.known() {
			t.Errorf("Verify(%q) accepted unknown plan %q", key, l.Plan)
		}
		if !l.ValidUntil.IsZero() && !now.Before(l.ValidUntil) {
			t.Errorf("Verify(%q) accepted licence expired at %v", key, l.ValidUntil)
		}
		// Only our own signatures verify, so an accepted key re-issues to
		// itself: nothing outside the signed text changed its meaning.
		if reissued := mustIssue(t, priv, l); reissued != strings.TrimSpace(key) {
			t.Errorf("Verify(%q) accepted a key that re-issues as %q", key, reissued)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	_, priv := mustKeyPair(f, 1)
	f.Add(base64.StdEncoding.EncodeToString(priv))
	f.Add(base64.StdEncoding.EncodeToString(priv.Seed()))
	f.Add("")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePrivateKey(s)
		if err != nil {
			return
		}
		msg := []byte("probe")
		if !ed25519.Verify(got.Public().(ed25519.PublicKey), msg, ed25519.Sign(got, msg)) {
			t.Errorf("ParsePrivateKey(%q) returned a key whose signatures do not verify", s)
		}
	})
}
