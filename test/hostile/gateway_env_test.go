package hostile

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// The gateway attacks run against an in-process gateway on its fast
// backends (SQLite, blobs in memory, tokens from a local issuer): what is
// attacked is the gateway's own code.

// logBuffer collects a gateway's JSON log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startGateway starts a gateway with tune applied to its configuration;
// its log goes to logs if not nil.
func startGateway(t *testing.T, tune func(*gateway.Config), logs io.Writer) *gatewaytest.Gateway {
	t.Helper()
	o := gatewaytest.Options{Config: tune}
	if logs != nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return gatewaytest.Start(t, o)
}

// send makes one request to the gateway's API; hdr may set
// Authorization, X-Forwarded-For and the rest.
func send(t *testing.T, g *gatewaytest.Gateway, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	return sendTo(t, g.HTTP, g.URL, method, path, hdr)
}

func sendTo(t *testing.T, c *http.Client, base, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%.40s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%.40s %s: read: %v", method, path, err)
	}
	return res, string(b)
}

// scrape returns the gateway's Prometheus exposition.
func scrape(t *testing.T, g *gatewaytest.Gateway) string {
	t.Helper()
	res, body := sendTo(t, g.HTTP, g.OpsURL, "GET", "/metrics", nil)
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	return body
}

// series returns the lines of metric name in a Prometheus exposition.
func series(exposition, name string) []string {
	var out []string
	for _, l := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}
