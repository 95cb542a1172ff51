package agent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/internal/fault"
)

// The local status page is served on the status endpoint's loopback port,
// next to GET /status. Only the user whose agent it is can use it:
//
//   - A browser gets in with a ticket in the URL once (GET /open?t=...),
//     made by `mattersync status --open` from the status token, which only
//     the user can read (0600 in the data dir). A ticket is an HMAC under
//     that token of the agent's address, a time and a nonce: good for two
//     minutes and once, so a URL left in the browser's history or seen in a
//     process list opens nothing later. It is traded for a session cookie
//     (HttpOnly, SameSite=Strict, random, in memory only) and the browser is
//     sent on to the page, dropping the ticket from the address bar.
//   - The page lives under a path prefix random for each agent run
//     (/p/<128 bits>/), and the cookie is scoped to it (Path). Browsers send
//     a 127.0.0.1 cookie to every port of 127.0.0.1: if another user's
//     program holds the configured port (the agent then took a free one),
//     a bookmark of that port would hand it the session. It gets the
//     cookie only for a URL under the prefix, which only this run's page
//     links to, and the prefix is in no file: the browser learns it from
//     the redirect after the ticket. Anything outside the prefix is 403
//     (the ticket exchange and the CLI's proof-checked endpoints aside).
//   - Every other request without a live session gets 403, so another user
//     of the machine (a terminal server: every loopback port is reachable by
//     all) sees nothing.
//   - The Host header must be the agent's own loopback address: a web page
//     whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused.
//   - A POST (restore, conflict, share) needs the CSRF token of the session (an
//     HMAC of the session ID) and, when the browser sends one, an Origin of
//     this page.
//   - The pages use no script at all; the Content-Security-Policy forbids
//     any (and inline styles), and html/template escapes every name, which
//     also goes through SafeText (no bidirectional overrides or control
//     characters from a hostile file name).

//go:embed statuspage
var pageFiles embed.FS

// pageActions is what the page does beyond showing the status; *Agent has
// them. A status served while no agent runs (waiting for a login) has
// none: the page then shows the status only.
type pageActions interface {
	Conflicts(ctx context.Context) ([]ConflictInfo, error)
	SettleConflict(ctx context.Context, matter, copy string, keep Keep) (string, error)
	FileVersions(ctx context.Context, matter, rel string) ([]VersionInfo, error)
	RestoreVersion(ctx context.Context, matter, rel string, version int64) (int64, error)
	FolderAt(ctx context.Context, matter, dir string, at time.Time) (FolderView, error)
	RestoreFolderAt(ctx context.Context, matter, dir string, at time.Time) (FolderRestore, error)
	RecentActivity(n int) []Activity
}

// RecentActivity returns up to n of the newest file decisions, newest first.
func (a *Agent) RecentActivity(n int) []Activity { return a.activity.recent(n) }

