package agent

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStatusEndpoint(t *testing.T) {
	dir := t.TempDir()
	board := &statusBoard{}
	board.update(func(s *Status) { s.State = "idle"; s.Device = "LAPTOP-7" })
	board.matter("2026-0001", func(m *MatterStatus) { m.Name = "Demo"; m.Queue = 3 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStatus(ctx, "127.0.0.1:0", dir, board, nil, nil) }()
	defer func() { cancel(); <-done }()

	var s Status
	var err error
	for range 100 { // until the listener is up
		if s, err = ReadStatus(ctx, dir); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "idle" || len(s.Matters) != 1 || s.Matters[0].Queue != 3 {
		t.Fatalf("status = %+v", s)
	}
	st, err := os.Stat(filepath.Join(dir, statusTokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %v, %v; want 0600", st.Mode(), err)
	}
	// Without the token: refused.
	addr, _ := os.ReadFile(filepath.Join(dir, "status.addr"))
	resp, err := http.Get("http://" + string(addr[:len(addr)-1]) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: status %d, want 401", resp.StatusCode)
	}
	// A non-loopback address is refused outright.
	if err := serveStatus(ctx, "0.0.0.0:0", dir, board, nil, nil); err == nil {
		t.Fatal("status endpoint accepted 0.0.0.0")
	}
}
