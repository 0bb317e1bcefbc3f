package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

func testUsers(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers() = %d, %v, want 0 on an empty store", n, err)
	}
	alice := &gatehouse.User{Email: "Alice@Example.com", FirstName: "Alice", PasswordHash: "argon2id$…"}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatalf("CreateUser(alice) = %v", err)
	}
	if alice.ID == 0 || alice.UUID == "" || alice.DistinctID == "" || alice.CreatedAt.IsZero() {
		t.Errorf("CreateUser set ID %d, UUID %q, DistinctID %q, CreatedAt %v; want all set", alice.ID, alice.UUID, alice.DistinctID, alice.CreatedAt)
	}
	bob := &gatehouse.User{Email: "bob@example.com", DistinctID: "bob-distinct"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatalf("CreateUser(bob) = %v", err)
	}
	if bob.DistinctID != "bob-distinct" {
		t.Errorf("CreateUser changed a given DistinctID to %q", bob.DistinctID)
	}
	if alice.UUID == bob.UUID || alice.DistinctID == bob.DistinctID || alice.ID == bob.ID {
		t.Errorf("two users share an id: %+v, %+v", alice, bob)
	}

	for _, email := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
		err := s.CreateUser(ctx, &gatehouse.User{Email: email})
		wantDetail(t, "CreateUser("+email+")", err, gatehouse.EUnique, "email", "There is already a user with this email.")
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers() = %d, %v, want 2", n, err)
	}

	lookups := []struct {
		name string
		get  func() (*gatehouse.User, error)
	}{
		{"User(id)", func() (*gatehouse.User, error) { return s.User(ctx, alice.ID) }},
		{"UserByUUID", func() (*gatehouse.User, error) { return s.UserByUUID(ctx, alice.UUID) }},
		{"UserByEmail(as typed)", func() (*gatehouse.User, error) { return s.UserByEmail(ctx, "Alice@Example.com") }},
		{"UserByEmail(other case)", func() (*gatehouse.User, error) { return s.UserByEmail(ctx, "aLiCe@eXaMpLe.CoM") }},
	}
	for _, l := range lookups {
		got, err := l.get()
		if err != nil {
			t.Errorf("%s = %v", l.name, err)
			continue
		}
		if diff := cmp.Diff(alice, got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", l.name, diff)
		}
	}
	// Twice: the first call may read the database, the second may answer from memory.
	for range 2 {
		uuids := []string{alice.UUID, "not-a-uuid", bob.UUID, alice.UUID}
		ids, err := s.UserIDsByUUID(ctx, uuids)
		if want := []int64{alice.ID, 0, bob.ID, alice.ID}; err != nil || !slices.Equal(ids, want) {
			t.Errorf("UserIDsByUUID(%q) = %v, %v; want %v", uuids, ids, err, want)
		}
	}
	if ids, err := s.UserIDsByUUID(ctx, nil); err != nil || len(ids) != 0 {
		t.Errorf("UserIDsByUUID(none) = %v, %v; want none", ids, err)
	}
	_, err := s.User(ctx, bob.ID+1000)
	wantNotFound(t, "User(unknown)", err)
	_, err = s.UserByUUID(ctx, "not-a-uuid")
	wantNotFound(t, "UserByUUID(unknown)", err)
	_, err = s.UserByEmail(ctx, "carol@example.com")
	wantNotFound(t, "UserByEmail(unknown)", err)

	org, project := e.org("Acme", alice)
	alice.FirstName, alice.PasswordHash = "Alicia", "new-hash"
	alice.CurrentOrganizationID, alice.CurrentProjectID = org.ID, project.ID
	if err := s.UpdateUser(ctx, alice); err != nil {
		t.Fatalf("UpdateUser(alice) = %v", err)
	}
	got, err := s.User(ctx, alice.ID)
	if err != nil {
		t.Fatalf("User(alice) = %v", err)
	}
	if diff := cmp.Diff(alice, got); diff != "" {
		t.Errorf("User after UpdateUser mismatch (-want +got):\n%s", diff)
	}
	// Clearing the current organization and project stores "none".
	alice.CurrentOrganizationID, alice.CurrentProjectID = "", 0
	if err := s.UpdateUser(ctx, alice); err != nil {
		t.Fatalf("UpdateUser(alice, no current) = %v", err)
	}
	if got, _ := s.User(ctx, alice.ID); got == nil || got.CurrentOrganizationID != "" || got.CurrentProjectID != 0 {
		t.Errorf("User after clearing current = %+v, want no current organization or project", got)
	}
	err = s.UpdateUser(ctx, &gatehouse.User{ID: bob.ID + 1000, Email: "x@example.com"})
	wantNotFound(t, "UpdateUser(unknown)", err)
}