const (
	ticketLife  = 2 * time.Minute
	sessionLife = 12 * time.Hour
	maxForm     = 64 << 10
	// pageCSP: no script, no inline style, nothing from elsewhere, never
	// framed.
	pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// statusPage serves the local status page; see the comment above.
type statusPage struct {
	token []byte // the status token: tickets and CSRF tokens are HMACs under it
	self  string // the address listened on, e.g. 127.0.0.1:49152
	// dataDir is the agent's: the user's choice of matters is kept there
	// (selection.go).
	dataDir string
	hosts   map[string]bool // Host headers accepted
	cookie  string          // the session cookie's name, per port: two agents' cookies stay apart
	// prefix is the path every page is under, "/p/<random>/", new for
	// each agent run; the session cookie is scoped to it.
	prefix string
	board  *statusBoard
	acts   pageActions // nil: status only
	log    *slog.Logger
	tmpl   *template.Template
	now    func() time.Time

	mu       sync.Mutex           // guards sessions and spent
	sessions map[string]time.Time // session ID -> expiry
	spent    map[string]time.Time // ticket nonces used -> when they expire anyway
}

func newStatusPage(token, self, dataDir string, board *statusBoard, acts pageActions, log *slog.Logger) (*statusPage, error) {
	_, port, err := net.SplitHostPort(self)
	if err != nil {
		return nil, err
	}
	t, err := template.New("page").Funcs(template.FuncMap{
		"t":    SafeText,
		"when": func(t time.Time) string { return whenText(t) },
		"size": sizeText,
		"pct": func(done, total int) int {
			if total <= 0 {
				return 0
			}
			return min(100, 100*done/total)
		},
		"base":   func(p string) string { return p[strings.LastIndex(p, "/")+1:] },
		"size64": func(n int64) string { return sizeText(uint64(max(n, 0))) },
	}).ParseFS(pageFiles, "statuspage/*.html")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &statusPage{
		token: []byte(token), self: self, dataDir: dataDir, board: board, acts: acts, log: log, tmpl: t, now: time.Now,
		hosts:    map[string]bool{self: true, net.JoinHostPort("localhost", port): true},
		cookie:   "mattersync_" + port,
		prefix:   "/p/" + pagePrefix() + "/",
		sessions: map[string]time.Time{}, spent: map[string]time.Time{},
	}, nil
}

// pagePrefix is 128 random bits, base64url: the page's path segment for
// one agent run.
func pagePrefix() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// PageTicket returns a ticket that opens the status page of the agent at
// addr once, within two minutes (see statusPage).
func PageTicket(token []byte, addr string, now time.Time) string {
	ts, nonce := strconv.FormatInt(now.Unix(), 10), randomToken()[:32]
	return ts + "." + nonce + "." + statusProof(token, "status page ticket", addr, ts, nonce)
}

// StatusPageURL asks the running agent for its status (proving it is this
// user's agent, see ReadStatus) and returns a URL that opens its status
// page once, within two minutes.
func StatusPageURL(ctx context.Context, dataDir string) (string, error) {
	if _, err := ReadStatus(ctx, dataDir); err != nil {
		return "", err
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, statusTokenFile))
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dataDir, statusAddrFile))
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(string(b))
	return "http://" + addr + "/open?t=" + PageTicket([]byte(strings.TrimSpace(string(tok))), addr, time.Now()), nil
}

func (p *statusPage) routes(mux *http.ServeMux) {
	mux.Handle("GET /open", p.guard(false, p.open))
	in := func(method, path string) string { return method + " " + p.prefix + path }
	mux.Handle(in("GET", "{$}"), p.guard(true, p.overview))
	mux.Handle(in("GET", "matter"), p.guard(true, p.folder))
	mux.Handle(in("GET", "file"), p.guard(true, p.file))
	mux.Handle(in("GET", "page.css"), p.guard(true, p.css))
	mux.Handle(in("POST", "restore"), p.guard(true, p.post(p.restore)))
	mux.Handle(in("POST", "restore-folder"), p.guard(true, p.post(p.restoreFolder)))
	mux.Handle(in("POST", "conflict"), p.guard(true, p.post(p.conflict)))
	mux.Handle(in("POST", "share"), p.guard(true, p.post(p.share)))
	mux.Handle(in("GET", "matters"), p.guard(true, p.matters))
	mux.Handle(in("POST", "matters"), p.guard(true, p.post(p.chooseMatter)))
	mux.Handle(p.prefix, p.guard(true, func(w http.ResponseWriter, _ *http.Request, _ string) {
		http.Error(w, "not found", http.StatusNotFound)
	}))
	// Outside the prefix: an old bookmark (a past run's prefix, or none),
	// or someone guessing. Refused whatever cookie comes along.
	mux.Handle("/", p.guard(false, func(w http.ResponseWriter, _ *http.Request, _ string) {
		p.forbidden(w, "This address is not the status page (an old bookmark?): open it with `mattersync status --open`.")
	}))
}

type pageHandler func(w http.ResponseWriter, r *http.Request, session string)

