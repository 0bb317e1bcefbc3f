package sqlstore

import "database/sql"

// SQL exposes the connection to the tests of package sqlstore_test.
func (db *DB) SQL() *sql.DB { return db.db }
