// Package idp is the small login-and-consent app every ORY Hydra deployment
// needs, for mattersync's tests and local stack: Hydra is the OpenID
// Connect provider standing in for the firm's Entra ID, Okta or Google,
// and this app is where its users type their password. It knows a few
// demo users (name, password, e-mail) and accepts or refuses Hydra's login
// and consent requests through Hydra's admin API.
//
// Nothing in mattersync's agent or Vault configuration depends on it: a
// firm's real identity provider replaces Hydra and this app together.
package idp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// User is a demo account of the identity provider.
type User struct {
	Name     string // the login name and the "preferred_username" claim
	Password string
	Email    string // the "email" claim; empty: <name>@firm.example
	FullName string // the "name" claim; empty: Name
}

func (u User) email() string {
	if u.Email != "" {
		return u.Email
	}
	return u.Name + "@firm.example"
}

// App is the login-and-consent app. Its zero value is not usable: call New.
type App struct {
	admin  string // Hydra's admin API base URL
	client *http.Client
	log    *slog.Logger

	mu    sync.Mutex // guards users
	users map[string]User
}

// New returns an app that accepts Hydra's login and consent requests
// through the admin API at adminURL (e.g. http://127.0.0.1:4445).
func New(adminURL string, log *slog.Logger) *App {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &App{admin: strings.TrimRight(adminURL, "/"), client: &http.Client{Timeout: 10 * time.Second}, log: log, users: map[string]User{}}
}

// SetUser adds or replaces a user.
func (a *App) SetUser(u User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[u.Name] = u
}

// RemoveUser deletes a user, as IT does when someone leaves: a later
// sign-in is refused, also one Hydra would have let through on its
// remembered session.
func (a *App) RemoveUser(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.users, name)
}

// Users returns the user names, sorted.
func (a *App) Users() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for n := range a.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (a *App) user(name string) (User, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[name]
	return u, ok
}

// check returns the user if name and password match.
func (a *App) check(name, password string) (User, bool) {
	u, ok := a.user(name)
	if !ok {
		// Compare anyway, so timing does not tell which names exist.
		subtle.ConstantTimeCompare([]byte(password), []byte("not a password of anyone"))
		return User{}, false
	}
	return u, subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) == 1
}

// Handler serves /login and /consent (the URLs Hydra's urls.login and
// urls.consent point at) and /healthz.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.loginSubmit)
	mux.HandleFunc("GET /consent", a.consent)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// loginRequest is the part of Hydra's login request the app reads.
type loginRequest struct {
	Skip    bool   `json:"skip"`
	Subject string `json:"subject"`
	Client  struct {
		ClientID string `json:"client_id"`
	} `json:"client"`
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	if challenge == "" {
		http.Error(w, "no login_challenge: start the sign-in at the application, not here", http.StatusBadRequest)
		return
	}
	var lr loginRequest
	if err := a.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", "login_challenge", challenge, nil, &lr); err != nil {
		a.fail(w, err)
		return
	}
	if lr.Skip {
		// Hydra remembers this browser's sign-in; the account must still
		// exist (a user removed since is refused, as a real IdP does).
		if _, ok := a.user(lr.Subject); !ok {
			a.reject(w, r, "login", challenge, "the account "+lr.Subject+" no longer exists")
			return
		}
		a.accept(w, r, "login", challenge, map[string]any{"subject": lr.Subject})
		return
	}
	a.form(w, challenge, lr.Client.ClientID, "", http.StatusOK)
}

