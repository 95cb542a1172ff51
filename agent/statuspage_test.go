package agent

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// fakeActions records what the page asked the agent to do.
type fakeActions struct {
	mu        sync.Mutex
	calls     []string
	conflicts []ConflictInfo
	versions  []VersionInfo
}

func (f *fakeActions) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeActions) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeActions) Conflicts(context.Context) ([]ConflictInfo, error) { return f.conflicts, nil }
func (f *fakeActions) SettleConflict(_ context.Context, m, c string, k Keep) (string, error) {
	f.record("settle " + m + " " + c + " " + string(k))
	return "settled <b>" + c + "</b>", nil
}
func (f *fakeActions) FileVersions(context.Context, string, string) ([]VersionInfo, error) {
	return f.versions, nil
}
func (f *fakeActions) RestoreVersion(_ context.Context, m, rel string, v int64) (int64, error) {
	f.record("restore " + m + " " + rel)
	return v + 10, nil
}
func (f *fakeActions) FolderAt(_ context.Context, m, dir string, at time.Time) (FolderView, error) {
	return FolderView{Matter: m, Dir: dir, At: at, Files: []FolderEntry{
		{Path: `<img src=x onerror=alert(1)>.docx`, Version: 2, Head: 3, Size: 10, Name: "you", Time: time.Now()},
		{Path: "gone.txt", Version: 4, Deleted: true, Head: 4, HeadDeleted: true},
		{Path: "sub/a.txt", Version: 1, Head: 1},
	}}, nil
}
func (f *fakeActions) RestoreFolderAt(_ context.Context, m, dir string, _ time.Time) (FolderRestore, error) {
	f.record("restore-folder " + m + " " + dir)
	return FolderRestore{Restored: []string{"a"}}, nil
}
func (f *fakeActions) ShareFile(_ context.Context, m, rel string, o ShareOptions) (ShareLink, error) {
	if err := o.Validate(); err != nil {
		return ShareLink{}, err
	}
	if o.To == "screened@example.com" {
		return ShareLink{}, fmt.Errorf("share %s: %w", rel, gatewayRefusal{api.Error{Code: api.CodeForbidden, Message: "screened from matter " + m}})
	}
	f.record("share " + m + " " + rel + " " + o.To)
	return ShareLink{Link: "https://shares.firm.test/s/0123#" + fakeShareKey, ID: "0123", Recipient: o.To, Expires: time.Now().Add(o.Expires),
		MaxDownloads: o.MaxDownloads, Version: 3, Size: 10}, nil
}

// gatewayRefusal is a gateway's answer as the client returns it.
type gatewayRefusal struct{ e api.Error }

func (g gatewayRefusal) Error() string        { return "gateway: " + string(g.e.Code) + ": " + g.e.Message }
func (g gatewayRefusal) APIError() *api.Error { return &g.e }
func (g gatewayRefusal) Fault() fault.Kind    { return g.e.Code.Fault() }

// fakeShareKey is the key in fakeActions' links.
const fakeShareKey = "mC3vKEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEY"

func (f *fakeActions) RecentActivity(int) []Activity {
	return []Activity{{Time: time.Now(), Message: "file uploaded", Matter: "2026-0001", Path: "<script>alert(2)</script>.pdf"}}
}

// hostile names that must reach the browser as text, never as markup or a
// spoofed direction.
const (
	hostileName = `<script>alert(1)</script>`
	hostileCopy = `x"><script>alert(3)</script> (conflict, Bob, LAPTOP, 2026-12-07 10.00).docx`
)

