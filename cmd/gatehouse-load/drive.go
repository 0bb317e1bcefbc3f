package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"
)

// The operations, in the order they take turns.
const (
	opNoop     = "noop"
	opList     = "list"
	opRetrieve = "retrieve"
	opUpdate   = "update"
	opCheck    = "check"
	opBatch    = "batch"
	// The same, asked by an administrator's key about other members (user_uuid), as an
	// application using Gatehouse as its authorization service asks about its users.
	opCheckOther = "check-other"
	opBatchOther = "batch-other"
	// A batch about one other member (chosen per request): what an application asks to
	// show one user what they may do, against batch-other's 100 different members.
	opBatchAnother = "batch-another"
	// A permission change: an administrator's key puts or removes one member's rule on
	// one flag (PUT …/access_controls), each its own transaction, revision and log row.
	opRules = "rules"
	// The transport floor of a batch: the batch's body sent to the no-op process, which
	// reads it and answers with as many bytes as the server's batch answer. What moving
	// the bytes costs the two processes, with nothing parsed or decided.
	opNoopBatch = "noop-batch"
	// The same for a batch about one other member, whose body names the member in
	// every check.
	opNoopBatchAnother = "noop-batch-another"
)

// noopMirrors maps each no-op batch to the operation whose bytes it moves.
var noopMirrors = map[string]string{opNoopBatch: opBatch, opNoopBatchAnother: opBatchAnother}

// isNoop reports whether op goes to the no-op process rather than the server.
func isNoop(op string) bool { return op == opNoop || noopMirrors[op] != "" }

var allOps = []string{opNoop, opList, opRetrieve, opUpdate, opCheck, opBatch, opCheckOther, opBatchAnother, opBatchOther, opNoopBatch, opNoopBatchAnother, opRules}

// defaultOps leaves out rules: permission changes during the run would move what the
// other operations measure.
var defaultOps = allOps[:len(allOps)-1]

// ruleFlags is how many flags each client's rule changes go round: each flag's rule for
// the client's target member goes viewer, editor, none, removed, in turn, so that every
// write changes a rule and the organization's rule count stays within 3/4 × clients ×
// ruleFlags of where the seed put it. Enough distinct objects that the server's snapshot
// folds its changes in during the run, as an organization changing many objects makes it.
const ruleFlags = 256

var ruleLevels = []string{`"viewer"`, `"editor"`, `"none"`, `null`}

func validOp(op string) bool { return slices.Contains(allOps, op) }

// maxWarmChecks is the most checks one request may carry (the API's limit).
const maxWarmChecks = 1000

// batchSize is the number of decisions in one batch check.
const batchSize = 100

// driver sends the load: each of its clients has one keep-alive connection and one user.
type driver struct {
	base    string // the server under test
	noop    string // the no-op baseline
	ws      *workspace
	cfg     *config
	clients []*http.Client
	writes  []int // rule changes sent by each client (one goroutine per client uses it)
	// answers holds, for each batch a no-op batch mirrors, the sizes of each client's
	// answers from the server so far, whose mean the no-op's answer to that client
	// matches: a batch's answer depends on its member and its flags, and one size for
	// every client (the last one's to the first check) made the no-op answer 17 KB
	// where the server answered 12.5 KB on average.
	answers map[string][]answerSizes
}

// answerSizes sums the sizes of one client's answers to one operation. Only that
// client's goroutine touches it.
type answerSizes struct{ bytes, n int }

func (a *answerSizes) add(n int) { a.bytes, a.n = a.bytes+n, a.n+1 }

func (a *answerSizes) mean() int {
	if a.n == 0 {
		return 0
	}
	return a.bytes / a.n
}

