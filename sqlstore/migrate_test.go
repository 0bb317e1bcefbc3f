package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestMigrationViews migrates a database written by version 3 of the schema: migration 4
// names the object of every activity row about a rule on one (from the row's changes,
// from the rule's other rows, or from the rule), and migrations 4 and 5 fold the names
// of the roles that exist, in every script. Two roles that the ASCII-only index let in
// as one name ("Straße" and "STRASSE") both stay; the newer one can still be changed,
// but neither name takes another variant.
func TestMigrationViews(t *testing.T) {
	for _, dialect := range sqltest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			url := sqltest.NewDatabaseURL(t, dialect)
			old, err := sqlstore.OpenAt(ctx, url, 3)
			if err != nil {
				t.Fatalf("OpenAt(3) = %v", err)
			}
			w := old.Writer()
			at := func(i int) string { return fmt.Sprintf("2024-01-01T00:00:%02d.000000Z", i) }
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := w.ExecContext(ctx, q, args...); err != nil {
					old.Close()
					t.Fatalf("%s: %v", q, err)
				}
			}
			id := func(q string, args ...any) int64 {
				t.Helper()
				var n int64
				if err := w.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
					old.Close()
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}
			const org = "01900000-0000-7000-8000-000000000001"
			exec(`INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, 'Acme', $2, $2)`, org, at(0))
			p := id(`INSERT INTO projects (uuid, organization_id, name, api_token, created_at) VALUES ('p', $1, 'Default', 'phc_x', $2) RETURNING id`, org, at(0))
			kept := id(`INSERT INTO resources (project_id, kind, created_at, updated_at) VALUES ($1, 'feature_flags', $2, $2) RETURNING id`, p, at(1))
			gone := id(`INSERT INTO resources (project_id, kind, created_at, updated_at) VALUES ($1, 'cohorts', $2, $2) RETURNING id`, p, at(1))
			exec(`INSERT INTO access_rules (id, organization_id, scope, project_id, kind, object_id, level, project_level, created_at, updated_at)
				VALUES ('rule-kept', $1, 'object', $2, 'feature_flags', $3, 'viewer', 'none', $4, $4)`, org, p, kept, at(2))
			for i, name := range []string{"Straße", "STRASSE", "Équipe"} {
				exec(`INSERT INTO roles (id, organization_id, name, levels, created_at, updated_at) VALUES ($1, $2, $3, '{}', $4, $4)`,
					fmt.Sprintf("role-%d", i), org, name, at(3+i))
			}
			logRow := func(i int, scope, verb, item, detail string) {
				exec(`INSERT INTO activity_log (organization_id, project_id, scope, activity, item_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					org, p, scope, verb, item, detail, at(10+i))
			}
			// Rule "rule-gone" on the cohort, which is then deleted: created, updated, deleted.
			logRow(0, "AccessControl", "created", "rule-gone", fmt.Sprintf(`{"changes":[{"field":"scope","before":null,"after":"object"},{"field":"object","before":null,"after":%d},{"field":"level","before":null,"after":"none"}]}`, gone))
			logRow(1, "AccessControl", "updated", "rule-gone", `{"changes":[{"field":"level","before":"none","after":"viewer"}]}`)
			logRow(2, "AccessControl", "deleted", "rule-gone", fmt.Sprintf(`{"changes":[{"field":"scope","before":"object","after":null},{"field":"object","before":%d,"after":null}]}`, gone))
			exec(`DELETE FROM resources WHERE id = $1`, gone)
			// A change of level of a rule whose creation is not in the log.
			logRow(3, "AccessControl", "updated", "rule-kept", `{"changes":[{"field":"level","before":"editor","after":"viewer"}]}`)
			// Rows about no object.
			logRow(4, "AccessControl", "created", "rule-kind", `{"changes":[{"field":"scope","before":null,"after":"kind"},{"field":"kind","before":null,"after":"cohorts"}]}`)
			logRow(5, "Role", "created", "role-0", `{"changes":[{"field":"name","before":null,"after":"Straße"}]}`)
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			db, err := sqlstore.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("Open(version 3 database) = %v", err)
			}
			defer db.Close()
			log, _, err := db.ActivityLog(ctx, gatehouse.ActivityFilter{OrganizationID: org})
			if err != nil {
				t.Fatalf("ActivityLog() = %v", err)
			}
			want := []int64{0, 0, kept, gone, gone, gone} // newest first
			var got []int64
			for _, a := range log {
				got = append(got, a.ObjectID)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ObjectIDs after migration = %v, want %v", got, want)
			}

			taken := func(call string, err error) {
				t.Helper()
				if gatehouse.ErrorCode(err) != gatehouse.EUnique {
					t.Errorf("%s = %v, want EUnique", call, err)
				}
			}
			for _, name := range []string{"strasse", "STRAßE", "équipe", "ÉQUIPE"} {
				taken("CreateRole("+name+")", db.CreateRole(ctx, &gatehouse.Role{OrganizationID: org, Name: name}, 0))
			}
			newer, err := db.Role(ctx, org, "role-1")
			if err != nil {
				t.Fatalf("Role(STRASSE) = %v", err)
			}
			newer.Levels[access.Cohorts] = access.Viewer
			if err := db.UpdateRole(ctx, newer, 0); err != nil {
				t.Errorf("UpdateRole(STRASSE's levels) = %v, want success", err)
			}
			newer.Name = "Strasse"
			taken("UpdateRole(STRASSE → Strasse)", db.UpdateRole(ctx, newer, 0))
			newer.Name = "Avenue"
			if err := db.UpdateRole(ctx, newer, 0); err != nil {
				t.Errorf("UpdateRole(STRASSE → Avenue) = %v, want success", err)
			}
			taken("CreateRole(AVENUE)", db.CreateRole(ctx, &gatehouse.Role{OrganizationID: org, Name: "AVENUE"}, 0))
			taken("CreateRole(STRASSE)", db.CreateRole(ctx, &gatehouse.Role{OrganizationID: org, Name: "STRASSE"}, 0))
		})
	}
}
