package sqlstore

import "database/sql"

// Stats reports the connection pool's figures, for /metrics.
func (db *DB) Stats() sql.DBStats { return db.db.Stats() }