// guard sets the security headers, refuses a foreign Host and, if
// session, a request without a live session.
func (p *statusPage) guard(session bool, h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", pageCSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !p.hosts[r.Host] {
			// DNS rebinding: a page from elsewhere whose name now points
			// at 127.0.0.1 sends its own name.
			http.Error(w, "forbidden: this page answers only at "+p.self, http.StatusForbidden)
			return
		}
		sid := ""
		if session {
			if sid = p.session(r); sid == "" {
				p.forbidden(w, "Open this page with `mattersync status --open` (it is this computer's user's only).")
				return
			}
		}
		h(w, r, sid)
	})
}

// post checks a form POST: its size, its Origin, its CSRF token.
func (p *statusPage) post(h pageHandler) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, sid string) {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			p.forbidden(w, "This form was sent from another site.")
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			p.forbidden(w, "This form was sent from another site.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(p.csrf(sid))) != 1 {
			p.forbidden(w, "This form is out of date: reload the page and try again.")
			return
		}
		if p.acts == nil {
			http.Error(w, "the agent is not syncing right now: nothing can be changed", http.StatusServiceUnavailable)
			return
		}
		h(w, r, sid)
	}
}

func (p *statusPage) forbidden(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, "Forbidden.", why)
}

// csrf is the CSRF token of a session.
func (p *statusPage) csrf(sid string) string { return statusProof(p.token, "status page csrf", sid) }

// session returns the live session of r's cookie, or "".
func (p *statusPage) session(r *http.Request) string {
	c, err := r.Cookie(p.cookie)
	if err != nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.sessions[c.Value]
	if !ok || p.now().After(exp) {
		return ""
	}
	return c.Value
}

// open trades a ticket for a session cookie.
func (p *statusPage) open(w http.ResponseWriter, r *http.Request, _ string) {
	if !p.redeem(r.URL.Query().Get("t")) {
		p.forbidden(w, "This link was used already or is more than two minutes old: run `mattersync status --open` again.")
		return
	}
	sid := randomToken()
	now := p.now()
	p.mu.Lock()
	for k, exp := range p.sessions {
		if now.After(exp) {
			delete(p.sessions, k)
		}
	}
	p.sessions[sid] = now.Add(sessionLife)
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: p.cookie, Value: sid, Path: p.prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionLife / time.Second)})
	http.Redirect(w, r, p.prefix, http.StatusSeeOther)
}

// redeem checks a ticket and spends it.
func (p *statusPage) redeem(ticket string) bool {
	parts := strings.Split(ticket, ".")
	if len(parts) != 3 {
		return false
	}
	secs, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return false
	}
	now, at := p.now(), time.Unix(secs, 0)
	if now.Sub(at) > ticketLife || at.Sub(now) > 5*time.Second {
		return false
	}
	want := statusProof(p.token, "status page ticket", p.self, parts[0], parts[1])
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(want)) != 1 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, exp := range p.spent {
		if now.After(exp) {
			delete(p.spent, k)
		}
	}
	if _, used := p.spent[parts[1]]; used {
		return false
	}
	p.spent[parts[1]] = at.Add(ticketLife + time.Minute)
	return true
}

func (p *statusPage) css(w http.ResponseWriter, _ *http.Request, _ string) {
	b, err := pageFiles.ReadFile("statuspage/page.css")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(b)
}

// render writes a page; every page gets the session's CSRF token.
func (p *statusPage) render(w http.ResponseWriter, name, sid string, data map[string]any) {
	data["CSRF"] = p.csrf(sid)
	data["Prefix"] = p.prefix
	data["Actions"] = p.acts != nil
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.log.Error("status page", "page", name, "err", err)
	}
}

// result shows the outcome of an action, with a way back.
func (p *statusPage) result(w http.ResponseWriter, sid, title, msg string, err error, back string) {
	data := map[string]any{"Title": title, "Message": msg, "Back": back}
	if err != nil {
		p.log.Warn("status page action failed", "action", title, "err", err)
		data["Error"] = explainOr(err)
	}
	p.render(w, "result.html", sid, data)
}

