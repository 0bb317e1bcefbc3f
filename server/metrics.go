package server

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/access"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series. Labels stay bounded: route
// patterns, kinds and results, never ids.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	// byKind holds the decision counters per kind and result, resolved
	// once so the hot path does no label lookups.
	byKind   [access.NumKinds][3]prometheus.Counter
	rebuilds prometheus.Counter
	rebuildS prometheus.Histogram
	// applied counts snapshots brought to a later revision by replaying the
	// logged rule changes, without reading the organization's facts.
	applied prometheus.Counter
	// compactions counts snapshots whose overlays were folded into their
	// tables in the background (compactSnapshot).
	compactions prometheus.Counter
	// staleDecisions counts writes refused because the rules changed after
	// their request was authorized, each then authorized and handled again.
	staleDecisions prometheus.Counter
	// served holds each (route, status)'s request counter and its route's latency
	// histogram once resolved: WithLabelValues hashes the labels and takes a
	// lock on every call, twice a request, where this is one lookup. Routes and
	// statuses are few, so it stays small.
	served sync.Map // routeStatus → *servedMetrics
}

type routeStatus struct {
	route  string
	status int
}

type servedMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// countRequest counts a request answered on route with status, in d.
func (m *metrics) countRequest(route string, status int, d time.Duration) {
	k := routeStatus{route, status}
	v, ok := m.served.Load(k)
	if !ok {
		v, _ = m.served.LoadOrStore(k, &servedMetrics{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route),
		})
	}
	sm := v.(*servedMetrics)
	sm.requests.Inc()
	sm.latency.Observe(d.Seconds())
}

// cacheLiveness is implemented by stores that keep hot reads in memory.
type cacheLiveness interface {
	CacheLive() bool
}

// dbStatser is implemented by stores backed by database/sql; its pool
// figures are exported when present.
type dbStatser interface {
	Stats() sql.DBStats
}

func newMetrics(reg *prometheus.Registry, store any) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_access_decisions_total", Help: "Access decisions by resource kind and result (allowed, denied, hidden).",
		}, []string{"kind", "result"}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_snapshot_rebuilds_total", Help: "Organization access snapshots compiled.",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_snapshot_changes_applied_total", Help: "Organization access snapshots brought to a later revision from the logged rule changes alone.",
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_snapshot_compactions_total", Help: "Organization access snapshots whose changes since their compilation were folded in, in the background.",
		}),
		rebuildS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_snapshot_rebuild_duration_seconds", Help: "Time to load and compile one organization's access snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		staleDecisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_stale_decisions_total", Help: "Writes found to rest on rules that changed after their request was authorized, and authorized again.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.decisions, m.rebuilds, m.rebuildS, m.applied, m.compactions, m.staleDecisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range access.Kinds {
		for r, name := range resultNames {
			m.byKind[k][r] = m.decisions.WithLabelValues(k.String(), name)
		}
	}
	if st, ok := store.(dbStatser); ok {
		reg.MustRegister(newPoolCollector(st))
	}
	if c, ok := store.(cacheLiveness); ok {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_cache_live",
			Help: "1 while the store serves hot reads from memory; 0 while it reads the database instead (its change notices are not known to arrive).",
		}, func() float64 {
			if c.CacheLive() {
				return 1
			}
			return 0
		}))
	}
	return m
}

// Decision results, as labels.
const (
	resultAllowed = iota
	resultDenied
	resultHidden
)

var resultNames = [3]string{"allowed", "denied", "hidden"}

// decided counts n decisions on kind k with result r.
func (m *metrics) decided(k access.Kind, r int, n int) {
	if n > 0 {
		m.byKind[k][r].Add(float64(n))
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// poolCollector exports the database pool's figures at scrape time.
type poolCollector struct {
	st                      dbStatser
	open, inUse, idle, wait *prometheus.Desc
	waitSeconds             *prometheus.Desc
}

func newPoolCollector(st dbStatser) *poolCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &poolCollector{st: st,
		open:        d("gatehouse_db_connections_open", "Open database connections."),
		inUse:       d("gatehouse_db_connections_in_use", "Database connections in use."),
		idle:        d("gatehouse_db_connections_idle", "Idle database connections."),
		wait:        d("gatehouse_db_wait_total", "Times a request waited for a database connection."),
		waitSeconds: d("gatehouse_db_wait_seconds_total", "Total time spent waiting for a database connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.inUse
	ch <- c.idle
	ch <- c.wait
	ch <- c.waitSeconds
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.st.Stats()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.OpenConnections))
	ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds())
}
