package gateway_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' https://vault.firm.example:8200; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

type consoleResponse struct {
	status int
	header http.Header
	body   string
}

func consoleGet(t *testing.T, g *gatewaytest.Gateway, method, path string) consoleResponse {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *g.HTTP
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return consoleResponse{resp.StatusCode, resp.Header, string(b)}
}

// checkSecurityHeaders asserts the headers every console response carries.
func checkSecurityHeaders(t *testing.T, what string, h http.Header, hsts bool) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": consoleCSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "unsafe") {
		t.Errorf("%s: CSP allows something unsafe: %s", what, h.Get("Content-Security-Policy"))
	}
	if got := h.Get("Strict-Transport-Security"); (got != "") != hsts {
		t.Errorf("%s: Strict-Transport-Security %q, want it set: %v", what, got, hsts)
	}
}

func TestConsoleAssets(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) {
		c.Vault.Address = "https://vault.firm.example:8200"
	}})

	idx := consoleGet(t, g, "GET", "/console/")
	if idx.status != 200 || !strings.HasPrefix(idx.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /console/: %d %s", idx.status, idx.header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "index", idx.header, false)
	if idx.header.Get("Cache-Control") != "no-cache" || idx.header.Get(api.HeaderRequestID) == "" {
		t.Errorf("index: Cache-Control %q, request ID %q", idx.header.Get("Cache-Control"), idx.header.Get(api.HeaderRequestID))
	}
	// The page loads its module from a versioned directory, and has no
	// inline script or style for the CSP to refuse.
	m := regexp.MustCompile(`<script type="module" src="(/console/v-[0-9a-f]{16}/)console.js"></script>`).FindStringSubmatch(idx.body)
	if m == nil {
		t.Fatalf("index does not load the versioned console.js:\n%s", idx.body)
	}
	if n := strings.Count(idx.body, "<script"); n != 1 || strings.Contains(idx.body, "<style") || strings.Contains(idx.body, " style=") {
		t.Errorf("index has %d scripts or inline styles:\n%s", n, idx.body)
	}
	assets := m[1]

	for _, name := range []string{"console.js", "format.js", "zstd.js", "vendor/fzstd/fzstd.js", "console.css", "vendor/fzstd/LICENSE"} {
		r := consoleGet(t, g, "GET", assets+name)
		if r.status != 200 || r.body == "" {
			t.Errorf("GET %s: %d", name, r.status)
			continue
		}
		checkSecurityHeaders(t, name, r.header, false)
		if strings.HasSuffix(name, ".js") && r.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q: a module script under nosniff needs a JavaScript type", name, r.header.Get("Content-Type"))
		}
		if !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: Cache-Control %q", name, r.header.Get("Cache-Control"))
		}
	}
	if r := consoleGet(t, g, "HEAD", assets+"format.js"); r.status != 200 || r.body != "" || r.header.Get("Content-Length") == "0" {
		t.Errorf("HEAD format.js: %d, %d body bytes, length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}

	for path, want := range map[string]int{
		"/console/v-0000000000000000/format.js": 404, // an old or made-up version
		assets + "nope.js":                      404,
		assets + "vendor/../format.js":          404, // not canonical
		"/console/format.js":                    404, // assets only under the version
		"/console/%2e%2e/v1/matters":            400,
	} {
		r := consoleGet(t, g, "GET", path)
		if r.status != want {
			t.Errorf("GET %s: %d, want %d", path, r.status, want)
		}
		checkSecurityHeaders(t, path, r.header, false)
	}
	if r := consoleGet(t, g, "POST", "/console/"); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /console/: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := consoleGet(t, g, "GET", "/console"); r.status != 301 || r.header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d, Location %q", r.status, r.header.Get("Location"))
	}

	// The API behind is untouched: no CSP of the console, its own refusals.
	r := consoleGet(t, g, "GET", "/v1/matters")
	if r.status != 401 || r.header.Get("Content-Security-Policy") != "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /v1/matters without a token: %d, CSP %q, X-Content-Type-Options %q", r.status, r.header.Get("Content-Security-Policy"), r.header.Get("X-Content-Type-Options"))
	}
	if r := consoleGet(t, g, "GET", "/consolex"); r.status == 200 || r.header.Get("Content-Security-Policy") != "" {
		t.Errorf("GET /consolex reached the console: %d", r.status)
	}

	// Over TLS the answers carry HSTS.
	req := httptest.NewRequest("GET", "/console/", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	g.Server.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /console/ over TLS: %d", rec.Code)
	}
	checkSecurityHeaders(t, "index over TLS", rec.Header(), true)

	// Logged and measured under one route.
	resp, err := http.Get(g.OpsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(metrics), `mattersync_gateway_requests_total{method="GET",route="/console/",status="200"}`) {
		t.Errorf("no request metric for the console:\n%s", metrics)
	}
}