func testTimestamps(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	u := e.user("time@example.com")
	checkUTC(t, "CreateUser CreatedAt", u.CreatedAt)
	if u.CreatedAt != u.CreatedAt.Truncate(time.Microsecond) {
		t.Errorf("CreateUser CreatedAt = %v, want microsecond precision", u.CreatedAt)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User() = %v", err)
	}
	checkUTC(t, "User CreatedAt", got.CreatedAt)
	if !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("User CreatedAt = %v, want %v as written", got.CreatedAt, u.CreatedAt)
	}

	// A time given by the caller keeps its microseconds, whatever its zone.
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	expires := time.Date(2031, 7, 9, 23, 59, 58, 123456789, zone)
	if err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "t", UserID: u.ID, ExpiresAt: expires}); err != nil {
		t.Fatalf("CreateSession() = %v", err)
	}
	limit := expires.Truncate(time.Microsecond)
	if _, err := s.SessionUser(ctx, "t", limit.Add(-time.Microsecond)); err != nil {
		t.Errorf("SessionUser(1µs before expiry) = %v, want the user", err)
	}
	_, err = s.SessionUser(ctx, "t", limit)
	wantNotFound(t, "SessionUser(at expiry)", err)

	k := &gatehouse.APIKey{UserID: u.ID, Label: "k", ValueHash: "h", MaskValue: "phx_…h"}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatalf("CreateAPIKey() = %v", err)
	}
	if _, err := s.APIKeyUser(ctx, "h", expires); err != nil {
		t.Fatalf("APIKeyUser() = %v", err)
	}
	keys, err := s.APIKeys(ctx, u.ID)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil {
		t.Fatalf("APIKeys() = %+v, %v, want one used key", keys, err)
	}
	checkUTC(t, "APIKey LastUsedAt", *keys[0].LastUsedAt)
	if want := expires.Truncate(time.Microsecond); !keys[0].LastUsedAt.Equal(want) {
		t.Errorf("APIKey LastUsedAt = %v, want %v", keys[0].LastUsedAt, want)
	}
}

func testSessions(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	u := e.user("s@example.com")
	now := time.Now().UTC()
	if err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "live", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession(live) = %v", err)
	}
	if err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "old", UserID: u.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}); err != nil {
		t.Fatalf("CreateSession(old) = %v", err)
	}
	err := s.CreateSession(ctx, gatehouse.Session{TokenHash: "orphan", UserID: u.ID + 1000, ExpiresAt: now.Add(time.Hour)})
	wantNotFound(t, "CreateSession(unknown user)", err)

	got, err := s.SessionUser(ctx, "live", now)
	if err != nil {
		t.Fatalf("SessionUser(live) = %v", err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("SessionUser(live) mismatch (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		hash string
		at   time.Time
	}{
		{"old", now},                     // expired
		{"live", now.Add(2 * time.Hour)}, // expired later
		{"unknown", now},
	} {
		_, err := s.SessionUser(ctx, c.hash, c.at)
		wantNotFound(t, "SessionUser("+c.hash+")", err)
	}
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Fatalf("DeleteSession(live) = %v", err)
	}
	_, err = s.SessionUser(ctx, "live", now)
	wantNotFound(t, "SessionUser(deleted)", err)
	wantNotFound(t, "DeleteSession(deleted)", s.DeleteSession(ctx, "live"))
}

