package hostile

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/agent"
)

// Another user of the machine squats the loopback port the user's
// `mattersync status` will dial (the well-known port, or the address left
// by an agent that stopped) and answers with a reassuring made-up status.
// The squatter must neither learn the user's status token nor be believed.
func TestStatusPortSquatter(t *testing.T) {
	dataDir := t.TempDir()
	const token = "b0e1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1"
	var mu sync.Mutex
	var seen []string
	squatter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for k, v := range r.Header {
			seen = append(seen, k+": "+strings.Join(v, ","))
		}
		mu.Unlock()
		w.Header().Set("X-Mattersync-Proof", strings.Repeat("0", 64))
		json.NewEncoder(w).Encode(agent.Status{State: "idle", Message: "all synced, nothing to worry about"})
	}))
	defer squatter.Close()
	for name, body := range map[string]string{"status.token": token, "status.addr": strings.TrimPrefix(squatter.URL, "http://")} {
		if err := os.WriteFile(filepath.Join(dataDir, name), []byte(body+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := agent.ReadStatus(context.Background(), dataDir)
	if err == nil || !strings.Contains(err.Error(), "not this user's agent") {
		t.Fatalf("the squatter's status was believed: %+v, %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the squatter was never asked")
	}
	for _, h := range seen {
		if strings.Contains(h, token) {
			t.Fatalf("the squatter received the status token: %s", h)
		}
	}
}