// startPage serves a status with a page whose actions are acts, and
// returns the agent's address and data dir.
func startPage(t *testing.T, acts pageActions) (string, string) {
	t.Helper()
	dir := t.TempDir()
	board := &statusBoard{}
	board.update(func(s *Status) { s.State, s.User = "idle", "alice\u202eevil" })
	board.matter("2026-0001", func(m *MatterStatus) {
		m.Name, m.Role, m.State = hostileName, "rw", "syncing"
		m.FilesDone, m.FilesTotal, m.ProgressSince = 5, 20, time.Now().Add(-time.Minute)
		m.Errors = []string{`brief <b>x</b>.docx: could not be written: rename the folder`}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStatus(ctx, "127.0.0.1:0", dir, board, acts, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	for range 200 {
		if _, err := ReadStatus(ctx, dir); err == nil {
			b, _ := os.ReadFile(filepath.Join(dir, statusAddrFile))
			return strings.TrimSpace(string(b)), dir
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("status endpoint did not come up")
	return "", ""
}

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// signIn opens the page with a fresh ticket, as `mattersync status --open`
// does, and returns the browser holding the session and the page's base
// URL (http://<addr>/p/<prefix>, no final slash).
func signIn(t *testing.T, dir string) (*http.Client, string) {
	t.Helper()
	u, err := StatusPageURL(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	resp, _ := get(t, c, u)
	loc := resp.Header.Get("Location")
	prefix := strings.TrimSuffix(strings.TrimPrefix(loc, "/p/"), "/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/p/") || !strings.HasSuffix(loc, "/") || len(prefix) != 22 || strings.ContainsAny(prefix, "/+=") {
		t.Fatalf("open with a ticket: %s, Location %q; want 303 to /p/<128 bits base64url>/", resp.Status, loc)
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=" + loc + ";"} {
		if !strings.Contains(sc+";", want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	return c, "http://" + resp.Request.URL.Host + strings.TrimSuffix(loc, "/")
}

// Without the session secret every page and action is refused (403): a
// request from another user of the machine gets nothing.
func TestStatusPageRefusesWithoutSecret(t *testing.T) {
	acts := &fakeActions{}
	addr, dir := startPage(t, acts)
	_, base := signIn(t, dir) // the prefix, known or guessed: no session without a ticket
	c := browser(t)
	for _, root := range []string{"http://" + addr, base} {
		for _, p := range []string{"/", "/matter?m=2026-0001", "/file?m=2026-0001&f=a.txt", "/page.css", "/matters", "/nothing"} {
			resp, body := get(t, c, root+p)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s without a session: %s, want 403", root+p, resp.Status)
			}
			if strings.Contains(body, "2026-0001") || strings.Contains(body, "script") {
				t.Errorf("GET %s without a session shows the status: %q", root+p, body)
			}
		}
		resp, _ := do(t, c, postForm(t, root+"/conflict", url.Values{"m": {"2026-0001"}, "copy": {"x"}, "keep": {"mine"}}))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s/conflict without a session: %s, want 403", root, resp.Status)
		}
	}
	// A made-up cookie is no session.
	u, _ := url.Parse(base + "/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "mattersync_" + u.Port(), Value: strings.Repeat("a", 64)}})
	if resp, _ := get(t, c, u.String()); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET / with a made-up cookie: %s, want 403", resp.Status)
	}

	// Tickets: forged, expired, for another address, spent.
	tok, _ := os.ReadFile(filepath.Join(dir, statusTokenFile))
	token := []byte(strings.TrimSpace(string(tok)))
	for name, ticket := range map[string]string{
		"forged":          PageTicket([]byte("not the token"), addr, time.Now()),
		"expired":         PageTicket(token, addr, time.Now().Add(-3*time.Minute)),
		"other address":   PageTicket(token, "127.0.0.1:1", time.Now()),
		"from the future": PageTicket(token, addr, time.Now().Add(time.Hour)),
		"garbage":         "1.2",
	} {
		if resp, _ := get(t, browser(t), "http://"+addr+"/open?t="+url.QueryEscape(ticket)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s ticket: %s, want 403", name, resp.Status)
		}
	}
	pageURL, err := StatusPageURL(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, browser(t), pageURL); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("fresh ticket: %s, want 303", resp.Status)
	}
	if resp, _ := get(t, browser(t), pageURL); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a ticket used twice: %s, want 403", resp.Status)
	}

	// With the session: the page.
	s, base := signIn(t, dir)
	resp, body := get(t, s, base+"/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "2026-0001") {
		t.Fatalf("GET / with a session: %s %q", resp.Status, body)
	}
	if got := acts.Calls(); len(got) != 0 {
		t.Errorf("refused requests reached the agent: %q", got)
	}
}

// A Host header other than the agent's loopback address is refused, even
// with a valid session or ticket: DNS rebinding gets nothing.
func TestStatusPageRefusesWrongHost(t *testing.T) {
	addr, dir := startPage(t, &fakeActions{})
	c, base := signIn(t, dir)
	pageURL, _ := url.Parse(base + "/")
	if len(c.Jar.Cookies(pageURL)) != 1 {
		t.Fatalf("no session cookie for %s", pageURL)
	}
	_, port, _ := strings.Cut(addr, ":")
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "localhost.evil.example:" + port} {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		req.Host = host
		for _, ck := range c.Jar.Cookies(pageURL) {
			req.AddCookie(ck) // the session, whatever the client makes of Host
		}
		if resp, body := do(t, browser(t), req); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "2026-0001") {
			t.Errorf("Host %q: %s, want 403 without the status", host, resp.Status)
		}
	}
	u, _ := StatusPageURL(context.Background(), dir)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Host = "rebound.example:" + port
	if resp, _ := do(t, browser(t), req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ticket with Host rebound.example: %s, want 403", resp.Status)
	}
	for _, host := range []string{addr, "localhost:" + port} {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		req.Host = host
		ck := c.Jar.Cookies(pageURL)[0]
		ck.Path = pageURL.Path
		c.Jar.SetCookies(&url.URL{Scheme: "http", Host: host, Path: pageURL.Path}, []*http.Cookie{ck})
		if resp, body := do(t, c, req); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: %s, want 200: %s", host, resp.Status, body)
		}
	}
}

func postForm(t *testing.T, u string, v url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// A POST needs the session's CSRF token (and, when sent, this page's
// Origin); a form from another site, or an old page of another session,
// changes nothing.
func TestStatusPageCSRF(t *testing.T) {
	acts := &fakeActions{}
	addr, dir := startPage(t, acts)
	c, base := signIn(t, dir)
	_, body := get(t, c, base+"/matter?m=2026-0001&at=2026-12-01")
	csrf := between(body, `name="csrf" value="`, `"`)
	if len(csrf) != 64 {
		t.Fatalf("no CSRF token in the folder page: %q", csrf)
	}
	other, _ := signIn(t, dir) // another session: its token is not c's
	_, obody := get(t, other, base+"/matter?m=2026-0001&at=2026-12-01")
	otherCSRF := between(obody, `name="csrf" value="`, `"`)
	if otherCSRF == csrf || otherCSRF == "" {
		t.Fatalf("two sessions share a CSRF token")
	}
	form := url.Values{"m": {"2026-0001"}, "f": {"a.txt"}, "v": {"2"}, "to": {"attacker@example.com"}}
	for name, mod := range map[string]func(*http.Request){
		"no token":           func(*http.Request) {},
		"another session's":  func(r *http.Request) { setBody(r, form, otherCSRF) },
		"foreign Origin":     func(r *http.Request) { setBody(r, form, csrf); r.Header.Set("Origin", "http://evil.example") },
		"cross-site fetch":   func(r *http.Request) { setBody(r, form, csrf); r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"token in the query": func(r *http.Request) { r.URL.RawQuery = "csrf=" + csrf },
	} {
		for _, action := range []string{"/restore", "/share"} {
			req := postForm(t, base+action, form)
			mod(req)
			if resp, body := do(t, c, req); resp.StatusCode != http.StatusForbidden || strings.Contains(body, fakeShareKey) {
				t.Errorf("POST %s with %s: %s, want 403", action, name, resp.Status)
			}
		}
	}
	if got := acts.Calls(); len(got) != 0 {
		t.Fatalf("refused POSTs reached the agent: %q", got)
	}
	req := postForm(t, base+"/restore", form)
	setBody(req, form, csrf)
	req.Header.Set("Origin", "http://"+addr)
	resp, body := do(t, c, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "newest version (12)") {
		t.Fatalf("POST /restore with the token: %s %q", resp.Status, body)
	}
	if got := acts.Calls(); len(got) != 1 || got[0] != "restore 2026-0001 a.txt" {
		t.Fatalf("calls %q", got)
	}
}

func setBody(r *http.Request, v url.Values, csrf string) {
	w := url.Values{}
	for k, vs := range v {
		w[k] = vs
	}
	w.Set("csrf", csrf)
	s := w.Encode()
	r.Body = io.NopCloser(strings.NewReader(s))
	r.ContentLength = int64(len(s))
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// Names from manifests, colleagues and error messages are shown as text:
// escaped, with bidirectional overrides and control characters spelled
// out; the pages carry a Content-Security-Policy without inline script or
// style.
func TestStatusPageEscapesHostileNames(t *testing.T) {
	acts := &fakeActions{
		conflicts: []ConflictInfo{{Conflict: index.Conflict{Matter: "2026-0001", Path: hostileName + ".docx", Copy: hostileCopy,
			Reason: "edited at the same time as <b>bob</b> on \x1b[31mLAPTOP", Created: time.Now()}, CopyExists: true}},
		versions: []VersionInfo{{Version: 2, Name: `"><script>alert(4)</script>`, Device: "dev\u202eice", Size: 3}, {Version: 1, Size: 1}},
	}
	_, dir := startPage(t, acts)
	c, base := signIn(t, dir)
	for _, p := range []string{"/", "/matter?m=2026-0001&at=2026-12-01", "/matter?m=2026-0001", "/file?m=2026-0001&f=" + url.QueryEscape(hostileName)} {
		resp, body := get(t, c, base+p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", p, resp.Status, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		for _, bad := range []string{"<script", "<img", "<b>", "\u202e", "\x1b"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: the page holds %q raw:\n%s", p, bad, body)
			}
		}
	}
	_, body := get(t, c, base+"/")
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `\u202e`, "first sync: 5 of 20 files", "min left", "Keep mine", "Keep theirs", "Keep both"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q:\n%s", want, body)
		}
	}
	// The conflict form sends the copy's name back exactly.
	csrf := between(body, `name="csrf" value="`, `"`)
	req := postForm(t, base+"/conflict", url.Values{"m": {"2026-0001"}, "copy": {hostileCopy}, "keep": {"theirs"}, "csrf": {csrf}})
	resp, rbody := do(t, c, req)
	if resp.StatusCode != http.StatusOK || strings.Contains(rbody, "<script") || strings.Contains(rbody, "<b>") {
		t.Fatalf("POST /conflict: %s %q", resp.Status, rbody)
	}
	if got := acts.Calls(); len(got) != 1 || got[0] != "settle 2026-0001 "+hostileCopy+" theirs" {
		t.Fatalf("calls %q", got)
	}
}

