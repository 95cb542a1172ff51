package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startStatus serves board's status from dir until the test ends.
func startStatus(t *testing.T, dir string, board *statusBoard) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStatus(ctx, "127.0.0.1:0", dir, board, nil, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	for range 200 {
		if _, err := ReadStatus(ctx, dir); err == nil {
			b, _ := os.ReadFile(filepath.Join(dir, statusAddrFile))
			return strings.TrimSpace(string(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("status endpoint did not come up")
	return ""
}

// Another local user who takes a port and relays `mattersync status`
// requests to the real agent learns nothing: the client's proof names the
// address it dialled, so the agent refuses the relayed request, and the
// token itself never crosses the socket.
func TestStatusRelayRefused(t *testing.T) {
	dir := t.TempDir()
	board := &statusBoard{}
	board.update(func(s *Status) { s.State = "idle" })
	board.matter("2026-0001", func(m *MatterStatus) { m.Name = "Secret merger" })
	real := startStatus(t, dir, board)
	tok, _ := os.ReadFile(filepath.Join(dir, statusTokenFile))

	var mu sync.Mutex
	var relayed []string
	target, _ := url.Parse("http://" + real)
	proxy := httputil.NewSingleHostReverseProxy(target)
	squatter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		relayed = append(relayed, r.Header.Get("Authorization"))
		mu.Unlock()
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		mu.Lock()
		relayed = append(relayed, rec.Body.String())
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		io.Copy(w, rec.Body)
	}))
	defer squatter.Close()
	// The user's next `status` finds the squatter's address (a stale file,
	// or one the squatter raced in).
	if err := os.WriteFile(filepath.Join(dir, statusAddrFile), []byte(strings.TrimPrefix(squatter.URL, "http://")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatus(context.Background(), dir); err == nil {
		t.Fatal("status read through a relay")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range relayed {
		if strings.Contains(s, strings.TrimSpace(string(tok))) || strings.Contains(s, "Secret merger") {
			t.Fatalf("the relay saw the token or the status: %q", s)
		}
	}
	if len(relayed) == 0 {
		t.Fatal("the relay was never asked")
	}
}
