package kms

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// OIDCCallbackPath is the path of the loopback callback a person's browser
// is sent back to after signing in at the identity provider. Vault's role
// and the provider's app registration list http://127.0.0.1/oidc/callback
// (any port: RFC 8252 loopback redirects).
const OIDCCallbackPath = "/oidc/callback"

// DefaultOIDCTimeout bounds a sign-in attempt: a browser coming back later
// is refused, and the person starts again.
const DefaultOIDCTimeout = 5 * time.Minute

// OIDCAuth signs a person in through Vault's OIDC auth method, as `vault
// login -method=oidc` does: Vault hands out the identity provider's
// authorization URL (with its own state, nonce and PKCE challenge, bound
// to a client nonce of ours), the person signs in in their browser, the
// provider sends the browser back to a callback listening on a loopback
// address of this machine, and Vault exchanges the code for the person's
// token. The answer may still ask for a second factor: wrap OIDCAuth in
// MFAAuth.
type OIDCAuth struct {
	Mount string // auth mount, e.g. "oidc"
	Role  string // Vault role; empty: the mount's default_role
	// Listen is the callback's address: a loopback IP (or localhost, then
	// it listens on 127.0.0.1 and the redirect URI says localhost) and a
	// port; default 127.0.0.1:0, a free port, which RFC 8252 lets the
	// provider accept. Some providers (Okta, Entra ID's web platform) want
	// a fixed port or localhost: see docs/SSO.md.
	Listen string
	// Browse shows the person the sign-in page: it opens the system
	// browser or prints the URL. It must not block until the sign-in ends.
	Browse func(authURL string) error
	// Timeout bounds the attempt; zero means DefaultOIDCTimeout.
	Timeout time.Duration
}

// String names the method without secrets.
func (a OIDCAuth) String() string { return "OIDC sign-in at auth/" + a.Mount }

// callbackResult is what the loopback callback received.
type callbackResult struct {
	code string
	err  error
}

