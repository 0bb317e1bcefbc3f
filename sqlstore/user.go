package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
)

// userColumns selects a user joined as u; userScanners reads them.
const userColumns = `u.id, u.uuid, u.distinct_id, u.email, u.first_name, u.password_hash,
	u.current_organization_id, u.current_project_id, u.created_at, u.disabled_at`

// userScanners returns the destinations of userColumns. With outer, every column may be
// NULL (a LEFT JOIN that found no user) and reads as its zero value.
func userScanners(u *gatehouse.User, outer bool) []any {
	if outer {
		return []any{orZero(&u.ID), orZero(&u.UUID), orZero(&u.DistinctID), orZero(&u.Email), orZero(&u.FirstName),
			orZero(&u.PasswordHash), orZero(&u.CurrentOrganizationID), orZero(&u.CurrentProjectID), scanTime(&u.CreatedAt), scanNullTime(&u.DisabledAt)}
	}
	return []any{&u.ID, &u.UUID, &u.DistinctID, &u.Email, &u.FirstName,
		&u.PasswordHash, orZero(&u.CurrentOrganizationID), orZero(&u.CurrentProjectID), scanTime(&u.CreatedAt), scanNullTime(&u.DisabledAt)}
}

func (db *DB) user(ctx context.Context, q querier, where string, args ...any) (*gatehouse.User, error) {
	var u gatehouse.User
	err := q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE `+where, args...).Scan(userScanners(&u, false)...)
	if err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser inserts u, setting ID, UUID and DistinctID (when empty) and CreatedAt.
// Returns EUnique attr "email" when the email, compared case-insensitively, is taken.
func (db *DB) CreateUser(ctx context.Context, u *gatehouse.User) error {
	return db.insertUser(ctx, db.w, u)
}

// firstUserLock is the PostgreSQL advisory lock key that first-user signups take.
const firstUserLock = 0x6761746568 // "gateh"

// CreateFirstUser inserts u as CreateUser does, but only while no user exists:
// gatehouse.ErrSignupClosed otherwise, and nothing is written. Concurrent calls create
// one user at most: on PostgreSQL each takes a transaction-level advisory lock before it
// counts, so the second counts after the first has committed; on SQLite the write
// transaction holds the database's write lock from its start.
func (db *DB) CreateFirstUser(ctx context.Context, u *gatehouse.User) error {
	stored := *u
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, firstUserLock); err != nil {
				return err
			}
		}
		var any bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&any); err != nil {
			return err
		}
		if any {
			return gatehouse.ErrSignupClosed
		}
		return db.insertUser(ctx, tx, &stored)
	})
	if err != nil {
		return err
	}
	*u = stored
	return nil
}

func (db *DB) insertUser(ctx context.Context, q querier, u *gatehouse.User) error {
	if u.UUID == "" {
		u.UUID = newID()
	}
	if u.DistinctID == "" {
		u.DistinctID = uuid.NewString()
	}
	u.CreatedAt = db.clock()
	err := q.QueryRowContext(ctx, `
		INSERT INTO users (uuid, distinct_id, email, first_name, password_hash, current_organization_id, current_project_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING id`,
		u.UUID, u.DistinctID, u.Email, u.FirstName, u.PasswordHash,
		nullable(u.CurrentOrganizationID), nullable(u.CurrentProjectID), ts(u.CreatedAt),
	).Scan(&u.ID)
	return unique(err, "email", detailEmailTaken)
}

// User returns the user with this id.
func (db *DB) User(ctx context.Context, id int64) (*gatehouse.User, error) {
	// Every object answered names its creator: from memory, as UsersByID keeps them.
	us, err := db.UsersByID(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, gatehouse.NotFound()
	}
	return &us[0], nil
}

// UserByUUID returns the user with this UUID.
//
// An application asking about one of its users by uuid makes this call on every check, so a
// uuid seen before is answered from the cache like the API key that asks.
func (db *DB) UserByUUID(ctx context.Context, uuid string) (*gatehouse.User, error) {
	gen, cached := db.cache.begin()
	if cached {
		if u, ok := db.cache.userByUUID(uuid); ok {
			return &u, nil
		}
	}
	u, err := db.user(ctx, db.db, `u.uuid = $1`, uuid)
	if err == nil && cached {
		db.cache.putUsers(gen, []gatehouse.User{*u})
	}
	return u, err
}

// UserIDsByUUID returns the ids of the users with these uuids, in their order, 0 for a
// uuid that names no user. Known users are answered from memory under one lock (a batch of
// checks about 100 members spent a fifth of its server time on 100 UserByUUID calls); the
// others are read whole, as UserByUUID would, and kept.
func (db *DB) UserIDsByUUID(ctx context.Context, uuids []string) ([]int64, error) {
	ids := make([]int64, len(uuids))
	gen, cached := db.cache.begin()
	var missing []string
	if cached {
		missing = db.cache.userIDsByUUID(uuids, ids)
	} else {
		missing = uuids
	}
	if len(missing) == 0 {
		return ids, nil
	}
	missing = slices.Compact(slices.Sorted(slices.Values(missing)))
	found := make(map[string]int64, len(missing))
	var read []gatehouse.User
	for start := 0; start < len(missing); start += idsPerQuery {
		var err error
		from := len(read)
		if read, err = db.appendUsersIn(ctx, read, "uuid", inArgs(missing[start:min(start+idsPerQuery, len(missing))])); err != nil {
			return nil, err
		}
		for _, u := range read[from:] {
			found[u.UUID] = u.ID
		}
	}
	if cached {
		db.cache.putUsers(gen, read)
	}
	for i, u := range uuids {
		if ids[i] == 0 {
			ids[i] = found[u]
		}
	}
	return ids, nil
}

// appendUsersIn appends to out the users whose column (id or uuid) is one of args, at
// most idsPerQuery of them.
func (db *DB) appendUsersIn(ctx context.Context, out []gatehouse.User, column string, args []any) ([]gatehouse.User, error) {
	rows, err := db.queryHot(ctx, `SELECT `+userColumns+` FROM users u WHERE u.`+column+` IN (`+placeholders(1, len(args))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u gatehouse.User
		if err := rows.Scan(userScanners(&u, false)...); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserByEmail returns the user with this email, compared case-insensitively.
func (db *DB) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	return db.user(ctx, db.db, `lower(u.email) = lower($1)`, email)
}

// UpdateUser saves FirstName, PasswordHash, CurrentOrganizationID and CurrentProjectID.
// EDoesNotExist when the current organization or project does not exist.
func (db *DB) UpdateUser(ctx context.Context, u *gatehouse.User) error {
	_, err := db.UpdateUserFunc(ctx, u.ID, func(cur *gatehouse.User) error {
		cur.FirstName, cur.PasswordHash = u.FirstName, u.PasswordHash
		cur.CurrentOrganizationID, cur.CurrentProjectID = u.CurrentOrganizationID, u.CurrentProjectID
		return nil
	})
	return err
}

// UpdateUserFunc reads the user in a transaction that holds its row (FOR UPDATE; SQLite's
// IMMEDIATE transaction holds the write lock), lets modify change it, and saves
// FirstName, PasswordHash, CurrentOrganizationID and CurrentProjectID. EDoesNotExist when
// the current organization or project does not exist.
func (db *DB) UpdateUserFunc(ctx context.Context, id int64, modify func(u *gatehouse.User) error) (*gatehouse.User, error) {
	// NO KEY UPDATE, not UPDATE: a permission change holding its organization's
	// row checks its activity row's user_id against this row (a KEY SHARE lock),
	// while this transaction may check current_organization_id against that
	// organization. With FOR UPDATE the two wait for each other (PostgreSQL
	// found the deadlock in TestUpdateFuncsKeepConcurrentChanges).
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR NO KEY UPDATE"
	}
	var stored *gatehouse.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		u, err := db.user(ctx, tx, `u.id = $1`+lock, id)
		if err != nil {
			return err
		}
		if err := modify(u); err != nil {
			return err
		}
		if err := affected(tx.ExecContext(ctx, `
			UPDATE users SET first_name = $1, password_hash = $2, current_organization_id = $3, current_project_id = $4
			WHERE id = $5`,
			u.FirstName, u.PasswordHash, nullable(u.CurrentOrganizationID), nullable(u.CurrentProjectID), id)); err != nil {
			return missingParent(err, gatehouse.Errorf(gatehouse.EDoesNotExist, "Organization or project does not exist."))
		}
		stored = u
		return db.notify(ctx, tx, notice{what: noticeUser, id: id})
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// CreateSession inserts s (CreatedAt defaults to now). ENotFound when the user does not exist.
func (db *DB) CreateSession(ctx context.Context, s gatehouse.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.clock()
	}
	_, err := db.w.ExecContext(ctx, `
		INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		s.TokenHash, s.UserID, ts(s.CreatedAt), ts(s.ExpiresAt))
	return missingParent(err, gatehouse.NotFound())
}

// SessionUser returns the user of the session with this token hash if it expires after now.
func (db *DB) SessionUser(ctx context.Context, tokenHash string, now time.Time) (*gatehouse.User, error) {
	var u gatehouse.User
	err := db.queryRowHot(ctx, `
		SELECT `+userColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL`,
		tokenHash, ts(now)).Scan(userScanners(&u, false)...)
	if err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// DeleteSession removes the session; ENotFound when there is none.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	return affected(db.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash))
}

// CreateAPIKey inserts k, setting ID and CreatedAt. EUnique attr "value" when the hash is
// taken; ENotFound when the user does not exist.
func (db *DB) CreateAPIKey(ctx context.Context, k *gatehouse.APIKey) error {
	k.ID = newID()
	k.CreatedAt = db.clock()
	_, err := db.w.ExecContext(ctx, `
		INSERT INTO api_keys (id, user_id, label, value_hash, mask_value, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.UserID, k.Label, k.ValueHash, k.MaskValue, ts(k.CreatedAt), nullTime(k.LastUsedAt))
	err = unique(err, "value", "This API key already exists.")
	return missingParent(err, gatehouse.NotFound())
}

// APIKeys lists userID's keys, oldest first.
func (db *DB) APIKeys(ctx context.Context, userID int64) ([]gatehouse.APIKey, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, user_id, label, value_hash, mask_value, created_at, last_used_at
		FROM api_keys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []gatehouse.APIKey{}
	for rows.Next() {
		var k gatehouse.APIKey
		if err := rows.Scan(&k.ID, &k.UserID, &k.Label, &k.ValueHash, &k.MaskValue, scanTime(&k.CreatedAt), scanNullTime(&k.LastUsedAt)); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteAPIKey removes one of userID's keys; ENotFound when it is not theirs.
func (db *DB) DeleteAPIKey(ctx context.Context, userID int64, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)); err != nil {
			return err
		}
		return db.notify(ctx, tx, notice{what: noticeUser, id: userID})
	})
}

