package hostile

import (
	"net"
	"strings"
	"testing"
)

// TestGatewayOpsEndpointsNotOnTheAPI: /metrics, /readyz and /healthz are
// unauthenticated. The documented HAProxy set-up denied their paths, but
// /%6detrics and /%72eadyz passed that deny and the gateway decoded and
// served them before its canonical-path check. They now answer only on
// the ops listener: no spelling of them reaches them through the API's.
func TestGatewayOpsEndpointsNotOnTheAPI(t *testing.T) {
	g := startGateway(t, nil, nil)
	for _, p := range []string{
		"/metrics", "/readyz", "/healthz",
		"/%6detrics", "/%72eadyz", "/%68ealthz", "/%2fmetrics", "/metrics%00",
		"//metrics", "/./readyz", "/v1/../metrics", "/metrics/", "/METRICS",
	} {
		status, body := rawGet(t, g.URL, p)
		if status == 200 || strings.Contains(body, "mattersync_gateway_") || strings.Contains(body, `"checks"`) {
			t.Errorf("API listener, GET %s: %d %.100q", p, status, body)
		}
	}
	if status, body := rawGet(t, g.OpsURL, "/readyz"); status != 200 || !strings.Contains(body, `"checks"`) {
		t.Fatalf("ops listener, /readyz: %d %.100q", status, body)
	}
}

// rawGet sends GET path exactly as written (no client-side cleaning) and
// returns the status and body.
func rawGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp := b.String()
	var status int
	if len(resp) >= 12 {
		for _, ch := range resp[9:12] {
			status = status*10 + int(ch-'0')
		}
	}
	_, body, _ := strings.Cut(resp, "\r\n\r\n")
	return status, body
}