func testAPIKeys(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	var keys []gatehouse.APIKey
	for _, label := range []string{"ci", "laptop"} {
		k := &gatehouse.APIKey{UserID: alice.ID, Label: label, ValueHash: "hash-" + label, MaskValue: "phx_…" + label}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey(%q) = %v", label, err)
		}
		if k.ID == "" || k.CreatedAt.IsZero() || k.LastUsedAt != nil {
			t.Errorf("CreateAPIKey(%q) = %+v, want ID and CreatedAt set, never used", label, k)
		}
		keys = append(keys, *k)
	}
	err := s.CreateAPIKey(ctx, &gatehouse.APIKey{UserID: bob.ID, Label: "copy", ValueHash: "hash-ci", MaskValue: "x"})
	wantError(t, "CreateAPIKey(same hash)", err, gatehouse.EUnique, "value")

	got, err := s.APIKeys(ctx, alice.ID)
	if err != nil {
		t.Fatalf("APIKeys(alice) = %v", err)
	}
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("APIKeys(alice) mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.APIKeys(ctx, bob.ID); err != nil || len(got) != 0 {
		t.Errorf("APIKeys(bob) = %v, %v, want none", got, err)
	}

	used := time.Now().UTC().Truncate(time.Microsecond)
	owner, err := s.APIKeyUser(ctx, "hash-ci", used)
	if err != nil || owner.ID != alice.ID {
		t.Fatalf("APIKeyUser(hash-ci) = %v, %v, want alice", owner, err)
	}
	got, _ = s.APIKeys(ctx, alice.ID)
	if len(got) != 2 || got[0].LastUsedAt == nil || !got[0].LastUsedAt.Equal(used) || got[1].LastUsedAt != nil {
		t.Errorf("APIKeys after use = %+v, want the first used at %v", got, used)
	}
	_, err = s.APIKeyUser(ctx, "hash-unknown", used)
	wantNotFound(t, "APIKeyUser(unknown)", err)

	wantNotFound(t, "DeleteAPIKey(bob, alice's key)", s.DeleteAPIKey(ctx, bob.ID, keys[0].ID))
	if err := s.DeleteAPIKey(ctx, alice.ID, keys[0].ID); err != nil {
		t.Fatalf("DeleteAPIKey(alice) = %v", err)
	}
	_, err = s.APIKeyUser(ctx, "hash-ci", used)
	wantNotFound(t, "APIKeyUser(deleted)", err)
	wantNotFound(t, "DeleteAPIKey(deleted)", s.DeleteAPIKey(ctx, alice.ID, keys[0].ID))
	if got, _ := s.APIKeys(ctx, alice.ID); len(got) != 1 || got[0].ID != keys[1].ID {
		t.Errorf("APIKeys after delete = %+v, want only %q", got, keys[1].Label)
	}
	if !strings.HasPrefix(keys[1].MaskValue, "phx_") {
		t.Errorf("MaskValue = %q, want it kept as given", keys[1].MaskValue)
	}
}

func testUsersByID(t *testing.T, e *env) {
	a, b, c := e.user("a@example.com"), e.user("b@example.com"), e.user("c@example.com")
	got, err := e.s.UsersByID(e.ctx, []int64{c.ID, a.ID, 987654, a.ID})
	if err != nil {
		t.Fatalf("UsersByID = %v", err)
	}
	emails := map[string]bool{}
	for _, u := range got {
		emails[u.Email] = true
	}
	if len(emails) != 2 || !emails["a@example.com"] || !emails["c@example.com"] || emails[b.Email] {
		t.Errorf("UsersByID(c, a, unknown, a) = %v, want a and c", emails)
	}
	if got, err := e.s.UsersByID(e.ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("UsersByID(nil) = %v, %v, want none", got, err)
	}
}