// explainOr says err in the user's words where explain has words for its
// kind (the server unreachable, the login expired, access refused,
// tampering); anything else is the action's own sentence ("version 3 is a
// delete; pick an earlier version"), which explain's catch-all ("retried
// automatically") would hide, and which is not retried.
func explainOr(err error) string {
	switch k := fault.Of(err); {
	case errors.Is(err, ErrRevoked), errors.Is(err, context.DeadlineExceeded), integrity(err),
		k == fault.Unavailable, k == fault.Unauthenticated, k == fault.Denied, k == fault.Sealed:
		return explain(err)
	}
	return err.Error()
}

type matterRow struct {
	MatterStatus
	FirstSync bool
	ETA       string
}

func (p *statusPage) overview(w http.ResponseWriter, r *http.Request, sid string) {
	s := p.board.snapshot()
	rows := make([]matterRow, 0, len(s.Matters))
	for _, m := range s.Matters {
		rows = append(rows, matterRow{MatterStatus: m, FirstSync: m.LastSync.IsZero(), ETA: etaText(m, p.now())})
	}
	slices.SortFunc(rows, func(a, b matterRow) int { return strings.Compare(a.ID, b.ID) })
	data := map[string]any{"S": s, "Matters": rows, "Refresh": true}
	if p.acts != nil {
		cs, err := p.acts.Conflicts(r.Context())
		if err != nil {
			data["ConflictsError"] = explainOr(err)
		}
		data["Conflicts"] = cs
		data["Activity"] = p.acts.RecentActivity(50)
	}
	p.render(w, "overview.html", sid, data)
}

// folderRow is one line of a folder listing: a subfolder or a file.
type folderRow struct {
	Base, Dir string // the name in this folder; a subfolder's path
	FolderEntry
	LastLive int64 // a deleted file: its version before the delete
}

func (p *statusPage) folder(w http.ResponseWriter, r *http.Request, sid string) {
	q := r.URL.Query()
	matter, dir, atText := q.Get("m"), q.Get("dir"), q.Get("at")
	data := map[string]any{"Matter": matter, "Dir": dir, "AtText": atText}
	if p.acts == nil {
		p.render(w, "folder.html", sid, data)
		return
	}
	at, err := parseWhen(atText, time.Local)
	if err != nil {
		data["Error"] = err.Error()
		p.render(w, "folder.html", sid, data)
		return
	}
	view, err := p.acts.FolderAt(r.Context(), matter, dir, at)
	if err != nil {
		data["Error"] = explainOr(err)
		p.render(w, "folder.html", sid, data)
		return
	}
	var folders, files, deleted []folderRow
	seen := map[string]bool{}
	for _, e := range view.Files {
		name, isDir := childOf(view.Dir, e.Path)
		switch {
		case isDir && !seen[name]:
			seen[name] = true
			folders = append(folders, folderRow{Base: name, Dir: strings.TrimPrefix(view.Dir+"/"+name, "/")})
		case isDir:
		case e.Deleted:
			deleted = append(deleted, folderRow{Base: name, FolderEntry: e, LastLive: e.Version - 1})
		default:
			files = append(files, folderRow{Base: name, FolderEntry: e})
		}
	}
	data["Dir"], data["At"], data["Folders"], data["Files"], data["Deleted"], data["Later"] = view.Dir, at, folders, files, deleted, view.Later
	if !at.IsZero() {
		data["AtText"] = at.Format("2006-01-02T15:04")
	}
	if view.Dir != "" {
		up := ""
		if i := strings.LastIndex(view.Dir, "/"); i > 0 {
			up = view.Dir[:i]
		}
		data["Up"] = up
		data["HasUp"] = true
	}
	p.render(w, "folder.html", sid, data)
}

func (p *statusPage) file(w http.ResponseWriter, r *http.Request, sid string) {
	q := r.URL.Query()
	matter, rel := q.Get("m"), q.Get("f")
	data := map[string]any{"Matter": matter, "Path": rel, "Dir": parentDir(rel)}
	if p.acts != nil {
		vs, err := p.acts.FileVersions(r.Context(), matter, rel)
		if err != nil {
			data["Error"] = explainOr(err)
		}
		data["Versions"] = vs
		if len(vs) > 0 {
			data["Head"] = vs[0].Version
			_, canShare := p.acts.(pageShares)
			data["CanShare"] = canShare && !vs[0].Deleted
		}
	}
	p.render(w, "file.html", sid, data)
}

