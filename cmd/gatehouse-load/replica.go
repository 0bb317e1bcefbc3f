package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The replica probe: with --replica, a second gatehouse serve runs on the same PostgreSQL
// database, as a second replica behind a load balancer would. Throughout the run, one
// goroutine changes a rule through the first server and then asks the second, again and
// again, until the second's decision is the first's: how long a permission change takes
// to reach every replica, while the rest of the load (rule changes included) goes on.

// probeTimeout is how long a change may take to reach the replica before it counts as lost.
const probeTimeout = 10 * time.Second

// probeLevels are the probe's rule, in turn: each differs from the one before in the level
// it gives (a member rule at manager is above anything a role grants a plain member here;
// removing it leaves the roles and defaults).
var probeLevels = []string{`"manager"`, `null`}

// probeResult is what the probe saw.
type probeResult struct {
	delays  []time.Duration // per change that moved the decision: its answer to the replica's agreeing
	skipped int             // changes that did not move the writer's own decision
	lost    int             // changes the replica had not shown after probeTimeout
	sent    int             // requests sent to the writer (which logs them)
	err     error
}

// probeFlag is the flag whose rule the probe changes: past the flags the rules operation
// goes round, so that no other writer touches its rule.
func probeFlag(ws *workspace, clients int) int64 {
	return ws.Flags[(clients*ruleFlags)%len(ws.Flags)]
}

// probe changes client 0's rule on the probe flag through writer and waits for replica to
// decide as writer does, until ctx ends.
func probe(ctx context.Context, writer, replica string, ws *workspace, clients int) *probeResult {
	res := &probeResult{}
	// An error once the run has ended is the run ending, not a failure.
	stop := func(err error) *probeResult {
		if ctx.Err() == nil {
			res.err = err
		}
		return res
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
	flag := probeFlag(ws, clients)
	p := "/api/projects/" + strconv.FormatInt(ws.Project, 10)
	put := p + "/feature_flags/" + strconv.FormatInt(flag, 10) + "/access_controls"
	check := []byte(`{"checks":[{"kind":"feature_flags","id":` + strconv.FormatInt(flag, 10) + `,"action":"view"}]}`)
	key := ws.Clients[0].APIKey
	before, err := decision(ctx, hc, writer, p, key, check)
	res.sent++
	if err != nil {
		return stop(err)
	}
	// The replica's first decision compiles the organization: a restart's cost, measured
	// by --scale, not a change's.
	if _, err := decision(ctx, hc, replica, p, key, check); err != nil {
		return stop(err)
	}
	for i := 0; ctx.Err() == nil; i++ {
		body := []byte(`{"access_level":` + probeLevels[i%len(probeLevels)] + `,"organization_member":"` + ws.Targets[0] + `"}`)
		if err := send(ctx, hc, http.MethodPut, writer+put, ws.Admin, body, nil); err != nil {
			return stop(err)
		}
		acked := time.Now()
		res.sent += 2
		want, err := decision(ctx, hc, writer, p, key, check)
		if err != nil {
			return stop(err)
		}
		if want == before {
			res.skipped++
			continue
		}
		before = want
		for {
			got, err := decision(ctx, hc, replica, p, key, check)
			if err != nil {
				return stop(err)
			}
			if got == want {
				res.delays = append(res.delays, time.Since(acked))
				break
			}
			if time.Since(acked) > probeTimeout {
				res.lost++
				break
			}
		}
	}
	return res
}

// decision is the level and source a server gives the key's user on the probe's check.
func decision(ctx context.Context, hc *http.Client, base, project, key string, check []byte) (string, error) {
	var out struct {
		Results []struct {
			Level  string `json:"access_level"`
			Source string `json:"access_source"`
		} `json:"results"`
	}
	if err := send(ctx, hc, http.MethodPost, base+project+"/access/check", key, check, &out); err != nil {
		return "", err
	}
	if len(out.Results) != 1 {
		return "", fmt.Errorf("access/check: %d results for one check", len(out.Results))
	}
	return out.Results[0].Level + " " + out.Results[0].Source, nil
}

// send makes one request and decodes a 2xx answer into out (if not nil).
func send(ctx context.Context, hc *http.Client, method, url, key string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL.Path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// report prints how long the changes took to reach the replica.
func (r *probeResult) report(w io.Writer) {
	fmt.Fprintf(w, "replica: %d rule changes made through the first server reached the second's decisions (time from the change's answer to the second server's first agreeing decision): p50 %v, p99 %v, max %v; %d not shown within %v; %d did not move the decision\n",
		len(r.delays), percentile(r.delays, 0.50), percentile(r.delays, 0.99), percentile(r.delays, 1), r.lost, probeTimeout, r.skipped)
}
