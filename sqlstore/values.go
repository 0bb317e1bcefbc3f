package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/gatehouse/gatehouse"
)

// timeLayout is how a timestamp travels to both engines: fixed width, so that SQLite's text
// compares and sorts as time does, and a form PostgreSQL parses into timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts is a timestamp argument.
type ts time.Time

func (t ts) Value() (driver.Value, error) {
	return time.Time(t).UTC().Format(timeLayout), nil
}

// nullTime is a timestamp argument that is NULL when nil.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// timeScanner reads a timestamp column of either engine into a UTC time; NULL leaves the
// zero time (or a nil *time.Time with nullable).
type timeScanner struct {
	t        *time.Time
	nullable **time.Time
}

func scanTime(t *time.Time) sql.Scanner      { return timeScanner{t: t} }
func scanNullTime(t **time.Time) sql.Scanner { return timeScanner{nullable: t} }
func (s timeScanner) set(t time.Time, null bool) {
	if s.nullable != nil {
		if null {
			*s.nullable = nil
		} else {
			*s.nullable = &t
		}
		return
	}
	*s.t = t
}

func (s timeScanner) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		s.set(time.Time{}, true)
		return nil
	case time.Time:
		t = v
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	s.set(t.UTC(), false)
	return nil
}

func (s timeScanner) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("sqlstore: bad timestamp %q: %w", v, err)
	}
	s.set(t.UTC(), false)
	return nil
}

// expiry is a rule's expiry argument (Unix nanoseconds): NULL for 0, never.
func expiry(n int64) any {
	if n == 0 {
		return nil
	}
	return ts(time.Unix(0, n))
}

// scanExpiry reads a rule's expiry into p as Unix nanoseconds, NULL as 0.
func scanExpiry(p *int64) sql.Scanner {
	return scanFunc(func(src any) error {
		var t *time.Time
		if err := scanNullTime(&t).Scan(src); err != nil {
			return err
		}
		*p = 0
		if t != nil {
			*p = t.UnixNano()
		}
		return nil
	})
}

type scanFunc func(src any) error

func (f scanFunc) Scan(src any) error { return f(src) }

// nullable returns v, or NULL for v's zero value: the store writes "none" (no creator, no
// current project) as NULL so that foreign keys hold.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// orZero reads a nullable column into p, NULL as p's zero value.
func orZero[T any](p *T) sql.Scanner { return zeroScanner[T]{p} }

type zeroScanner[T any] struct{ p *T }

func (z zeroScanner[T]) Scan(src any) error {
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	*z.p = n.V
	return nil
}

// violation is the kind of constraint a driver error reports.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

// SQLite's extended result codes for constraint failures (sqlite3.h).
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// classify reads the constraint a driver error reports from its code, never its message.
func classify(err error) violation {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return uniqueViolation
		case sqliteConstraintForeignKey:
			return foreignKeyViolation
		}
		return noViolation
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return uniqueViolation
		case "23503": // foreign_key_violation
			return foreignKeyViolation
		}
	}
	return noViolation
}

// unique translates a uniqueness violation into EUnique naming attr; other errors pass.
func unique(err error, attr, detail string) error {
	if classify(err) == uniqueViolation {
		return gatehouse.FieldError(gatehouse.EUnique, attr, detail)
	}
	return err
}

// missingParent translates a foreign-key violation into err2; other errors pass.
func missingParent(err error, err2 *gatehouse.Error) error {
	if classify(err) == foreignKeyViolation {
		return err2
	}
	return err
}

// The details of uniqueness errors, as PostHog words them.
const (
	detailEmailTaken   = "There is already a user with this email."
	detailRoleTaken    = "There is already a role with this name."
	detailRuleExists   = "This resource access already exists."
	detailInRole       = "User is already part of the role."
	detailMember       = "User is already a member of this organization."
	detailAPITokenUsed = "There is already a project with this API token."
)
