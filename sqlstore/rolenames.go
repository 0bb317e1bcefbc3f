package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// nameKey is a role name as its organization's unique index compares it: Unicode case
// folded ("ÉQUIPE", "équipe" and "Équipe" are one name, and "STRASSE" is "straße"), then
// composed, so that two spellings a reader cannot tell apart are one name too. Neither
// engine's lower() can do this (SQLite's folds ASCII only, PostgreSQL's follows the
// database's locale), so the key is computed here and stored in roles.name_key.
func nameKey(name string) string {
	return norm.NFC.String(cases.Fold().String(name))
}

// foldRoleNames is migration 5: it fills in roles.name_key (added by migration 4) for
// the roles that exist, oldest first. A role whose key an older role of its organization
// already holds, a case variant that the ASCII-only index let in, keeps a NULL key: it
// stays as it was, but no new variant of either name can be created, and renaming it to
// one of them is refused.
var foldRoleNames = goose.NewGoMigration(5, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, organization_id, name FROM roles ORDER BY created_at, id`)
	if err != nil {
		return err
	}
	type role struct{ id, key string }
	var keep []role
	taken := map[[2]string]bool{}
	for rows.Next() {
		var id, org, name string
		if err := rows.Scan(&id, &org, &name); err != nil {
			rows.Close()
			return err
		}
		k := [2]string{org, nameKey(name)}
		if !taken[k] {
			taken[k] = true
			keep = append(keep, role{id, k[1]})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range keep {
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET name_key = $1 WHERE id = $2`, r.key, r.id); err != nil {
			return err
		}
	}
	return nil
}}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