func newDriver(base, noop string, ws *workspace, cfg *config) *driver {
	d := &driver{base: base, noop: noop, ws: ws, cfg: cfg, writes: make([]int, cfg.clients), answers: map[string][]answerSizes{}}
	for _, op := range cfg.ops {
		if m := noopMirrors[op]; m != "" {
			d.answers[m] = make([]answerSizes, cfg.clients)
		}
	}
	for range cfg.clients {
		d.clients = append(d.clients, &http.Client{
			// Buffers that hold a whole batch answer: with the default 4 KB the
			// driver, which shares the machine with the server, reads a 17 KB
			// answer in five system calls.
			Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
				ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10},
			Timeout: 30 * time.Second,
		})
	}
	return d
}

// request builds one request of op for client c.
func (d *driver) request(ctx context.Context, op string, c int, rng *rand.Rand) (*http.Request, error) {
	cl := &d.ws.Clients[c]
	p := "/api/projects/" + strconv.FormatInt(d.ws.Project, 10)
	base, key := d.base, cl.APIKey
	var method, path string
	var body []byte
	switch op {
	case opNoop:
		base, method, path = d.noop, http.MethodGet, "/_noop"
	case opList:
		method, path = http.MethodGet, p+"/feature_flags?limit=100&offset="+strconv.Itoa(100*rng.IntN(d.cfg.listPages))
	case opRetrieve:
		method, path = http.MethodGet, p+"/feature_flags/"+strconv.FormatInt(d.ws.Flags[rng.IntN(len(d.ws.Flags))], 10)
	case opUpdate:
		id := cl.Editable[rng.IntN(len(cl.Editable))]
		method, path = http.MethodPatch, p+"/feature_flags/"+strconv.FormatInt(id, 10)
		body = []byte(`{"name":"Flag renamed ` + strconv.Itoa(rng.IntN(1_000_000)) + `"}`)
	case opRules:
		// Client c's flags are its own (distinct from the other clients'), so that no
		// two clients change one rule and each write is a change.
		i := d.writes[c]
		d.writes[c]++
		id := d.ws.Flags[(c*ruleFlags+i%ruleFlags)%len(d.ws.Flags)]
		key = d.ws.Admin
		method, path = http.MethodPut, p+"/feature_flags/"+strconv.FormatInt(id, 10)+"/access_controls"
		body = []byte(`{"access_level":` + ruleLevels[(i/ruleFlags)%len(ruleLevels)] + `,"organization_member":"` + d.ws.Targets[c] + `"}`)
	case opCheck, opBatch, opCheckOther, opBatchAnother, opBatchOther, opNoopBatch, opNoopBatchAnother:
		asked := op // a no-op batch is built as the batch it mirrors
		if m := noopMirrors[op]; m != "" {
			op = m
		}
		n := 1
		if op != opCheck && op != opCheckOther {
			n = batchSize
		}
		other := op == opCheckOther || op == opBatchAnother || op == opBatchOther
		var another string // the member a batch-another asks about
		if other {
			key = d.ws.Admin
			another = d.ws.Others[rng.IntN(len(d.ws.Others))]
		}
		// Appended by hand: the driver shares the machine with the server, and
		// formatting 100 checks with fmt cost it more than the server spends
		// reading them.
		b := make([]byte, 0, 16+56*n)
		b = append(b, `{"checks":[`...)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			action := `"edit"`
			if i%2 == 1 {
				action = `"view"`
			}
			b = append(b, `{"kind":"feature_flags","id":`...)
			b = strconv.AppendInt(b, d.ws.Flags[rng.IntN(len(d.ws.Flags))], 10)
			b = append(append(b, `,"action":`...), action...)
			if other {
				if op != opBatchAnother {
					another = d.ws.Others[rng.IntN(len(d.ws.Others))]
				}
				b = append(append(append(b, `,"user_uuid":"`...), another...), '"')
			}
			b = append(b, '}')
		}
		method, path, body = http.MethodPost, p+"/access/check", append(b, `]}`...)
		if asked != op {
			base, path = d.noop, "/_noop?bytes="+strconv.Itoa(d.answers[op][c].mean())
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends one request and reads the whole answer; ok is false for anything but 2xx.
func (d *driver) do(ctx context.Context, op string, c int, rng *rand.Rand) (ok bool, err error) {
	req, err := d.request(ctx, op, c, rng)
	if err != nil {
		return false, err
	}
	resp, err := d.clients[c].Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return false, err
	}
	if sizes := d.answers[op]; sizes != nil {
		sizes[c].add(int(n))
	}
	return resp.StatusCode/100 == 2, nil
}

// check sends one request of each operation from each client and fails unless all succeed,
// so that a misconfigured run does not report the speed of error answers.
func (d *driver) check(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(0, 0))
	ops := d.cfg.ops
	for _, op := range d.cfg.ops {
		if m := noopMirrors[op]; m != "" {
			ops = append([]string{m}, ops...) // first, to learn the size of its answer
		}
	}
	for _, op := range ops {
		for c := range d.clients {
			req, err := d.request(ctx, op, c, rng)
			if err != nil {
				return err
			}
			resp, err := d.clients[c].Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, body)
			}
			if sizes := d.answers[op]; sizes != nil {
				sizes[c].add(len(body))
			}
		}
	}
	return nil
}

