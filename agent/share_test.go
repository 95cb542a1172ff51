package agent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/agenttest"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// lockedBuffer is a log sink safe for the agent's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Only a committed version is shared: a file not synced yet, or changed
// since, is refused with ErrNotCommitted and nothing is sent. The share
// object in the bucket opens with the link's key to the file's bytes and
// base name; neither the key nor the name is in the INFO log. Beside a
// running agent the command asks it (ShareThroughAgent).
func TestShareCommittedOnly(t *testing.T) {
	eachSharingWorld(t, func(w *world) {
		t := w.t
		var log lockedBuffer
		w.logTo = &log
		alice := w.agent(w.member("ro"))
		ctx := context.Background()
		o := agent.ShareOptions{To: "client@example.com", Expires: 7 * 24 * time.Hour, MaxDownloads: 3}
		data := bytes.Repeat([]byte("settlement terms, privileged\n"), 50_000) // 1.4 MB: two segments
		const name = "Settlement draft (v2).docx"
		// The reader-only member cannot commit: the file comes from a
		// writer.
		bob := w.agent(w.member("rw"))
		bob.write("Drafts/"+name, data)
		if _, err := alice.Share(ctx, alice.path("Drafts/"+name), o); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("share of a file this laptop does not have: %v", err)
		}
		bob.sync()
		alice.sync()
		alice.write("local only.txt", []byte("not synced"))
		if _, err := alice.Share(ctx, alice.path("local only.txt"), o); !errors.Is(err, agent.ErrNotCommitted) || !strings.Contains(err.Error(), "not synced yet") {
			t.Fatalf("share of a file not synced: %v", err)
		}
		alice.write("Drafts/"+name, append(bytes.Clone(data), '!'))
		if _, err := alice.Share(ctx, alice.path("Drafts/"+name), o); !errors.Is(err, agent.ErrNotCommitted) || !strings.Contains(err.Error(), "changes not synced yet") {
			t.Fatalf("share of a changed file: %v", err)
		}
		alice.write("Drafts/"+name, data)
		alice.sync()
		if _, err := alice.Share(ctx, alice.folder, o); err == nil {
			t.Fatal("share of the matter folder: no error")
		}
		if _, err := alice.Share(ctx, alice.path("Drafts/"+name), agent.ShareOptions{To: "client", Expires: time.Hour, MaxDownloads: 1}); err == nil {
			t.Fatal("share to no address: no error")
		}
		// Beyond the gateway's maxima (IT's, 30 days and 20 downloads by
		// default): refused in the command's terms.
		if _, err := alice.Share(ctx, alice.path("Drafts/"+name), agent.ShareOptions{To: o.To, Expires: 60 * 24 * time.Hour}); err == nil ||
			!strings.Contains(err.Error(), "--expires 60 days is longer than this gateway allows (at most 30 days)") {
			t.Fatalf("share for 60 days: %v", err)
		}
		if _, err := alice.Share(ctx, alice.path("Drafts/"+name), agent.ShareOptions{To: o.To, MaxDownloads: 50}); err == nil ||
			!strings.Contains(err.Error(), "--max-downloads 50 is more than this gateway allows (at most 20)") {
			t.Fatalf("share for 50 downloads: %v", err)
		}
		sharesBefore := shareObjects(w)

		// What a share stopped half way left (a day old) goes; a fresh one
		// (a share running beside) stays.
		stale, fresh := filepath.Join(alice.cfg.DataDir, "share-1.tmp"), filepath.Join(alice.cfg.DataDir, "share-2.tmp")
		for _, p := range []string{stale, fresh} {
			if err := os.WriteFile(p, []byte("ciphertext"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(stale, time.Now().Add(-25*time.Hour), time.Now().Add(-25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		link, err := alice.Share(ctx, alice.path("Drafts/"+name), o)
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(filepath.Join(alice.cfg.DataDir, "share-*.tmp")); len(left) != 1 || left[0] != fresh {
			t.Fatalf("share temp files left: %v, want only %s", left, fresh)
		}
		if link.Version != 1 || link.Size != int64(len(data)) || link.Recipient != o.To || link.MaxDownloads != 3 || link.ID == "" ||
			!strings.HasSuffix(strings.SplitN(link.Link, "#", 2)[0], "/s/"+link.ID) {
			t.Fatalf("share: %+v", link)
		}
		checkShareObject(t, w, link, name, data)
		if len(sharesBefore) != 0 {
			t.Fatalf("refused shares left objects: %v", sharesBefore)
		}

		// Through the running agent, as the command does beside it.
		alice.runWithPage()
		link2, err := agent.ShareThroughAgent(ctx, alice.cfg.DataDir, alice.path("Drafts/"+name), o)
		if err != nil {
			t.Fatal(err)
		}
		if link2.ID == link.ID || link2.Link == link.Link {
			t.Fatalf("two shares, one link: %+v", link2)
		}
		checkShareObject(t, w, link2, name, data)
		if _, err := agent.ShareThroughAgent(ctx, alice.cfg.DataDir, alice.path("local only.txt"), o); err == nil || !strings.Contains(err.Error(), "not synced yet") {
			t.Fatalf("through the agent, a file not synced: %v", err)
		}
		// The log of sync names files (it is the laptop's, which has
		// them); the share's lines do not, and no line holds a key.
		shares := 0
		for _, line := range strings.Split(log.String(), "\n") {
			for _, l := range []agent.ShareLink{link, link2} {
				_, key, _ := strings.Cut(l.Link, "#")
				if strings.Contains(line, key) {
					t.Fatalf("the log holds a share key:\n%s", line)
				}
			}
			if strings.Contains(line, "share") {
				shares++
				if strings.Contains(line, "Settlement") {
					t.Fatalf("the share's log line names the file:\n%s", line)
				}
			}
		}
		if shares != 2 {
			t.Fatalf("%d share lines in the log, want 2:\n%s", shares, log.String())
		}
	})
}

// eachSharingWorld is eachWorld with a gateway that shares (codes are
// mailed nowhere: these tests send none).
func eachSharingWorld(t *testing.T, f func(w *world)) {
	cfg := func(c *gateway.Config) {
		c.Sharing = gatewaytest.SharingConfig(t, "https://shares.firm.test", "127.0.0.1:9")
	}
	t.Run("fake", func(t *testing.T) { f(setupWorld(t, agenttest.NewFake(t), nil, gatewaytest.Options{Config: cfg})) })
	t.Run("real", func(t *testing.T) {
		if testing.Short() {
			t.Skip("integration test: real Vault and MinIO")
		}
		v := kmstest.Setup(t)
		f(setupWorld(t, agenttest.Real(v), v, gatewaytest.Options{MinIO: true, Config: cfg}))
	})
}

// shareObjects returns the share objects in the world's storage, by key.
func shareObjects(w *world) map[string][]byte {
	out := map[string][]byte{}
	for k, b := range w.objects() {
		if strings.Contains(k, "/s/") {
			out[k] = b
		}
	}
	return out
}

// checkShareObject opens the share object of link with the link's key.
func checkShareObject(t *testing.T, w *world, link agent.ShareLink, name string, data []byte) {
	t.Helper()
	_, k, _ := strings.Cut(link.Link, "#")
	raw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil || len(raw) != format.ShareKeySize {
		t.Fatalf("link key %q: %v", k, err)
	}
	var found bool
	for key, obj := range shareObjects(w) {
		if !strings.HasSuffix(key, "/"+link.ID) {
			continue
		}
		found = true
		meta, got, err := format.OpenShare(obj, [format.ShareKeySize]byte(raw))
		if err != nil || meta.Name != name || !bytes.Equal(got, data) {
			t.Fatalf("share object %s: %v, name %q, %d bytes", key, err, meta.Name, len(got))
		}
	}
	if !found {
		t.Fatalf("no share object for %s", link.ID)
	}
}

// Sharing from the status page (the file page's form): the link the page
// shows once opens the share object to the file's bytes and name; the
// refusals are the command's, in the form's words; a POST from another
// site makes no share; the key is in no log line and no other page.
func TestPageShare(t *testing.T) {
	eachSharingWorld(t, func(w *world) {
		t := w.t
		var log lockedBuffer
		w.logTo = &log
		alice := w.agent(w.member("rw"))
		data := bytes.Repeat([]byte("heads of terms, privileged\n"), 1000)
		const name = "Heads of terms.docx"
		alice.write("Drafts/"+name, data)
		alice.sync()
		p := alice.runWithPage()
		file := "/file?" + url.Values{"m": {w.matter}, "f": {"Drafts/" + name}}.Encode()
		code, body := p.get(file)
		if code != http.StatusOK || !strings.Contains(body, "Make the link") {
			t.Fatalf("file page without the share form: %d\n%s", code, body)
		}
		form := func(to, expires, max string) url.Values {
			return url.Values{"m": {w.matter}, "f": {"Drafts/" + name}, "to": {to}, "expires": {expires}, "max": {max}}
		}

		// Refused, with the reason in the form's words; nothing stored.
		for _, c := range []struct {
			form url.Values
			want string
		}{
			{form("client", "", ""), `the address &#34;client&#34; is not an e-mail address`},
			{form("client@example.com", "a week", ""), `the expiry &#34;a week&#34; is not a duration`},
			{form("client@example.com", "60d", ""), "the expiry 60 days is longer than this gateway allows (at most 30 days)"},
			{form("client@example.com", "", "50"), "the download limit 50 is more than this gateway allows (at most 20)"},
			{form("client@example.com", "", "0"), "the download limit &#34;0&#34; is not a number from 1 to 100"},
			{url.Values{"m": {w.matter}, "f": {"nothing here.txt"}, "to": {"client@example.com"}}, "nothing here.txt: no such file"},
		} {
			code, out := p.postRaw(file, "/share", c.form)
			if code != http.StatusOK || !strings.Contains(out, "Not done: ") || !strings.Contains(out, c.want) {
				t.Errorf("share %v: %d, want %q:\n%s", c.form, code, c.want, between(out, "<h1>", "</main>"))
			}
		}
		// Sharing turned off by IT for the matter: the page says so.
		it, err := client.New(w.gateway, w.v.Login(t, w.v.User(t, true)), client.Options{Device: "it"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := it.SetSharing(context.Background(), w.matter, false); err != nil {
			t.Fatal(err)
		}
		if _, out := p.postRaw(file, "/share", form("client@example.com", "", "")); !strings.Contains(out, "Not done: Sharing outside the firm is turned off for this matter") {
			t.Errorf("share with sharing off:\n%s", between(out, "<h1>", "</main>"))
		}
		if _, err := it.SetSharing(context.Background(), w.matter, true); err != nil {
			t.Fatal(err)
		}
		// A form posted from another site, with the right token even.
		f := form("attacker@example.com", "", "")
		f.Set("csrf", between(body, `name="csrf" value="`, `"`))
		req, _ := http.NewRequest(http.MethodPost, p.base+"/share", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := p.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site share POST: %s, want 403", resp.Status)
		}
		if n := len(shareObjects(w)); n != 0 {
			t.Fatalf("refused shares left %d objects", n)
		}

		out := p.post(file, "/share", form("client@example.com", "2d", "2"))
		raw := html.UnescapeString(between(out, `readonly value="`, `"`))
		id := between(raw, "/s/", "#")
		if !strings.HasPrefix(raw, "https://shares.firm.test/s/") || id == "" || strings.Count(raw, "#") != 1 {
			t.Fatalf("share result without a link:\n%s", out)
		}
		for _, want := range []string{"for <strong>client@example.com</strong>", "at most 2 downloads", "version 1 of Drafts/" + name} {
			if !strings.Contains(out, want) {
				t.Errorf("share result lacks %q:\n%s", want, out)
			}
		}
		checkShareObject(t, w, agent.ShareLink{Link: raw, ID: id}, name, data)
		_, key, _ := strings.Cut(raw, "#")
		for _, pg := range []string{"/", file, "/matter?m=" + url.QueryEscape(w.matter)} {
			if _, b := p.get(pg); strings.Contains(b, key) {
				t.Errorf("GET %s shows the key again", pg)
			}
		}
		if strings.Contains(log.String(), key) {
			t.Fatalf("the agent's log holds the share key:\n%s", log.String())
		}
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "share") && strings.Contains(line, "Heads of terms") {
				t.Errorf("a share log line names the file:\n%s", line)
			}
		}
	})
}
