package agent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Status is what `mattersync status` shows: the agent's state and one entry
// per matter.
type Status struct {
	State  string `json:"state"` // starting | syncing | idle | offline | revoked | stopped
	User   string `json:"user,omitempty"`
	Device string `json:"device"`
	Root   string `json:"root"`
	// DiskEncryption of the disk holding Root: on, off or unknown (…).
	DiskEncryption string `json:"disk_encryption"`
	Message        string `json:"message,omitempty"` // why offline or revoked
	// Notices are sentences for the user about the Matters folder itself:
	// a matter folder renamed here whose name was put back, files or
	// folders placed directly in Matters/ (not in any matter: not synced).
	Notices []string       `json:"notices,omitempty"`
	Matters []MatterStatus `json:"matters"`
	// Open lists the documents open in an editor elsewhere (their copies
	// here marked read-only) or here (presence.go).
	Open []OpenFile `json:"open,omitempty"`
	// PortTaken is the configured status address when another program
	// held it at start (on a terminal server, possibly another user's):
	// the agent listens on a free port instead, and a bookmark of the
	// configured one reaches that program, not this agent.
	PortTaken string    `json:"port_taken,omitempty"`
	Updated   time.Time `json:"updated"`
}

// PortTakenNotice says what PortTaken means, for status and the page; ""
// when the configured port was free.
func (s Status) PortTakenNotice() string {
	if s.PortTaken == "" {
		return ""
	}
	return "The configured status address " + s.PortTaken + " belongs to another program on this computer (perhaps another user's): " +
		"this agent uses a free port instead, which `mattersync status --open` finds. Do not use bookmarks or links to " + s.PortTaken + ": they reach that program."
}

// MatterStatus is one matter's sync state.
type MatterStatus struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Folder    string    `json:"folder"`
	State     string    `json:"state"` // syncing | idle | error | removed
	Queue     int       `json:"queue"` // local changes waiting to go up
	LastSync  time.Time `json:"last_sync,omitzero"`
	Conflicts int       `json:"conflicts"`
	Errors    []string  `json:"errors,omitempty"`
	// Progress of the current pass's uploads (initial sync, large change).
	FilesDone  int `json:"files_done"`
	FilesTotal int `json:"files_total"`
	// ProgressOf says what FilesDone and FilesTotal count: "files" to
	// upload, or "changes" of the feed to apply (a first sync, a laptop
	// back after days away); ProgressSince is when that started (the
	// status page's ETA).
	ProgressOf    string    `json:"progress_of,omitempty"`
	ProgressSince time.Time `json:"progress_since,omitzero"`
	pullFrom      uint64    // the feed cursor the pull being shown started at
}

// statusBoard holds the live status; every method is safe for concurrent use.
type statusBoard struct {
	mu sync.Mutex // guards s
	s  Status
}

func (b *statusBoard) snapshot() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.s
	s.Matters = append([]MatterStatus(nil), b.s.Matters...)
	s.Notices = append([]string(nil), b.s.Notices...)
	s.Open = append([]OpenFile(nil), b.s.Open...)
	for i := range s.Matters {
		s.Matters[i].Errors = append([]string(nil), s.Matters[i].Errors...)
	}
	return s
}

// update applies f to the status under the lock.
func (b *statusBoard) update(f func(*Status)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.s)
	b.s.Updated = time.Now()
}

// matter applies f to one matter's entry, creating it if needed.
func (b *statusBoard) matter(id string, f func(*MatterStatus)) {
	b.update(func(s *Status) {
		for i := range s.Matters {
			if s.Matters[i].ID == id {
				f(&s.Matters[i])
				return
			}
		}
		s.Matters = append(s.Matters, MatterStatus{ID: id})
		f(&s.Matters[len(s.Matters)-1])
	})
}

const (
	statusTokenFile = "status.token"
	statusAddrFile  = "status.addr"
	// Headers of the status handshake (see serveStatus).
	statusNonceHeader = "X-Mattersync-Nonce"
	statusProofHeader = "X-Mattersync-Proof"
	maxStatusBytes    = 16 << 20
)