// warmUp asks once about every flag and every member the run asks about (as a server
// that has run a while has them in memory), then sends a few requests of each operation,
// so that caches, connections and the snapshot exist before anything is measured.
func (d *driver) warmUp(ctx context.Context) {
	for start := 0; start < max(len(d.ws.Flags), len(d.ws.Others)); start += maxWarmChecks {
		b := []byte(`{"checks":[`)
		for i := start; i < start+maxWarmChecks && i < max(len(d.ws.Flags), len(d.ws.Others)); i++ {
			if i > start {
				b = append(b, ',')
			}
			b = append(b, `{"kind":"feature_flags","id":`...)
			b = strconv.AppendInt(b, d.ws.Flags[i%len(d.ws.Flags)], 10)
			b = append(append(append(b, `,"action":"view","user_uuid":"`...), d.ws.Others[i%len(d.ws.Others)]...), `"}`...)
		}
		b = append(b, `]}`...)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/api/projects/"+strconv.FormatInt(d.ws.Project, 10)+"/access/check", bytes.NewReader(b))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+d.ws.Admin)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := d.clients[0].Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	var wg sync.WaitGroup
	for c := range d.clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for range 5 {
				for _, op := range d.cfg.ops {
					_, _ = d.do(ctx, op, c, rng)
				}
			}
		})
	}
	wg.Wait()
}

// result is what one operation did over the whole run.
type result struct {
	op        string
	requests  int
	errors    int
	elapsed   time.Duration // the sum of its turns
	latencies []time.Duration
	rates     []float64 // requests a second in each of its turns, round by round
}

// drive gives each operation turns of cfg.slice, round after round, until cfg.duration is
// spent or an operation reaches cfg.maxRequests; all clients send that operation during
// its turn, one request at a time each.
func (d *driver) drive(ctx context.Context) []*result {
	results := make([]*result, len(d.cfg.ops))
	for i, op := range d.cfg.ops {
		results[i] = &result{op: op}
	}
	rngs := make([]*rand.Rand, len(d.clients))
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(uint64(c), 2))
	}
	// Each round takes the operations in an order of its own: in one order for every
	// round, what an operation leaves the machine to do after its turn (a write's
	// flush to disk, the database's background work, the collector) would always fall
	// in the same next operation's turn. Shuffled, it falls on each operation alike,
	// the no-op included.
	order := slices.Clone(results)
	shuffle := rand.New(rand.NewPCG(7, 7))
	deadline := time.Now().Add(d.cfg.duration)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, res := range order {
			if res.requests >= d.cfg.maxRequests {
				continue
			}
			d.turn(ctx, res, rngs)
		}
		if !slices.ContainsFunc(results, func(r *result) bool { return r.requests < d.cfg.maxRequests }) {
			break
		}
	}
	return results
}