func testLoginFailures(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	const window = 15 * time.Minute
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	got := func(at time.Time, keys ...string) map[string]int {
		t.Helper()
		n, err := s.LoginFailures(ctx, keys, at, window)
		if err != nil {
			t.Fatalf("LoginFailures() = %v", err)
		}
		return n
	}
	if n := got(t0, "a:x", "u:y"); len(n) != 0 {
		t.Errorf("LoginFailures() before any = %v, want none", n)
	}
	for i := range 3 {
		n, err := s.RecordLoginFailure(ctx, []string{"a:x", "u:y"}, t0.Add(time.Duration(i)*time.Minute), window)
		if err != nil {
			t.Fatalf("RecordLoginFailure() = %v", err)
		}
		if n["a:x"] != i+1 || n["u:y"] != i+1 {
			t.Errorf("RecordLoginFailure() #%d = %v, want both at %d", i+1, n, i+1)
		}
	}
	if _, err := s.RecordLoginFailure(ctx, []string{"u:other"}, t0, window); err != nil {
		t.Fatal(err)
	}
	if n := got(t0.Add(5*time.Minute), "a:x", "u:y", "u:nobody"); n["a:x"] != 3 || n["u:y"] != 3 || len(n) != 2 {
		t.Errorf("LoginFailures() = %v, want a:x and u:y at 3", n)
	}
	// The window began with the first failure: 15 minutes later it is over,
	// and the next failure starts a new one.
	if n := got(t0.Add(window), "a:x"); len(n) != 0 {
		t.Errorf("LoginFailures() once the window ran out = %v, want none", n)
	}
	if _, err := s.RecordLoginFailure(ctx, []string{"a:x"}, t0.Add(window+time.Minute), window); err != nil {
		t.Fatal(err)
	}
	if n := got(t0.Add(window+2*time.Minute), "a:x", "u:other"); n["a:x"] != 1 || len(n) != 1 {
		t.Errorf("LoginFailures() in a new window = %v, want a:x at 1", n)
	}

	// A failure taken back (a login counted before its check, then let in) leaves the
	// key as it was: at none, forgotten, so that the next failure starts a new window.
	t1 := t0.Add(window + 3*time.Minute)
	if err := s.ForgiveLoginFailure(ctx, []string{"a:x", "u:nobody"}, t1, window); err != nil {
		t.Fatalf("ForgiveLoginFailure() = %v", err)
	}
	if n := got(t1, "a:x", "u:nobody"); len(n) != 0 {
		t.Errorf("LoginFailures() after taking back the only failure = %v, want none", n)
	}

	// Counted at once, each failure sees a count of its own: the limiter lets only the
	// bound's number of concurrent logins through to the password check.
	const burst = 16
	counts := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			n, err := s.RecordLoginFailure(ctx, []string{"p:burst"}, t1, window)
			if err != nil {
				t.Errorf("RecordLoginFailure() = %v", err)
			}
			counts[i] = n["p:burst"]
		})
	}
	wg.Wait()
	slices.Sort(counts)
	for i, n := range counts {
		if n != i+1 {
			t.Fatalf("concurrent RecordLoginFailure() counts = %v, want 1 to %d once each", counts, burst)
		}
	}

	// Failures counted and taken back at once, for keys given in any order (the limiter
	// counts a pair, a client and an account together): neither waits on the other for
	// ever, and every count taken is given back.
	keys := []string{"p:c|acct", "a:c", "u:acct"}
	for i := range 4 * burst {
		wg.Go(func() {
			ks := slices.Clone(keys)
			if i%2 == 1 {
				slices.Reverse(ks)
			}
			if _, err := s.RecordLoginFailure(ctx, ks, t1, window); err != nil {
				t.Errorf("RecordLoginFailure() beside ForgiveLoginFailure() = %v", err)
				return
			}
			slices.Reverse(ks)
			if err := s.ForgiveLoginFailure(ctx, ks, t1, window); err != nil {
				t.Errorf("ForgiveLoginFailure() beside RecordLoginFailure() = %v", err)
			}
		})
	}
	wg.Wait()
	if n := got(t1, keys...); len(n) != 0 {
		t.Errorf("LoginFailures() after every count was taken back = %v, want none", n)
	}
}