// statusProof is the HMAC-SHA256, keyed with the status token, of one side
// of the status handshake: the request (bound to the address the client
// dialled) or the response (bound to the client's nonce and the body).
func statusProof(token []byte, parts ...string) string {
	m := hmac.New(sha256.New, token)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// serveStatus serves GET /status on a loopback address until ctx ends.
//
// The status token in the data dir (readable by the user only) is the
// shared secret, and it never crosses the socket: on a machine with other
// users, anyone can listen on a loopback port, so each side proves it holds
// the token. The client sends a fresh nonce and an HMAC of the nonce and the
// address it dialled; the agent answers only such a request, and signs its
// answer with an HMAC of the nonce and the body. A process squatting the
// port, or answering at a stale address, learns nothing it can replay and
// cannot feed `mattersync status` a made-up state. With the default port 0
// the address is new on every start, so there is no well-known port to
// squat either.
//
// The same port serves the status page for the user's browser
// (statuspage.go); acts are its actions (nil: status only).
func serveStatus(ctx context.Context, addr, dataDir string, board *statusBoard, acts pageActions, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("status endpoint %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("status endpoint %q must be a loopback address", addr)
	}
	token := randomToken()
	l, err := net.Listen("tcp", addr)
	if _, port, _ := net.SplitHostPort(addr); err != nil && port != "0" {
		// A fixed port from a machine-wide config, taken by another
		// user's agent on a terminal server (or anything else): any free
		// port works as well, since clients read it from status.addr. Said
		// aloud, not silent: whatever holds the port gets what a browser
		// sends to it (the page's cookie is scoped to its path for that,
		// statuspage.go).
		taken := err
		if l, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err == nil {
			board.update(func(s *Status) { s.PortTaken = addr })
			if log != nil {
				log.Warn("status endpoint: the configured port belongs to another process (perhaps another user's); listening on a free port instead (status.addr has it); links to the configured port reach that process",
					"configured", addr, "using", l.Addr().String(), "err", taken.Error())
			}
		}
	}
	if err != nil {
		return fmt.Errorf("status endpoint: %w", err)
	}
	self := l.Addr().String()
	// Token first, then the address: a client that finds the address
	// finds the token that goes with it.
	if err := WriteFileAtomic(filepath.Join(dataDir, statusTokenFile), []byte(token+"\n"), 0o600); err != nil {
		l.Close()
		return fmt.Errorf("status token: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dataDir, statusAddrFile), []byte(self+"\n"), 0o600); err != nil {
		l.Close()
		return fmt.Errorf("status address: %w", err)
	}
	page, err := newStatusPage(token, self, dataDir, board, acts, log)
	if err != nil {
		l.Close()
		return fmt.Errorf("status page: %w", err)
	}
	mux := http.NewServeMux()
	page.routes(mux)
	ca, _ := acts.(cliActions)
	registerActions(mux, token, self, ca)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		nonce := r.Header.Get(statusNonceHeader)
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Mattersync-Proof ")
		want := statusProof([]byte(token), "status request", self, nonce)
		if len(nonce) != 64 || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			http.Error(w, "missing or wrong status proof", http.StatusUnauthorized)
			return
		}
		body, err := json.Marshal(board.snapshot())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(statusProofHeader, statusProof([]byte(token), "status response", nonce, string(body)))
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(l)
	if !errors.Is(err, http.ErrServerClosed) {
		l.Close()
		return fmt.Errorf("status endpoint: %w", err)
	}
	<-stopped
	// A stale address would send the next `status` to whoever takes the
	// port; the handshake makes that harmless, this makes it rare.
	_ = os.Remove(filepath.Join(dataDir, statusAddrFile))
	return nil
}

// ServeStatus serves st as the status until ctx ends, for when no agent
// runs but the user should still learn why from `mattersync status` (the
// CLI waiting for a Vault login to work again).
func ServeStatus(ctx context.Context, cfg Config, st Status) error {
	if cfg.StatusAddr == "" {
		<-ctx.Done()
		return nil
	}
	board := &statusBoard{}
	board.update(func(s *Status) { *s = st })
	return serveStatus(ctx, cfg.StatusAddr, cfg.DataDir, board, nil, nil)
}

// ReadStatus asks the running agent for its status, using the token and
// address it left in dataDir, and checks that the answer comes from that
// agent (see serveStatus).
func ReadStatus(ctx context.Context, dataDir string) (Status, error) {
	var s Status
	tok, err := os.ReadFile(filepath.Join(dataDir, statusTokenFile))
	if err != nil {
		return s, fmt.Errorf("agent not running or never started (no status token in %s): %w", dataDir, err)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, statusAddrFile))
	if err != nil {
		return s, fmt.Errorf("agent not running (no status address in %s): %w", dataDir, err)
	}
	token, addr := []byte(strings.TrimSpace(string(tok))), strings.TrimSpace(string(b))
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return s, fmt.Errorf("status address %q in %s is not a loopback address", addr, dataDir)
	}
	nonce := randomToken()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return s, err
	}
	req.Header.Set(statusNonceHeader, nonce)
	req.Header.Set("Authorization", "Mattersync-Proof "+statusProof(token, "status request", addr, nonce))
	// No proxy from the environment, no redirects: the answer must come
	// from the address in the file.
	hc := &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return s, fmt.Errorf("agent not reachable at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("agent status at %s: %s (an agent started before the last one stopped, or not this user's agent)", addr, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes))
	if err != nil {
		return s, fmt.Errorf("agent status: %w", err)
	}
	want := statusProof(token, "status response", nonce, string(body))
	if subtle.ConstantTimeCompare([]byte(resp.Header.Get(statusProofHeader)), []byte(want)) != 1 {
		return s, fmt.Errorf("the program answering at %s is not this user's agent (it cannot prove it holds the status token): its answer is ignored", addr)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("agent status: %w", err)
	}
	return s, nil
}