// turn runs one slice of res.op with every client.
func (d *driver) turn(ctx context.Context, res *result, rngs []*rand.Rand) {
	budget := d.cfg.maxRequests - res.requests
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0 // requests in this turn
	start := time.Now()
	end := start.Add(d.cfg.slice)
	for c := range d.clients {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for time.Now().Before(end) && ctx.Err() == nil {
				mu.Lock()
				if budget == 0 {
					mu.Unlock()
					break
				}
				budget--
				mu.Unlock()
				t := time.Now()
				ok, err := d.do(ctx, res.op, c, rngs[c])
				lat = append(lat, time.Since(t))
				if !ok || err != nil {
					errs++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.requests += len(lat)
			n += len(lat)
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	res.elapsed += took
	res.rates = append(res.rates, float64(n)/took.Seconds())
}

// report prints one line per operation: throughput, latency and throughput as a share of
// the no-op handler's.
func report(w io.Writer, dialect string, cfg *config, results []*result) {
	var noop float64
	var noopRates []float64
	for _, r := range results {
		if r.op == opNoop && r.elapsed > 0 {
			noop = float64(r.requests) / r.elapsed.Seconds()
			noopRates = r.rates
		}
	}
	fmt.Fprintf(w, "\n%s, %d clients, %v in turns of %v\n", dialect, cfg.clients, cfg.duration, cfg.slice)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\trequests\terrors\treq/s\tp50\tp99\tof no-op\tby round\t")
	for _, r := range results {
		rate := 0.0
		if r.elapsed > 0 {
			rate = float64(r.requests) / r.elapsed.Seconds()
		}
		share, byRound := "-", "-"
		if noop > 0 {
			share = fmt.Sprintf("%.1f%%", 100*rate/noop)
		}
		if m, ok := medianRatio(r.rates, noopRates); ok {
			byRound = fmt.Sprintf("%.1f%%", 100*m)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%v\t%v\t%s\t%s\t\n", r.op, r.requests, r.errors, rate,
			percentile(r.latencies, 0.50), percentile(r.latencies, 0.99), share, byRound)
	}
	tw.Flush()
	fmt.Fprintf(w, "(list: GET of one of the first %d 100-item pages of %d flags, with can_edit; batch: %d decisions in one POST …/access/check; *-other: asked with an administrator's key about other members of %d, by user_uuid (batch-another: the whole batch about one of them); rules: an administrator's key changing one member's rule on one flag, the organization holding %d object rules; no-op: a plain Go HTTP server in its own process; noop-batch, noop-batch-another: the body of batch, of batch-another, to the no-op, which answers each client with as many bytes as the server did on average; of no-op: the whole run's rates; by round: the median over rounds of each turn's rate to the no-op's turn of the same round)\n", cfg.listPages, cfg.flags, batchSize, cfg.members, cfg.grants)
}

// medianRatio is the median over rounds of rates[i]/base[i]: each operation's turn
// beside the no-op's turn of the same round, a quarter of a second apart, so that a
// burst of the machine's neighbours during a few turns moves the figure little. ok is
// false without a round holding both.
func medianRatio(rates, base []float64) (m float64, ok bool) {
	var ratios []float64
	for i := range min(len(rates), len(base)) {
		if base[i] > 0 {
			ratios = append(ratios, rates[i]/base[i])
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	slices.Sort(ratios)
	if n := len(ratios); n%2 == 0 {
		return (ratios[n/2-1] + ratios[n/2]) / 2, true
	}
	return ratios[len(ratios)/2], true
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	v := s[min(len(s)-1, int(p*float64(len(s))))]
	switch {
	case v >= time.Millisecond:
		return v.Round(10 * time.Microsecond)
	case v >= time.Microsecond:
		return v.Round(time.Microsecond)
	}
	return v
}
