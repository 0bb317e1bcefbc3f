package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"github.com/gatehouse/gatehouse"
	"net/http"
	"strings"
	"time"
)

// handleHealth serves GET /_health: the process answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// handleReady serves GET /_ready: the database answers too.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "database not ready", "err", err)
		encode(w, http.StatusServiceUnavailable, statusBody{Status: "database unavailable"})
		return nil
	}
	encode(w, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// handleMetrics serves GET /metrics in Prometheus text format.
// With a metrics token configured it requires it as a bearer token; the
// comparison is of hashes, in constant time, so it says nothing about the token.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.metricsToken != nil {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], s.metricsToken) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return gatehouse.Errorf(gatehouse.ENotAuthenticated, "Authentication credentials were not provided.")
		}
	}
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}
