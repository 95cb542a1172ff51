package hostile

import (
	"crypto/rand"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestGatewayMethodFloodBoundsMetricsAndLogs: Go accepts any token as an
// HTTP method, up to the header limit, and every request reaches the
// metrics and the access log, refused ones included. Random long methods
// from an unauthenticated client must neither create metric series (each
// kept for the life of the process) nor long log lines.
func TestGatewayMethodFloodBoundsMetricsAndLogs(t *testing.T) {
	var logs logBuffer
	g := startGateway(t, nil, &logs)
	const n, size = 200, 4 << 10
	letters := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	for i := range n {
		m := make([]byte, size)
		rand.Read(m)
		for j := range m {
			m[j] = letters[int(m[j])%len(letters)]
		}
		path := "/v1/matters"
		if i%2 == 1 {
			path = "/nowhere"
		}
		res, _ := send(t, g, string(m), path, nil)
		if res.StatusCode < 400 {
			t.Fatalf("method %.20s...: %d", m, res.StatusCode)
		}
	}
	requests := series(scrape(t, g), "mattersync_gateway_requests_total")
	known := regexp.MustCompile(`method="(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|other)"`)
	for _, l := range requests {
		if !known.MatchString(l) {
			t.Fatalf("series with a client's method: %.120s", l)
		}
	}
	if len(requests) > 4 {
		t.Fatalf("%d request series after %d random methods; want a handful", len(requests), n)
	}
	lines := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %.80s: %v", l, err)
		}
		if len(l) > 1024 {
			t.Fatalf("log line of %d bytes: %.120s...", len(l), l)
		}
		if rec["msg"] == "request" {
			lines++
		}
	}
	if lines < n {
		t.Fatalf("%d request log lines for %d requests", lines, n)
	}
}