func TestParseWhen(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2026-12-01":           time.Date(2026, 12, 1, 23, 59, 59, 0, loc),
		"2026-12-01 17:30":     time.Date(2026, 12, 1, 17, 30, 0, 0, loc),
		"2026-12-01T17:30":     time.Date(2026, 12, 1, 17, 30, 0, 0, loc),
		"2026-12-01T17:30:05Z": time.Date(2026, 12, 1, 17, 30, 5, 0, time.UTC),
	} {
		got, err := parseWhen(in, loc)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWhen("last Monday", loc); err == nil || !strings.Contains(err.Error(), "not a date") {
		t.Errorf("parseWhen(last Monday): %v", err)
	}
}

// On a terminal server every user's agent needs its own port: a fixed
// status_addr port already taken (another user's agent) falls back to a
// free one, written to status.addr, where status and the page find it.
func TestStatusPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	board := &statusBoard{}
	board.update(func(s *Status) { s.State = "idle" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logged syncBuffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	go func() { done <- serveStatus(ctx, taken.Addr().String(), dir, board, nil, log) }()
	defer func() { cancel(); <-done }()
	var s Status
	for i := 0; ; i++ {
		s, err = ReadStatus(ctx, dir)
		if err == nil && s.State == "idle" {
			break
		}
		if i == 200 {
			t.Fatalf("status with the configured port taken: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, statusAddrFile))
	if got := strings.TrimSpace(string(b)); got == taken.Addr().String() || !strings.HasPrefix(got, "127.0.0.1:") {
		t.Fatalf("status.addr %q with %s taken", got, taken.Addr())
	}
	// Not silently: the log, status and the page say the port is another
	// program's.
	if s.PortTaken != taken.Addr().String() || !strings.Contains(s.PortTakenNotice(), "belongs to another program") {
		t.Errorf("status with the port taken: PortTaken %q, notice %q", s.PortTaken, s.PortTakenNotice())
	}
	if l := logged.String(); !strings.Contains(l, `"level":"WARN"`) || !strings.Contains(l, "belongs to another process") || !strings.Contains(l, taken.Addr().String()) {
		t.Errorf("log with the port taken: %s", l)
	}
	c, base := signIn(t, dir)
	if _, body := get(t, c, base+"/"); !strings.Contains(body, "belongs to another program") || !strings.Contains(body, taken.Addr().String()) {
		t.Errorf("the page does not say the configured port is taken:\n%s", body)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger in another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The session cookie is scoped to this run's path prefix: browsers send a
// 127.0.0.1 cookie to every port, so a program holding another port (the
// configured one, taken by another user) must get nothing from a bookmark.
// The browser sends the cookie only under the prefix, and the agent
// refuses a replayed cookie anywhere else.
func TestStatusPageSessionOnlyUnderPrefix(t *testing.T) {
	acts := &fakeActions{}
	addr, dir := startPage(t, acts)
	c, base := signIn(t, dir)
	root, _ := url.Parse("http://" + addr + "/")
	if cs := c.Jar.Cookies(root); len(cs) != 0 {
		t.Errorf("the browser sends the session to %s: %v", root, cs)
	}
	pageURL, _ := url.Parse(base + "/")
	session := c.Jar.Cookies(pageURL)
	if len(session) != 1 {
		t.Fatalf("no session cookie for %s", pageURL)
	}
	other := "/p/" + pagePrefix()
	for _, p := range []string{"/", "/matter?m=2026-0001", "/file?m=2026-0001&f=a.txt", "/page.css", "/matters",
		other + "/", other + "/matter?m=2026-0001", "/p/", "/p", "/p/x/matter"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+p, nil)
		req.AddCookie(session[0]) // replayed, as a squatter would
		resp, body := do(t, browser(t), req)
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the session cookie: %s, want 403 or 404", p, resp.Status)
		}
		if strings.Contains(body, "2026-0001") || strings.Contains(body, pageURL.Path) {
			t.Errorf("GET %s with the session cookie shows the page or its prefix: %q", p, body)
		}
	}
	req := postForm(t, "http://"+addr+"/restore", url.Values{"m": {"2026-0001"}, "f": {"a.txt"}, "v": {"1"}})
	req.AddCookie(session[0])
	if resp, _ := do(t, browser(t), req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /restore outside the prefix: %s, want 403", resp.Status)
	}
	if got := acts.Calls(); len(got) != 0 {
		t.Errorf("refused requests reached the agent: %q", got)
	}
	// Under the prefix the same cookie works.
	if resp, _ := get(t, c, base+"/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/: %s", base, resp.Status)
	}
}

// Every link and form of every page stays under the prefix: one that did
// not would lose the session (and point the browser at a path where the
// cookie is not sent).
func TestStatusPageLinksCarryPrefix(t *testing.T) {
	acts := &fakeActions{
		conflicts: []ConflictInfo{{Conflict: index.Conflict{Matter: "2026-0001", Path: "a.docx", Copy: "a (conflict).docx", Created: time.Now()}, CopyExists: true}},
		versions:  []VersionInfo{{Version: 2, Size: 3}, {Version: 1, Size: 1}},
	}
	_, dir := startPage(t, fakeSelection{acts})
	c, base := signIn(t, dir)
	u, _ := url.Parse(base)
	prefix := u.Path + "/"
	attr := regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)
	pages := map[string]string{}
	for _, p := range []string{"/", "/matter?m=2026-0001", "/matter?m=2026-0001&dir=sub&at=2026-12-01", "/file?m=2026-0001&f=a.txt", "/matters"} {
		resp, body := get(t, c, base+p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", p, resp.Status)
		}
		pages["GET "+p] = body
	}
	csrf := between(pages["GET /"], `name="csrf" value="`, `"`)
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{"/restore", url.Values{"m": {"2026-0001"}, "f": {"a.txt"}, "v": {"1"}}},
		{"/restore-folder", url.Values{"m": {"2026-0001"}, "dir": {"sub"}, "at": {"2026-12-01"}}},
		{"/conflict", url.Values{"m": {"2026-0001"}, "copy": {"a (conflict).docx"}, "keep": {"both"}}},
		{"/matters", url.Values{"m": {"2026-0002"}, "on": {"1"}}},
	} {
		f.form.Set("csrf", csrf)
		resp, body := do(t, c, postForm(t, base+f.path, f.form))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s %s", f.path, resp.Status, body)
		}
		pages["POST "+f.path] = body
	}
	for name, body := range pages {
		links := attr.FindAllStringSubmatch(body, -1)
		if len(links) < 2 {
			t.Errorf("%s: %d links, expected the stylesheet and at least one more", name, len(links))
		}
		for _, m := range links {
			if !strings.HasPrefix(html.UnescapeString(m[1]), prefix) {
				t.Errorf("%s: link %q is not under %s", name, m[1], prefix)
			}
		}
	}
}

