package server

import (
	"context"
	"net/http"
	"time"
)

// handleHealth serves GET /_health: the process answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, c *call) error {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReady serves GET /_ready: the database answers too.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "database not ready", "err", err)
		encode(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return nil
	}
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleMetrics serves GET /metrics in Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, c *call) error {
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}