// Login implements Authenticator.
func (a OIDCAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	const op = "login"
	if a.Mount == "" {
		return nil, errorf(op, Invalid, "OIDC sign-in needs the auth mount")
	}
	if a.Browse == nil {
		return nil, errorf(op, Invalid, "OIDC sign-in needs a way to show the sign-in page")
	}
	listen := a.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	bind, host, err := loopbackListen(listen)
	if err != nil {
		return nil, &Error{Op: op, Kind: Invalid, Err: described{err}}
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultOIDCTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	l, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, errorf(op, Other, "cannot listen for the sign-in callback on %s: %w", bind, err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	redirect := "http://" + net.JoinHostPort(host, port) + OIDCCallbackPath
	nonce := randomToken()

	sec, err := c.Logical().WriteWithContext(ctx, "auth/"+a.Mount+"/oidc/auth_url", map[string]any{
		"role": a.Role, "redirect_uri": redirect, "client_nonce": nonce,
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	authURL, _ := sec.Data["auth_url"].(string)
	if authURL == "" {
		// Vault answers an empty URL, not an error, to a redirect URI its
		// role does not allow (or an unknown role).
		role := "the default role"
		if a.Role != "" {
			role = "role " + a.Role
		}
		return nil, errorf(op, Denied, "Vault would not start the sign-in: %s at auth/%s does not allow the callback %s (vault init allows http://127.0.0.1%s; add others with --oidc-redirect-uri; see docs/SSO.md)",
			role, a.Mount, redirect, OIDCCallbackPath)
	}
	u, err := url.Parse(authURL)
	if err != nil || u.Query().Get("state") == "" {
		return nil, errorf(op, Other, "Vault's sign-in URL has no state")
	}
	state := u.Query().Get("state")

	results := make(chan callbackResult, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: callbackHandler(state, results)}
	go srv.Serve(l)
	defer srv.Close()

	if err := a.Browse(authURL); err != nil {
		return nil, errorf(op, Other, "cannot show the sign-in page: %w", err)
	}
	var r callbackResult
	select {
	case r = <-results:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errorf(op, Denied, "the sign-in was not completed within %v: the attempt expired; start again", timeout)
		}
		return nil, wrap(op, ctx.Err())
	}
	if r.err != nil {
		return nil, &Error{Op: op, Kind: Denied, Err: described{r.err}}
	}
	sec, err = c.Logical().ReadWithDataWithContext(ctx, "auth/"+a.Mount+"/oidc/callback", map[string][]string{
		"state": {state}, "code": {r.code}, "client_nonce": {nonce},
	})
	if err != nil {
		return nil, oidcCallbackError(err)
	}
	return sec, nil
}

// callbackHandler answers the browser coming back from the identity
// provider and passes the code on, once. A callback whose state is not
// this attempt's (forged, or from another attempt) ends the attempt: it is
// never handed to Vault.
func callbackHandler(state string, results chan<- callbackResult) http.Handler {
	mux := http.NewServeMux()
	var over atomic.Bool
	send := func(r callbackResult) { results <- r } // once: over guards it
	mux.HandleFunc("GET "+OIDCCallbackPath, func(w http.ResponseWriter, req *http.Request) {
		if over.Swap(true) {
			page(w, http.StatusConflict, "Sign-in over", "This sign-in attempt has already received its answer. Start again if needed.")
			return
		}
		q := req.URL.Query()
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			send(callbackResult{err: errors.New("the sign-in answer does not belong to this attempt (its state does not match): refused; start again")})
			page(w, http.StatusBadRequest, "Sign-in refused", "This answer does not belong to the sign-in that was started. Nothing was signed in. Start again.")
		case q.Get("error") != "":
			why := q.Get("error")
			if d := q.Get("error_description"); d != "" {
				why += ": " + d
			}
			send(callbackResult{err: fmt.Errorf("the identity provider refused the sign-in (%s)", why)})
			page(w, http.StatusForbidden, "Sign-in refused", "The identity provider refused the sign-in: "+why)
		case q.Get("code") == "":
			send(callbackResult{err: errors.New("the identity provider sent no authorization code")})
			page(w, http.StatusBadRequest, "Sign-in failed", "The identity provider sent no authorization code. Start again.")
		default:
			send(callbackResult{code: q.Get("code")})
			page(w, http.StatusOK, "Signed in", "You are signed in with your identity provider. You can close this window; if the terminal asks for a code from your authenticator app, enter it there.")
		}
	})
	return mux
}

func page(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>mattersync: %s</title></head><body style=\"font-family:system-ui,sans-serif;max-width:32em;margin:4em auto\"><h1>%s</h1><p>%s</p></body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}

// loopbackListen returns where the callback listens and the host its
// redirect URI names, refusing an address that is not loopback: the
// authorization code would cross the network to whoever listens there.
// "localhost" listens on 127.0.0.1, never on what a resolver says.
func loopbackListen(addr string) (bind, host string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("sign-in callback address %q: %w", addr, err)
	}
	if host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port), host, nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", "", fmt.Errorf("the sign-in callback must listen on a loopback address (127.0.0.1, [::1] or localhost), not %q: an address on the network would let others receive the sign-in", host)
	}
	return addr, host, nil
}

// oidcCallbackError says what Vault's refusal of a callback means.
func oidcCallbackError(err error) error {
	const op = "login"
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Expired or missing OAuth state"):
		return errorf(op, Denied, "Vault no longer knows this sign-in attempt (it expired after 10 minutes, or was already used): start again")
	case strings.Contains(msg, "invalid client_nonce"):
		return errorf(op, Denied, "the sign-in answer was not started by this program (client nonce mismatch): refused")
	case classify(err) == Denied:
		return errorf(op, Denied, "Vault refused the sign-in (permission denied): your mattersync account may be disabled or not set up; ask IT")
	}
	return wrap(op, err)
}

// randomToken returns 32 random bytes, base64url: a client nonce.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
