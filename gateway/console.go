package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/web"
)

// The web console's static assets (package web) are served at /console/ on
// the API's listener (listen), not on ops_listen: the console calls the
// admin API, which lives on the API's listener only, and its CSP allows
// connections to its own origin (and Vault's); ops_listen is plain HTTP,
// unauthenticated and loopback or internal by design, and IT's browsers
// reach the gateway where mattersync-admin does, at MATTERSYNC_GATEWAY_URL.
//
// The files are public and the same for everyone: no token, and no audit
// record (one per static file would let anyone buy audit appends; the
// console's actions go through the audited admin API). Each request is
// logged and measured like an API request, under the route "/console/".

// withConsole puts the console's routes in front of the API handler.
func (s *Server) withConsole(apiHandler http.Handler) http.Handler {
	vault := s.cfg.Console.VaultAddress
	if vault == "" {
		vault = s.cfg.Vault.Address
	}
	c, err := web.New(web.Config{VaultAddress: vault, OIDCMount: s.cfg.Console.OIDCMount, TokenRole: s.cfg.Console.TokenRole, KVMount: s.cfg.Console.KVMount, HSTS: s.cfg.TLS.CertFile != ""})
	if err != nil {
		// The assets are embedded: only a broken build gets here. The API
		// still serves; /console/ answers 404 through it.
		s.log.Error("web console unavailable", "err", err)
		return apiHandler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != strings.TrimSuffix(web.Prefix, "/") && !strings.HasPrefix(r.URL.Path, web.Prefix) {
			apiHandler.ServeHTTP(w, r)
			return
		}
		rq := &request{id: newRequestID(), start: time.Now(), route: web.Prefix}
		rq.rec = audit.Record{Time: rq.start, Source: s.source(r), RequestID: rq.id, Action: "console.asset"}
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set(api.HeaderRequestID, rq.id)
		// As for the API: the server sets no timeouts of its own beyond
		// the header's, so each request gets its deadline here.
		rc := http.NewResponseController(sw)
		deadline := rq.start.Add(s.cfg.Limits.RequestTimeout)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		defer s.observe(r, rq, sw)
		c.ServeHTTP(sw, r)
	})
}
