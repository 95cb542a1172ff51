package testenv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/idp"
)

// Hydra and the login-and-consent app run the authorization code flow a
// browser goes through: the provider's page, the sign-in form, consent,
// and the redirect back to the application with a code, or with
// access_denied for a wrong password's cancel and a removed user.
func TestHydraAuthorizationCode(t *testing.T) {
	h := Hydra(t)
	codes := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
		w.Write([]byte("application callback"))
	}))
	defer app.Close()
	c := h.RegisterClient(t, app.URL+"/cb")
	authURL := func(state string) string {
		return strings.TrimSuffix(h.Issuer, "/") + "/oauth2/auth?" + url.Values{"client_id": {c.ID}, "response_type": {"code"}, "scope": {"openid email"},
			"redirect_uri": {app.URL + "/cb"}, "state": {state}, "nonce": {RandomHex(8)}}.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := RandomName("u-")
	pw := h.AddUser(name)

	// A wrong password shows the form again; nothing reaches the app.
	p, err := idp.SignIn(ctx, idp.NewBrowser(), authURL("state-s0"), name, "wrong")
	if err != nil || p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Wrong user name or password") {
		t.Fatalf("wrong password: %v %d %s", err, p.Status, p.Body)
	}
	browser := idp.NewBrowser()
	p, err = idp.SignIn(ctx, browser, authURL("state-s1"), name, pw)
	if err != nil || p.Body != "application callback" {
		t.Fatalf("sign-in: %v %+v", err, p)
	}
	if q := <-codes; q.Get("state") != "state-s1" || q.Get("code") == "" {
		t.Fatalf("callback %v, want state state-s1 and a code", q)
	}
	// Hydra remembers the browser: no form the second time.
	if p, err = idp.SignIn(ctx, browser, authURL("state-s2"), name, ""); err != nil || p.Body != "application callback" {
		t.Fatalf("remembered sign-in: %v %+v", err, p)
	}
	if q := <-codes; q.Get("code") == "" {
		t.Fatalf("remembered sign-in: callback %v", q)
	}
	// Removed from the provider: refused even on the remembered session.
	h.IdP.RemoveUser(name)
	if p, err = idp.SignIn(ctx, browser, authURL("state-s3"), name, pw); err != nil || p.Body != "application callback" {
		t.Fatalf("removed user: %v %+v", err, p)
	}
	if q := <-codes; q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Fatalf("removed user: callback %v, want access_denied and no code", q)
	}
}
