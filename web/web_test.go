package web_test

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/web"
)

func TestCSPConnectSources(t *testing.T) {
	for addr, want := range map[string]string{
		"":                                  "connect-src 'self';",
		"https://Vault.Firm.example:8200/":  "connect-src 'self' https://vault.firm.example:8200;",
		"http://127.0.0.1:8200":             "connect-src 'self' http://127.0.0.1:8200;",
		"https://vault.example; script-src": "connect-src 'self';", // no directive smuggled in
		"https://vault.example script-src":  "connect-src 'self';",
		"ftp://vault.example":               "connect-src 'self';",
		"https://user:pw@vault.example":     "connect-src 'self';",
		"vault.example:8200":                "connect-src 'self';",
	} {
		csp := web.CSP(addr)
		if !strings.Contains(csp, want) {
			t.Errorf("CSP(%q) = %q, want %q in it", addr, csp, want)
		}
		if strings.Count(csp, ";") != 7 || strings.Contains(csp, "unsafe") {
			t.Errorf("CSP(%q) = %q", addr, csp)
		}
	}
}

// TestConsoleVersioned: the assets live under one versioned directory
// named in the index page; anything else is 404.
func TestConsoleVersioned(t *testing.T) {
	c, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Version(), "v-") || len(c.Version()) != 18 {
		t.Fatalf("version %q", c.Version())
	}
	// The assets by pattern, so a page added in static/ needs no change
	// here; the ones every page loads by name must be there.
	want := c.Assets()
	asset := regexp.MustCompile(`^([a-z][a-z0-9-]*\.(js|css)|vendor/fzstd/(LICENSE|VERSION|fzstd\.js))$`)
	for _, name := range want {
		if !asset.MatchString(name) {
			t.Errorf("asset %q: not a module, a style sheet or the vendored fzstd", name)
		}
	}
	for _, name := range []string{"console.js", "console.css", "format.js", "zstd.js", "vendor/fzstd/fzstd.js", "vendor/fzstd/LICENSE", "vendor/fzstd/VERSION"} {
		if !slices.Contains(want, name) {
			t.Errorf("asset %s missing from %v", name, want)
		}
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", web.Prefix, nil))
	if !strings.Contains(rec.Body.String(), web.Prefix+c.Version()+"/console.js") {
		t.Fatalf("index does not name the versioned module:\n%s", rec.Body)
	}
	for _, name := range want {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("GET", web.Prefix+c.Version()+"/"+name, nil))
		if rec.Code != 200 {
			t.Errorf("%s: %d", name, rec.Code)
		}
		if rec.Header().Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", name)
		}
	}
	h, err := web.New(web.Config{HSTS: true})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", web.Prefix+"nope", nil))
	if rec.Code != 404 || rec.Header().Get("Strict-Transport-Security") == "" || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("404 with HSTS config: %d %v", rec.Code, rec.Header())
	}
}

// TestSharePage: the recipient's page is served under the CSP without
// Vault, names the versioned module, and is never cached.
func TestSharePage(t *testing.T) {
	c, err := web.New(web.Config{VaultAddress: "https://vault.example:8200"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.ServeShare(rec, httptest.NewRequest("GET", web.SharePrefix+"abc", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Security-Policy") != web.CSP("") || rec.Header().Get("Cache-Control") != "no-store" ||
		rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("share page: %d %v", rec.Code, rec.Header())
	}
	if !strings.Contains(rec.Body.String(), web.Prefix+c.Version()+"/sharepage.js") || strings.Contains(rec.Body.String(), "<script>") ||
		strings.Contains(rec.Body.String(), " style=") {
		t.Fatalf("share page body:\n%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	c.ServeShare(rec, httptest.NewRequest("POST", web.SharePrefix+"abc", nil))
	if rec.Code != 405 {
		t.Fatalf("POST: %d", rec.Code)
	}
}
