package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
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
	DiskEncryption string         `json:"disk_encryption"`
	Message        string         `json:"message,omitempty"` // why offline or revoked
	Matters        []MatterStatus `json:"matters"`
	Updated        time.Time      `json:"updated"`
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

const statusTokenFile = "status.token"

// serveStatus serves GET /status on a loopback address until ctx ends. The
// caller must present the token from the data dir's status.token (readable
// by the user only), so other local users can't read matter names.
func serveStatus(ctx context.Context, addr, dataDir string, board *statusBoard) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("status endpoint %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("status endpoint %q must be a loopback address", addr)
	}
	token := randomToken()
	if err := WriteFileAtomic(filepath.Join(dataDir, statusTokenFile), []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("status token: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status endpoint: %w", err)
	}
	// Record the real address (the port may have been 0) next to the token.
	if err := WriteFileAtomic(filepath.Join(dataDir, "status.addr"), []byte(l.Addr().String()+"\n"), 0o600); err != nil {
		l.Close()
		return fmt.Errorf("status address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "missing or wrong status token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(board.snapshot())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status endpoint: %w", err)
	}
	return nil
}

// ReadStatus asks the running agent for its status, using the token and
// address it left in dataDir.
func ReadStatus(ctx context.Context, dataDir string) (Status, error) {
	var s Status
	tok, err := os.ReadFile(filepath.Join(dataDir, statusTokenFile))
	if err != nil {
		return s, fmt.Errorf("agent not running or never started (no status token in %s): %w", dataDir, err)
	}
	addr, err := os.ReadFile(filepath.Join(dataDir, "status.addr"))
	if err != nil {
		return s, fmt.Errorf("agent not running (no status address in %s): %w", dataDir, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+strings.TrimSpace(string(addr))+"/status", nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("agent not reachable at %s: %w", strings.TrimSpace(string(addr)), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("agent status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("agent status: %w", err)
	}
	return s, nil
}