func (p *statusPage) restore(w http.ResponseWriter, r *http.Request, sid string) {
	f := r.PostForm
	matter, rel := f.Get("m"), f.Get("f")
	back := p.prefix + "file?" + url.Values{"m": {matter}, "f": {rel}}.Encode()
	v, err := strconv.ParseInt(f.Get("v"), 10, 64)
	if err != nil || v < 1 {
		p.result(w, sid, "Restore", "", fmt.Errorf("no version chosen"), back)
		return
	}
	nv, err := p.acts.RestoreVersion(r.Context(), matter, rel, v)
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("Version %d of %s is back as its newest version (%d), on every colleague's computer too. The versions in between stay restorable.", v, SafeText(rel), nv)
	}
	p.result(w, sid, "Restore", msg, err, back)
}

func (p *statusPage) restoreFolder(w http.ResponseWriter, r *http.Request, sid string) {
	f := r.PostForm
	matter, dir := f.Get("m"), f.Get("dir")
	back := p.prefix + "matter?" + url.Values{"m": {matter}, "dir": {dir}}.Encode()
	at, err := parseWhen(f.Get("at"), time.Local)
	if err == nil && at.IsZero() {
		err = errors.New("choose the date and time to go back to")
	}
	if err != nil {
		p.result(w, sid, "Restore folder", "", err, back)
		return
	}
	out, err := p.acts.RestoreFolderAt(r.Context(), matter, dir, at)
	msg := folderRestoreText(out, at)
	p.result(w, sid, "Restore folder", msg, err, back)
}

// folderRestoreText says what a folder restore did, in sentences.
func folderRestoreText(out FolderRestore, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Restored %d files as they were on %s; %d were unchanged.", len(out.Restored), at.Format("2006-01-02 15:04"), out.Unchanged)
	if len(out.Left) > 0 {
		fmt.Fprintf(&b, " %d files made since were left alone (a restore never deletes).", len(out.Left))
	}
	if len(out.Failed) > 0 {
		fmt.Fprintf(&b, " Not restored: %s.", strings.Join(out.Failed, "; "))
	}
	return b.String()
}

func (p *statusPage) conflict(w http.ResponseWriter, r *http.Request, sid string) {
	f := r.PostForm
	msg, err := p.acts.SettleConflict(r.Context(), f.Get("m"), f.Get("copy"), Keep(f.Get("keep")))
	p.result(w, sid, "Conflict", msg, err, p.prefix)
}

func parentDir(rel string) string {
	if i := strings.LastIndex(rel, "/"); i > 0 {
		return rel[:i]
	}
	return ""
}

// parseWhen reads a date or a date and time ("" is now: zero). A date
// alone means the end of that day: "the folder as it was on Monday" is
// how it was when Monday's work was done.
func parseWhen(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t.AddDate(0, 0, 1).Add(-time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date: write 2026-12-01 or 2026-12-01 17:30", s)
}

// ParseWhen is parseWhen in local time, for the CLI.
func ParseWhen(s string) (time.Time, error) { return parseWhen(s, time.Local) }

func whenText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func sizeText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// etaText estimates the time left of a matter's uploads from their pace
// so far; "" when there is nothing to estimate.
func etaText(m MatterStatus, now time.Time) string {
	if m.State != "syncing" || m.FilesTotal <= 0 || m.FilesDone <= 0 || m.FilesDone >= m.FilesTotal || m.ProgressSince.IsZero() {
		return ""
	}
	spent := now.Sub(m.ProgressSince)
	left := time.Duration(float64(spent) * float64(m.FilesTotal-m.FilesDone) / float64(m.FilesDone))
	switch {
	case left < time.Minute:
		return "less than a minute left"
	case left < time.Hour:
		return fmt.Sprintf("about %d min left", int(left.Minutes()+0.5))
	}
	return fmt.Sprintf("about %.1f h left", left.Hours())
}
