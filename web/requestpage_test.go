package web_test

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/internal/chromiumtest"
	"github.com/mattersync/mattersync/web"
)

// fakeRequest answers the client routes of a file request
// (docs/API.md) for one request, opening what the page uploads with the
// request's private key, so the page is tested on its own; the real
// gateway and agents are tested with it in agent/incoming_test.go.
type fakeRequest struct {
	mu       sync.Mutex
	priv     *ecdh.PrivateKey
	state    string
	upload   string // "" ok, else the error code every upload gets
	files    int64
	names    []string
	contents [][]byte
}

func (f *fakeRequest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status int, kind string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"code": kind, "message": "refused"})
	}
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/r/"), "/")
	switch rest {
	case "info":
		json.NewEncoder(w).Encode(map[string]any{"requester": "<b>alice</b>", "recipient_hint": "c•••@example.com", "expires": "2026-12-14T10:00:00Z",
			"state": f.state, "max_files": 3, "files": f.files, "max_file_bytes": 1 << 20, "max_bytes": 4 << 20, "bytes": 0})
	case "code":
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{}`))
	case "verify":
		json.NewEncoder(w).Encode(map[string]string{"grant": "g-secret", "expires": "2026-12-07T11:00:00Z"})
	case "drops":
		if r.Header.Get("Authorization") != "Grant g-secret" {
			fail(http.StatusForbidden, "grant_invalid")
			return
		}
		if f.upload != "" {
			fail(http.StatusGone, f.upload)
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		if r.Header.Get("X-Mattersync-Checksum-Sha256") != hex.EncodeToString(sum[:]) {
			fail(http.StatusBadRequest, "checksum_mismatch")
			return
		}
		meta, plain, err := format.OpenDrop(body, f.priv)
		if err != nil {
			fail(http.StatusBadRequest, "invalid_request")
			return
		}
		f.files++
		f.names = append(f.names, meta.Name)
		f.contents = append(f.contents, plain)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]int64{"files": f.files, "max_files": 3, "bytes": 0, "max_bytes": 4 << 20})
	default:
		fail(http.StatusNotFound, "not_found")
	}
}

// The client's page under its CSP, against the contract: who asked shown
// as text; a code, then files sealed in the browser to the fragment's key
// (the fake opens them); every refusal a clear message, nothing sent.
func TestRequestPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium")
	}
	c, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	priv := format.NewRequestKey()
	fake := &fakeRequest{priv: priv}
	mux := http.NewServeMux()
	mux.Handle(web.Prefix, c)
	mux.HandleFunc("GET /r/{id}", c.ServeRequestPage)
	mux.Handle("/r/{id}/", fake)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	frag := "#" + base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())

	b := chromiumtest.Start(t)
	state := func() string {
		return chromiumtest.Eval[string](t, b, `document.documentElement.dataset.requestState || ''`)
	}
	open := func(st, upload, fr string) {
		t.Helper()
		fake.mu.Lock()
		fake.state, fake.upload = st, upload
		fake.mu.Unlock()
		b.Navigate(t, "about:blank")
		b.Navigate(t, srv.URL+"/r/abc123"+fr)
		b.WaitFor(t, `['ask', 'refused'].includes(document.documentElement.dataset.requestState)`)
	}
	toUpload := func() {
		t.Helper()
		chromiumtest.Eval[bool](t, b, `document.getElementById('send').click(), true`)
		b.WaitFor(t, `document.documentElement.dataset.requestState === 'code'`)
		chromiumtest.Eval[bool](t, b, `document.getElementById('code').value = '123456', document.getElementById('check').click(), true`)
		b.WaitFor(t, `document.documentElement.dataset.requestState === 'upload'`)
	}
	pick := func(files ...string) {
		t.Helper()
		js := `(() => { const dt = new DataTransfer();`
		for _, f := range files {
			js += fmt.Sprintf(`dt.items.add(new File([new TextEncoder().encode('content of ' + %q)], %q));`, f, f)
		}
		js += `document.getElementById('files').files = dt.files; document.getElementById('go').click(); return true; })()`
		chromiumtest.Eval[bool](t, b, js)
		b.WaitFor(t, `['done', 'refused'].includes(document.documentElement.dataset.requestState)`)
	}
	refused := func(what, kind, says string) {
		t.Helper()
		if st := state(); st != "refused" {
			t.Fatalf("%s: state %q", what, st)
		}
		if got := chromiumtest.Eval[string](t, b, `document.documentElement.dataset.requestError`); got != kind {
			t.Errorf("%s: refused as %q, want %q", what, got, kind)
		}
		if got := chromiumtest.Eval[string](t, b, `document.getElementById('error').textContent`); !strings.Contains(got, says) {
			t.Errorf("%s: the page says %q, want %q in it", what, got, says)
		}
	}

	for _, c := range []struct{ state, kind, says string }{
		{"expired", "request_expired", "expired"}, {"revoked", "request_revoked", "withdrawn"}, {"full", "request_full", "all the files it allows"},
	} {
		open(c.state, "", frag)
		refused(c.state, c.kind, c.says)
	}
	open("ok", "", "#not-a-key")
	refused("a fragment that is no key", "altered", "altered or is incomplete")
	open("ok", "request_full", frag)
	toUpload()
	pick("a.txt")
	refused("full at upload", "request_full", "all the files it allows")
	open("ok", "", frag)
	toUpload()
	pick("1", "2", "3", "4")
	refused("four of three", "too_many", "more files than this link still takes")
	if len(fake.names) != 0 {
		t.Fatalf("refusals uploaded %v", fake.names)
	}

	open("ok", "", frag)
	if got := chromiumtest.Eval[string](t, b, `document.getElementById('requester').textContent`); got != "<b>alice</b>" {
		t.Errorf("requester shown as %q", got)
	}
	if n := chromiumtest.Eval[int](t, b, `document.querySelectorAll('main b').length`); n != 0 {
		t.Errorf("the requester's name became markup")
	}
	toUpload()
	const hostile = "<img src=x onerror=alert(1)>.pdf"
	pick(hostile, "Brief.docx")
	if st := state(); st != "done" {
		t.Fatalf("upload: state %s", st)
	}
	if len(fake.names) != 2 || fake.names[0] != hostile || string(fake.contents[1]) != "content of Brief.docx" {
		t.Fatalf("opened %q", fake.names)
	}
	if n := chromiumtest.Eval[int](t, b, `document.querySelectorAll('img').length`); n != 0 {
		t.Errorf("a name became markup: %d img", n)
	}
	if d := b.Dialogs(t); len(d) != 0 {
		t.Errorf("script ran: %v", d)
	}
}
