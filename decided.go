package gatehouse

import (
	"context"
	"sync"

	"github.com/gatehouse/gatehouse/access"
)

// A request is authorized on one snapshot of its organization's rules, and that snapshot
// reflects one rules revision. A caller removed or demoted while the request is in flight
// must not complete a write their new level forbids, so the revision travels with the
// request's context to the store: every write transaction that the decision guarded reads
// the organization's revision (holding its row) and, when a permission change committed
// since, asks the request's Recheck whether the rules as they now are still allow what the
// request was authorized on. If they do, the write goes on; if not, the store answers
// ErrStaleDecision and writes nothing, and the server authorizes the request again.
// Asking, rather than refusing whenever the revision moved, keeps writes going in an
// organization whose rules change all the time: only a change that concerns the caller
// sends them round again.

// Recheck reports whether a request authorized at one revision would be authorized alike
// on its organization's rules at revision rev. rules reads those rules inside the write's
// own transaction, for when no snapshot of rev is at hand.
type Recheck func(rev int64, rules RulesAt) (bool, error)

// RulesAt reads an organization's rules at the revision a write transaction holds, inside
// that transaction (which must not wait for another connection while it holds the
// organization's row).
type RulesAt struct {
	// Facts reads all of them.
	Facts func() (access.Facts, error)
	// Changes reads the rule changes that took them from revision from to the held one,
	// in order: a few rows where Facts reads every rule. ok is false when they cannot be
	// replayed (a change other than a rule's came between, or the log no longer reaches
	// back to from): read Facts then.
	Changes func(from int64) (changes []access.RuleChange, ok bool, err error)
}

// decidedKey is the context key of a *decided.
type decidedKey struct{}

// decided is the organization and rules revision a request's decision was made on.
type decided struct {
	orgID   string
	recheck Recheck // nil: any change of the rules is taken for one that concerns the request

	mu  sync.Mutex
	rev int64
}

// WithDecidedRevision returns ctx carrying that its request was authorized on
// organization orgID's rules at revision rev; recheck (nil: none) decides whether a later
// revision still allows it.
func WithDecidedRevision(ctx context.Context, orgID string, rev int64, recheck Recheck) context.Context {
	return context.WithValue(ctx, decidedKey{}, &decided{orgID: orgID, rev: rev, recheck: recheck})
}

// DecidedRevision returns the organization and the revision of its rules that ctx's
// request was authorized on; ok is false when it carries none.
func DecidedRevision(ctx context.Context) (orgID string, rev int64, ok bool) {
	d, _ := ctx.Value(decidedKey{}).(*decided)
	if d == nil {
		return "", 0, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.orgID, d.rev, true
}

// HoldsDecision is what a store asks inside a write transaction that has read organization
// orgID's rules revision as rev (and holds it there): nil when ctx's request carries no
// decision about orgID, when its decision was made at rev, or when its Recheck finds that
// the rules at rev allow it alike (rev is then the request's revision); ErrStaleDecision
// otherwise.
func HoldsDecision(ctx context.Context, orgID string, rev int64, rules RulesAt) error {
	d, _ := ctx.Value(decidedKey{}).(*decided)
	if d == nil || d.orgID != orgID {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rev == rev {
		return nil
	}
	if d.recheck == nil {
		return ErrStaleDecision
	}
	ok, err := d.recheck(rev, rules)
	if err != nil {
		return err
	}
	if !ok {
		return ErrStaleDecision
	}
	d.rev = rev
	return nil
}

// AdvanceDecidedRevision records that ctx's request itself moved organization orgID's
// rules from revision from to rev (a permission change it committed), so that its own
// next write is not taken for one resting on old rules. It does nothing when ctx carries
// no decision about orgID, or one made at another revision.
func AdvanceDecidedRevision(ctx context.Context, orgID string, from, rev int64) {
	d, _ := ctx.Value(decidedKey{}).(*decided)
	if d == nil || d.orgID != orgID {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rev == from {
		d.rev = rev
	}
}

// ErrStaleDecision is the store's answer to a write whose request was authorized on rules
// that have changed since in a way that concerns it (code EConflict). The server
// authorizes the request again.
var ErrStaleDecision = &Error{Code: EConflict, Detail: "Access rules changed while the request was handled: try again."}

// actorNameKey is the context key of the name a non-person actor's changes are logged under.
type actorNameKey struct{}

// WithActorName returns ctx whose changes the activity log attributes to name (such as
// "SCIM (acme.test)") rather than to a user: a provisioning client acts for no one.
func WithActorName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, actorNameKey{}, name)
}

// ActorName returns the name WithActorName gave ctx, or "".
func ActorName(ctx context.Context) string {
	s, _ := ctx.Value(actorNameKey{}).(string)
	return s
}
