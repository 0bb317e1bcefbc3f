package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/license"
)

// BenchmarkRuleWrites measures permission changes through the API: each
// operation upserts one object rule (one transaction with its activity row
// and revision bump), from parallel clients on loopback.
//
//	eval "$(.ci/start-postgres)" && go test ./server -run '^$' -bench RuleWrites -benchtime 2000x
func BenchmarkRuleWrites(b *testing.B) {
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			e := newEnv(b, dialect, license.Enterprise)
			var paths []string
			for range 64 {
				paths = append(paths, e.owner.create(0))
			}
			ms := e.membershipID(e.member(1))
			levels := []string{"viewer", "editor", "none", "manager"}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					body := fmt.Sprintf(`{"access_level":%q,"organization_member":%q}`, levels[i%4], ms)
					req, _ := http.NewRequest("PUT", e.srv.URL+paths[i%64]+"/access_controls", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+e.owner.token)
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != 200 {
						b.Errorf("PUT access_controls: %v %v", resp, err)
						return
					}
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
