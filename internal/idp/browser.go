package idp

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Page is where a scripted browser ended up.
type Page struct {
	URL      string // the last URL fetched
	Status   int
	Location string // where a redirect not followed pointed
	Body     string
}

// NewBrowser returns an HTTP client that behaves like a browser for the
// sign-in: it keeps cookies (Hydra's session and CSRF cookies) and follows
// redirects.
func NewBrowser() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Jar: jar}
}

var challengeRE = regexp.MustCompile(`name="login_challenge" value="([^"]*)"`)

// SignIn does in c what a person does in a browser: it opens authURL (the
// identity provider's authorization URL an application sent them to),
// fills in this app's sign-in form with user and password if the
// provider asks (it does not when it remembers the browser), and follows
// the redirects back to the application. It returns the application's
// page (the loopback callback's answer), or the sign-in form again when
// the password was refused.
func SignIn(ctx context.Context, c *http.Client, authURL, user, password string) (Page, error) {
	p, err := get(ctx, c, authURL)
	if err != nil {
		return p, err
	}
	m := challengeRE.FindStringSubmatch(p.Body)
	if m == nil {
		return p, nil // remembered: straight back to the application
	}
	action, err := url.Parse(p.URL)
	if err != nil {
		return p, err
	}
	action = action.ResolveReference(&url.URL{Path: "/login"})
	form := url.Values{"login_challenge": {html.UnescapeString(m[1])}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return p, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(c, req)
}

func get(ctx context.Context, c *http.Client, u string) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, err
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (Page, error) {
	resp, err := c.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("idp: browser: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := Page{URL: resp.Request.URL.String(), Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(b)}
	return p, err
}