// The share form sends the file's name back exactly and the result shows
// a hostile name, recipient and link as text; the link with its key is in
// the answer's body only (not a redirect, not stored: no-store).
func TestStatusPageShareForm(t *testing.T) {
	acts := &fakeActions{versions: []VersionInfo{{Version: 3, Size: 10}}}
	_, dir := startPage(t, acts)
	c, base := signIn(t, dir)
	rel := "Drafts/" + hostileCopy
	resp, body := get(t, c, base+"/file?"+url.Values{"m": {"2026-0001"}, "f": {rel}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="`+strings.TrimPrefix(base, "http://"+resp.Request.URL.Host)+`/share"`) {
		t.Fatalf("file page without the share form: %s\n%s", resp.Status, body)
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(body, bad) {
			t.Errorf("the file page holds %q raw", bad)
		}
	}
	csrf := between(body, `name="csrf" value="`, `"`)
	req := postForm(t, base+"/share", url.Values{"m": {"2026-0001"}, "f": {rel}, "to": {"client@example.com"}, "expires": {"36h"}, "max": {"2"}, "csrf": {csrf}})
	resp, out := do(t, c, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("POST /share: %s %v", resp.Status, resp.Header)
	}
	if got := acts.Calls(); len(got) != 1 || got[0] != "share 2026-0001 "+rel+" client@example.com" {
		t.Fatalf("calls %q", got)
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(out, bad) {
			t.Errorf("the share result holds %q raw:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `value="https://shares.firm.test/s/0123#`+fakeShareKey+`"`) || !strings.Contains(out, "at most 2 downloads") {
		t.Fatalf("share result:\n%s", out)
	}
	// A refusal is the command's, in the form's words.
	req = postForm(t, base+"/share", url.Values{"m": {"2026-0001"}, "f": {rel}, "to": {"Client <client@example.com>"}, "csrf": {csrf}})
	if _, out := do(t, c, req); !strings.Contains(out, "Not done: the address &#34;Client &lt;client@example.com&gt;&#34; is not an e-mail address") {
		t.Fatalf("share to a named address:\n%s", out)
	}
	// The gateway's refusal of a screened member, in a share's words (not
	// the sync's "syncing is paused").
	req = postForm(t, base+"/share", url.Values{"m": {"2026-0001"}, "f": {rel}, "to": {"screened@example.com"}, "csrf": {csrf}})
	if _, out := do(t, c, req); !strings.Contains(out, "Not done: The firm&#39;s server refuses a share from you in this matter: you may be screened from it") {
		t.Fatalf("share refused as screened:\n%s", out)
	}
}
