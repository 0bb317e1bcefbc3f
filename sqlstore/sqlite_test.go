package sqlstore_test

import (
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/sqlstore/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gatehouse.Store { return sqltest.Open(t, sqlstore.SQLite) })
}
