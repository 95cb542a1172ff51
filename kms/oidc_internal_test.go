package kms

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoopbackListen(t *testing.T) {
	for _, c := range []struct{ addr, bind, host, err string }{
		{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1", ""},
		{"[::1]:8250", "[::1]:8250", "::1", ""},
		{"localhost:8250", "127.0.0.1:8250", "localhost", ""},
		{"0.0.0.0:0", "", "", "loopback"},
		{"10.1.2.3:8250", "", "", "loopback"},
		{"vault.firm.example:8250", "", "", "loopback"},
		{"127.0.0.1", "", "", "missing port"},
	} {
		bind, host, err := loopbackListen(c.addr)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error saying %q", c.addr, err, c.err)
			}
			continue
		}
		if err != nil || bind != c.bind || host != c.host {
			t.Errorf("%s: %q %q %v, want %q %q", c.addr, bind, host, err, c.bind, c.host)
		}
	}
}

// The callback passes a code on once, and only with this attempt's state;
// anything else ends the attempt with a reason and shows the browser why.
func TestCallbackHandler(t *testing.T) {
	for _, c := range []struct {
		query  string
		status int
		code   string
		err    string
	}{
		{"state=s1&code=c1", http.StatusOK, "c1", ""},
		{"state=s2&code=c1", http.StatusBadRequest, "", "does not belong to this attempt"},
		{"code=c1", http.StatusBadRequest, "", "does not belong to this attempt"},
		{"state=s1&error=access_denied&error_description=no+such+user", http.StatusForbidden, "", "access_denied: no such user"},
		{"state=s1", http.StatusBadRequest, "", "no authorization code"},
	} {
		results := make(chan callbackResult, 1)
		h := callbackHandler("s1", results)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, OIDCCallbackPath+"?"+c.query, nil))
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.query, rec.Code, c.status)
		}
		r := <-results
		if r.code != c.code || (c.err == "") != (r.err == nil) || (r.err != nil && !strings.Contains(r.err.Error(), c.err)) {
			t.Errorf("%s: result %q %v, want %q %q", c.query, r.code, r.err, c.code, c.err)
		}
		// A second answer is ignored: the attempt is over.
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, OIDCCallbackPath+"?state=s1&code=c2", nil))
		select {
		case r := <-results:
			t.Errorf("%s: a second answer got through: %+v", c.query, r)
		default:
		}
	}
}