// APIKeyUser returns the owner of the key with this hash and records now as its last use.
func (db *DB) APIKeyUser(ctx context.Context, valueHash string, now time.Time) (*gatehouse.User, error) {
	gen, cached := db.cache.begin()
	k := (*cachedKey)(nil)
	if cached {
		k = db.cache.key(valueHash)
	}
	if k == nil {
		var lastUsed *time.Time
		k = &cachedKey{}
		dest := append(userScanners(&k.user, false), &k.keyID, scanNullTime(&lastUsed))
		err := db.queryRowHot(ctx, `
			SELECT `+userColumns+`, k.id, k.last_used_at
			FROM api_keys k JOIN users u ON u.id = k.user_id
			WHERE k.value_hash = $1 AND u.disabled_at IS NULL`, valueHash).Scan(dest...)
		if err != nil {
			return nil, notFound(err)
		}
		if lastUsed != nil {
			k.lastUsed.Store(lastUsed.UnixNano())
		}
		if cached {
			db.cache.putKey(gen, valueHash, k)
		}
	}
	// Every request authenticates; recording each use would make every
	// read a write. A minute's precision is what "last used" is for.
	if last := k.lastUsed.Load(); last == 0 || now.Sub(time.Unix(0, last)) >= apiKeyUseResolution {
		if k.lastUsed.CompareAndSwap(last, now.UnixNano()) {
			if _, err := db.w.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`,
				ts(now.UTC().Truncate(time.Microsecond)), k.keyID); err != nil {
				k.lastUsed.Store(last) // the next request tries again
				return nil, err
			}
		}
	}
	u := k.user
	return &u, nil
}

// apiKeyUseResolution is how stale an API key's recorded last use may get.
const apiKeyUseResolution = time.Minute

// UsersByID returns the users with these ids, in no particular order; ids
// that name no user are left out.
func (db *DB) UsersByID(ctx context.Context, ids []int64) ([]gatehouse.User, error) {
	out := make([]gatehouse.User, 0, len(ids))
	gen, cached := db.cache.begin()
	if cached {
		if out, ids = lookup(db.cache, inMap(db.cache.users), ids, out); len(ids) == 0 {
			return out, nil
		}
	}
	read := len(out)
	defer func() {
		if cached {
			db.cache.putUsers(gen, out[read:])
		}
	}()
	for start := 0; start < len(ids); start += idsPerQuery {
		var err error
		if out, err = db.appendUsersIn(ctx, out, "id", idArgs(ids[start:min(start+idsPerQuery, len(ids))])); err != nil {
			return nil, err
		}
	}
	return out, nil
}
