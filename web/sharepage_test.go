package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/internal/chromiumtest"
	"github.com/mattersync/mattersync/web"
)

// fakeShares answers the share routes of the gateway's contract
// (docs/SHARING.md) for one share, so the page is tested on its own; the
// real gateway's routes are tested with the page in
// cmd/mattersync/share_test.go.
type fakeShares struct {
	mu      sync.Mutex
	state   string // info's state
	code    string
	obj     []byte
	fetched int // objects released
}

func (f *fakeShares) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status int, kind string) {
		w.Header().Set("Content-Type", "application/json")
		if kind == "code_limit" {
			w.Header().Set("Retry-After", "600")
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"code": kind, "message": "refused"})
	}
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/s/"), "/")
	switch rest {
	case "info":
		if f.state == "flood" {
			fail(http.StatusTooManyRequests, "rate_limited")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"recipient_hint": "c•••@example.com", "expires": "2026-12-14T10:00:00Z", "state": f.state})
	case "code":
		if f.code == "limit" {
			fail(http.StatusTooManyRequests, "code_limit")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"recipient_hint": "c•••@example.com", "expires": "2026-12-07T10:10:00Z"})
	case "verify":
		var body struct{ Code string }
		json.NewDecoder(r.Body).Decode(&body)
		if body.Code != f.code {
			fail(http.StatusForbidden, "code_wrong")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"grant": "g-secret", "expires": "2026-12-07T10:05:00Z"})
	case "object":
		if r.Header.Get("Authorization") != "Grant g-secret" {
			fail(http.StatusForbidden, "grant_invalid")
			return
		}
		f.fetched++
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(f.obj)
	default:
		fail(http.StatusNotFound, "not_found")
	}
}

// The recipient's page under its CSP, against the contract: asks for a
// code, verifies it, decrypts streaming and saves the file under its
// decrypted name, a hostile one shown as text; every refusal is a clear
// message and saves nothing.
func TestSharePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium")
	}
	c, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := format.NewShareKey()
	data := bytes.Repeat([]byte("privileged and confidential\n"), 100_000) // 2.8 MB: three segments
	const name = "<img src=x onerror=alert(1)>.docx"
	var obj bytes.Buffer
	if err := format.SealShare(&obj, key, format.ShareMeta{Name: name, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	fake := &fakeShares{obj: obj.Bytes()}
	mux := http.NewServeMux()
	mux.Handle(web.Prefix, c)
	mux.HandleFunc("GET /s/{id}", c.ServeShare)
	mux.Handle("/s/{id}/", fake)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	fragment := "#" + base64.RawURLEncoding.EncodeToString(key[:])

	b := chromiumtest.Start(t)
	open := func(state, code, frag string) {
		t.Helper()
		fake.mu.Lock()
		fake.state, fake.code, fake.fetched = state, code, 0
		fake.mu.Unlock()
		b.Navigate(t, "about:blank") // the same URL again would only move to the fragment
		b.Navigate(t, srv.URL+"/s/abc123"+frag)
	}
	text := func(id string) string {
		return chromiumtest.Eval[string](t, b, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
	}
	enter := func(code string) {
		t.Helper()
		b.WaitFor(t, `document.documentElement.dataset.shareState === 'ask'`)
		if got := text("hint"); got != "c•••@example.com" {
			t.Fatalf("hint %q", got)
		}
		chromiumtest.Eval[bool](t, b, `document.getElementById('send').click(), true`)
		b.WaitFor(t, `document.documentElement.dataset.shareState === 'code' || document.documentElement.dataset.shareState === 'refused'`)
		if code == "" {
			return
		}
		chromiumtest.Eval[bool](t, b, fmt.Sprintf(`document.getElementById('code').value = %q, document.getElementById('download').click(), true`, code))
	}
	refused := func(what, kind, says string) {
		t.Helper()
		b.WaitFor(t, `document.documentElement.dataset.shareState === 'refused'`)
		if got := chromiumtest.Eval[string](t, b, `document.documentElement.dataset.shareError`); got != kind {
			t.Errorf("%s: refused as %q, want %q", what, got, kind)
		}
		if got := text("error"); !strings.Contains(got, says) {
			t.Errorf("%s: the page says %q, want %q in it", what, got, says)
		}
		if d := b.Downloads(); len(d) != 0 {
			t.Errorf("%s: downloads %+v", what, d)
		}
	}

	// Refusals first: nothing may be saved by any of them.
	open("expired", "", fragment)
	refused("expired", "share_expired", "expired")
	open("used_up", "", fragment)
	refused("used up", "share_used_up", "as many times as the sender allowed")
	open("revoked", "", fragment)
	refused("revoked", "share_revoked", "withdrawn")
	open("flood", "", fragment)
	refused("source rate limited", "rate_limited", "Wait a minute, then reload")
	open("ok", "", "")
	refused("no fragment", "altered", "altered or is incomplete")
	open("ok", "limit", fragment)
	enter("")
	refused("code limit", "code_limit", "Wait 10 minutes")
	open("ok", "123456", fragment)
	enter("654321")
	refused("wrong code", "code_wrong", "not right")
	other := format.NewShareKey()
	open("ok", "123456", "#"+base64.RawURLEncoding.EncodeToString(other[:]))
	enter("123456")
	refused("altered fragment", "altered", "could not be decrypted")
	if fake.fetched != 1 {
		t.Fatalf("altered fragment: %d objects fetched", fake.fetched)
	}

	open("ok", "123456", fragment)
	enter("123456")
	b.WaitFor(t, `document.documentElement.dataset.shareState === 'done' || document.documentElement.dataset.shareState === 'refused'`)
	d := b.WaitDownload(t)
	// Chromium saves the name it was given with the characters it refuses
	// in file names replaced.
	if want := strings.NewReplacer("<", "_", ">", "_").Replace(name); d.State != "completed" || d.Name != want {
		t.Fatalf("download %+v, want %q completed", d, want)
	}
	got, err := os.ReadFile(d.Path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("saved %d bytes (%v), want the %d shared", len(got), err, len(data))
	}
	if got := text("name"); got != name {
		t.Errorf("the page names the file %q", got)
	}
	if n := chromiumtest.Eval[int](t, b, `document.querySelectorAll('img').length`); n != 0 {
		t.Errorf("the name became markup: %d img elements", n)
	}
	if d := b.Dialogs(t); len(d) != 0 {
		t.Errorf("script ran from the name: %v", d)
	}
}
