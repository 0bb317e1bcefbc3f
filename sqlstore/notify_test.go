package sqlstore

import (
	"testing"

	"github.com/gatehouse/gatehouse/access"
)

// TestNoticePayloads: every notice survives the trip through a PostgreSQL
// payload, and malformed payloads are refused rather than half-read.
func TestNoticePayloads(t *testing.T) {
	for _, n := range []notice{
		{what: noticeRules, org: "0190-a"},
		{what: noticeOrg, org: "0190-b"},
		{what: noticeUser, id: 7},
		{what: noticeProject, id: 8},
		{what: noticeProjectGone, id: 8},
		{what: noticeList, id: 9},
		{what: noticeCreated, id: 10, project: 2, kind: access.SessionRecordings, creator: 3, at: 1767225600000001},
		{what: noticeCreated, id: 11, project: 2, kind: access.FeatureFlags},
		{what: noticeObject, id: 12, project: 2},
		{what: noticeHidden, id: 13, project: 2},
	} {
		got, ok := parseNotice(n.payload())
		if !ok || got != n {
			t.Errorf("parseNotice(%q) = %+v, %v; want %+v", n.payload(), got, ok, n)
		}
	}
	for _, bad := range []string{"", "ping", "r:", "u:x", "u:1:2", "x:1", "c:1:2:nope:3:4", "c:1:2:cohorts:3", "zz:1", "q:1"} {
		if n, ok := parseNotice(bad); ok {
			t.Errorf("parseNotice(%q) = %+v, want it refused", bad, n)
		}
	}
}
