package gateway

import (
	"log"
	"net/http"
)

// HTTPServer is the API's server: Handler with the slow-client bounds of
// limits. A client gets read_header_timeout to send its request line and
// headers (at most 128 KiB), and idle_timeout between requests; the body
// and the answer get request_timeout, set per request in serveHTTP and
// extended only where a request needs it (chunk transfers by size /
// min_transfer_rate, long polls by their wait), so no server-wide read or
// write timeout cuts a long poll. errLog receives the server's own errors
// (nil: the standard logger).
func (s *Server) HTTPServer(errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errLog,
	}
}

// OpsHTTPServer is the operational endpoints' server (OpsHandler): every
// request is small, so it has fixed read and write timeouts.
func (s *Server) OpsHTTPServer(errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           s.OpsHandler(),
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.Limits.RequestTimeout,
		WriteTimeout:      s.cfg.Limits.RequestTimeout,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errLog,
	}
}

// maxHeaderBytes bounds a request's line and headers (a token is at most
// 64 KiB).
const maxHeaderBytes = 128 << 10