func (a *App) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	challenge := r.PostForm.Get("login_challenge")
	if challenge == "" {
		http.Error(w, "no login_challenge", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("cancel") != "" {
		a.reject(w, r, "login", challenge, "the user cancelled the sign-in")
		return
	}
	u, ok := a.check(r.PostForm.Get("username"), r.PostForm.Get("password"))
	if !ok {
		a.log.Info("idp: wrong user name or password", "user", r.PostForm.Get("username"))
		a.form(w, challenge, "", "Wrong user name or password.", http.StatusUnauthorized)
		return
	}
	a.accept(w, r, "login", challenge, map[string]any{"subject": u.Name, "remember": true, "remember_for": 3600})
}

// consentRequest is the part of Hydra's consent request the app reads.
type consentRequest struct {
	Subject        string   `json:"subject"`
	RequestedScope []string `json:"requested_scope"`
	RequestedAud   []string `json:"requested_access_token_audience"`
}

func (a *App) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	if challenge == "" {
		http.Error(w, "no consent_challenge", http.StatusBadRequest)
		return
	}
	var cr consentRequest
	if err := a.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", "consent_challenge", challenge, nil, &cr); err != nil {
		a.fail(w, err)
		return
	}
	u, ok := a.user(cr.Subject)
	if !ok {
		a.reject(w, r, "consent", challenge, "the account "+cr.Subject+" no longer exists")
		return
	}
	// The firm's applications are first-party: consent is implied, as
	// with an enterprise IdP's admin-consented app registration.
	claims := map[string]any{"preferred_username": u.Name, "email": u.email(), "email_verified": true, "name": u.FullName}
	if u.FullName == "" {
		claims["name"] = u.Name
	}
	a.accept(w, r, "consent", challenge, map[string]any{
		"grant_scope":                 cr.RequestedScope,
		"grant_access_token_audience": cr.RequestedAud,
		"session":                     map[string]any{"id_token": claims},
	})
}

// accept accepts a login or consent request and sends the browser on.
func (a *App) accept(w http.ResponseWriter, r *http.Request, kind, challenge string, body map[string]any) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := a.call(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/"+kind+"/accept", kind+"_challenge", challenge, body, &out); err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// reject refuses a login or consent request: Hydra sends the browser back
// to the application with error=access_denied.
func (a *App) reject(w http.ResponseWriter, r *http.Request, kind, challenge, why string) {
	a.log.Info("idp: sign-in refused", "why", why)
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	body := map[string]any{"error": "access_denied", "error_description": why, "status_code": http.StatusForbidden}
	if err := a.call(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/"+kind+"/reject", kind+"_challenge", challenge, body, &out); err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

func (a *App) fail(w http.ResponseWriter, err error) {
	a.log.Error("idp: hydra admin API", "err", err)
	http.Error(w, "the identity provider cannot complete the sign-in: "+err.Error(), http.StatusBadGateway)
}

// call sends a request to Hydra's admin API and decodes the JSON answer.
func (a *App) call(ctx context.Context, method, path, param, challenge string, body, out any) error {
	u := a.admin + path
	if param != "" {
		u += "?" + url.Values{param: {challenge}}.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return fmt.Errorf("%s %s: %s: %s (%s)", method, path, resp.Status, e.Error, e.Description)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

var formTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:22em;margin:4em auto}label,input{display:block;width:100%;margin:.3em 0}p.err{color:#b00}</style>
</head><body>
<h1>Sign in</h1>
<p>Development identity provider (ORY Hydra){{if .Client}} for <b>{{.Client}}</b>{{end}}.</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<label>User name <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<input type="submit" value="Sign in"> <input type="submit" name="cancel" value="Cancel">
</form></body></html>
`))

func (a *App) form(w http.ResponseWriter, challenge, client, msg string, status int) {
	var buf bytes.Buffer
	if err := formTmpl.Execute(&buf, struct{ Challenge, Client, Error string }{challenge, client, msg}); err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Client is an OAuth 2.0 client registered with Hydra: Vault's OIDC auth
// method is one.
type Client struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

// RegisterClient registers c with the Hydra whose admin API is at
// adminURL, as a confidential client of the authorization code flow
// (client_secret_basic) allowed the openid, profile and email scopes.
// An existing client of that ID is replaced.
func RegisterClient(ctx context.Context, adminURL string, c Client) error {
	a := New(adminURL, nil)
	body := map[string]any{
		"client_id":                  c.ID,
		"client_secret":              c.Secret,
		"redirect_uris":              c.RedirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid profile email offline_access",
		"token_endpoint_auth_method": "client_secret_basic",
	}
	// DELETE then POST: PUT would keep fields of an older registration.
	if err := a.call(ctx, http.MethodDelete, "/admin/clients/"+url.PathEscape(c.ID), "", "", nil, nil); err != nil && !strings.Contains(err.Error(), "404") {
		return fmt.Errorf("idp: remove client %s: %w", c.ID, err)
	}
	if err := a.call(ctx, http.MethodPost, "/admin/clients", "", "", body, nil); err != nil {
		return fmt.Errorf("idp: register client %s: %w", c.ID, err)
	}
	return nil
}
