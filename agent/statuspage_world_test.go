package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
)

// page is a browser signed in to a running agent's status page.
type page struct {
	t    *testing.T
	c    *http.Client
	root string // http://<addr>: the agent's endpoints for the CLI
	base string // root + /p/<prefix>: the page, once signed in
}

// runWithPage runs a (already synced once) until the test ends and signs a
// browser in to its status page, as `mattersync status --open` does.
func (a *testAgent) runWithPage() *page {
	t := a.w.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var u string
	for i := 0; ; i++ {
		var err error
		if u, err = agent.StatusPageURL(ctx, a.cfg.DataDir); err == nil {
			break
		}
		if i == 500 {
			t.Fatalf("status page: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	p := &page{t: t, c: &http.Client{Jar: jar, Transport: &http.Transport{}}, root: u[:strings.Index(u, "/open")]}
	t.Cleanup(p.c.CloseIdleConnections)
	resp, err := p.c.Get(u) // the ticket, then the redirect into the page's prefix
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/p/") {
		t.Fatalf("open the status page: %s at %s\n%s", resp.Status, resp.Request.URL, b)
	}
	p.base = p.root + strings.TrimSuffix(resp.Request.URL.Path, "/")
	return p
}

func (p *page) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.c.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form as the form on page from does (with its CSRF token)
// and returns the result page, which must be a success.
func (p *page) post(from, path string, form url.Values) string {
	p.t.Helper()
	_, body := p.get(from)
	_, rest, _ := strings.Cut(body, `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if len(csrf) != 64 {
		p.t.Fatalf("no CSRF token on the overview:\n%s", body)
	}
	form.Set("csrf", csrf)
	resp, err := p.c.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), "Not done") {
		p.t.Fatalf("POST %s %v: %s\n%s", path, form, resp.Status, b)
	}
	return string(b)
}

// postRaw sends a form as post does and returns the answer, whatever it
// is.
func (p *page) postRaw(from, path string, form url.Values) (int, string) {
	p.t.Helper()
	_, body := p.get(from)
	form.Set("csrf", between(body, `name="csrf" value="`, `"`))
	resp, err := p.c.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *testAgent) mustRead(rel string) string {
	a.w.t.Helper()
	b, err := a.read(rel)
	if err != nil {
		a.w.t.Fatalf("%s: %v", a.user.Name, err)
	}
	return string(b)
}

func (a *testAgent) versions(rel string) []agent.VersionInfo {
	a.w.t.Helper()
	vs, err := a.FileVersions(context.Background(), a.w.matter, rel)
	if err != nil {
		a.w.t.Fatal(err)
	}
	return vs
}

// Restore from the status page: version 2 of 5 comes back as version 6
// with version 2's bytes, on the colleague's laptop too; a deleted file
// comes back from its last version.
func TestPageRestore(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice, bob := w.agent(w.member("rw")), w.agent(w.member("rw"))
		for i := 1; i <= 5; i++ {
			alice.write("brief.txt", []byte(fmt.Sprintf("draft %d of the brief", i)))
			alice.sync()
		}
		alice.write("gone.txt", []byte("the only copy of the memo"))
		alice.sync()
		if err := os.Remove(alice.path("gone.txt")); err != nil {
			t.Fatal(err)
		}
		alice.sync()
		bob.sync()
		// A legal hold refuses deletes, not restores: a restore only adds
		// a version.
		admin := w.v.User(t, true)
		it, err := client.New(w.gateway, w.v.Login(t, admin), client.Options{Device: "it"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := it.SetHold(context.Background(), w.matter, api.HoldRequest{Reason: "litigation expected"}); err != nil {
			t.Fatal(err)
		}
		commits := w.auditCount("file.commit")
		p := alice.runWithPage()

		out := p.post("/file?m="+url.QueryEscape(w.matter)+"&f=brief.txt", "/restore", url.Values{"m": {w.matter}, "f": {"brief.txt"}, "v": {"2"}})
		if !strings.Contains(out, "Version 2 of brief.txt is back as its newest version (6)") {
			t.Fatalf("restore result:\n%s", out)
		}
		if got := alice.mustRead("brief.txt"); got != "draft 2 of the brief" {
			t.Fatalf("after restoring version 2: %q", got)
		}
		if n := w.auditCount("file.commit"); n != commits+1 {
			t.Errorf("the restore made %d file.commit audit records, want 1", n-commits)
		}
		vs := alice.versions("brief.txt")
		if len(vs) != 6 || vs[0].Version != 6 || vs[0].Size != uint64(len("draft 2 of the brief")) || vs[0].Name != "you" {
			t.Fatalf("versions after the restore: %+v", vs)
		}

		// The deleted file is listed with a restore button, and comes back.
		code, body := p.get("/matter?m=" + url.QueryEscape(w.matter))
		if code != http.StatusOK || !strings.Contains(body, "Deleted files") || !strings.Contains(body, "gone.txt") {
			t.Fatalf("folder page: %d\n%s", code, body)
		}
		out = p.post("/matter?m="+url.QueryEscape(w.matter), "/restore", url.Values{"m": {w.matter}, "f": {"gone.txt"}, "v": {"1"}})
		if !strings.Contains(out, "newest version (3)") {
			t.Fatalf("restore of a deleted file:\n%s", out)
		}
		if got := alice.mustRead("gone.txt"); got != "the only copy of the memo" {
			t.Fatalf("restored deleted file: %q", got)
		}
		// Restoring a delete itself is refused, in words.
		if _, err := alice.RestoreVersion(context.Background(), w.matter, "gone.txt", 2); err == nil || !strings.Contains(err.Error(), "is a delete") {
			t.Fatalf("restore of the delete: %v", err)
		}

		bob.sync()
		if got := bob.mustRead("brief.txt"); got != "draft 2 of the brief" {
			t.Errorf("bob after the restore: %q", got)
		}
		if got := bob.mustRead("gone.txt"); got != "the only copy of the memo" {
			t.Errorf("bob's restored deleted file: %q", got)
		}
	})
}

// A folder as it was at a date: listed (changed, deleted since; files made
// later apart) and restored, which brings back the changed and deleted
// files as new versions and leaves the newer file alone.
func TestFolderAtDate(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice, bob := w.agent(w.member("rw")), w.agent(w.member("rw"))
		alice.write("Pleadings/a.txt", []byte("a as filed"))
		alice.write("Pleadings/b.txt", []byte("b as filed"))
		alice.write("Other/x.txt", []byte("not in the folder"))
		alice.sync()
		var then time.Time
		for _, f := range []string{"Pleadings/a.txt", "Pleadings/b.txt", "Other/x.txt"} {
			if vt := alice.versions(f)[0].Time; vt.After(then) {
				then = vt
			}
		}
		alice.write("Pleadings/a.txt", []byte("a rewritten"))
		if err := os.Remove(alice.path("Pleadings/b.txt")); err != nil {
			t.Fatal(err)
		}
		alice.write("Pleadings/c.txt", []byte("c, new since"))
		alice.sync()

		ctx := context.Background()
		view, err := alice.FolderAtPath(ctx, alice.path("Pleadings"), then)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range view.Files {
			got[e.Path] = fmt.Sprintf("v%d deleted=%v head=%d headDeleted=%v", e.Version, e.Deleted, e.Head, e.HeadDeleted)
		}
		want := map[string]string{
			"Pleadings/a.txt": "v1 deleted=false head=2 headDeleted=false",
			"Pleadings/b.txt": "v1 deleted=false head=2 headDeleted=true",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(view.Later) != 1 || view.Later[0] != "Pleadings/c.txt" {
			t.Fatalf("folder at %v: %v, later %v; want %v and c.txt later", then, got, view.Later, want)
		}

		p := alice.runWithPage()
		at := then.Format(time.RFC3339Nano)
		code, body := p.get("/matter?" + url.Values{"m": {w.matter}, "dir": {"Pleadings"}, "at": {at}}.Encode())
		if code != http.StatusOK || !strings.Contains(body, "changed since") || !strings.Contains(body, "deleted since") || strings.Contains(body, "c.txt") {
			t.Fatalf("folder page at %s: %d\n%s", at, code, body)
		}
		out := p.post("/matter?"+url.Values{"m": {w.matter}, "dir": {"Pleadings"}, "at": {at}}.Encode(), "/restore-folder", url.Values{"m": {w.matter}, "dir": {"Pleadings"}, "at": {at}})
		if !strings.Contains(out, "Restored 2 files") || !strings.Contains(out, "1 files made since were left alone") {
			t.Fatalf("folder restore:\n%s", out)
		}
		for rel, want := range map[string]string{"Pleadings/a.txt": "a as filed", "Pleadings/b.txt": "b as filed", "Pleadings/c.txt": "c, new since", "Other/x.txt": "not in the folder"} {
			if got := alice.mustRead(rel); got != want {
				t.Errorf("alice %s: %q, want %q", rel, got, want)
			}
		}
		bob.sync()
		for rel, want := range map[string]string{"Pleadings/a.txt": "a as filed", "Pleadings/b.txt": "b as filed", "Pleadings/c.txt": "c, new since"} {
			if got := bob.mustRead(rel); got != want {
				t.Errorf("bob %s: %q, want %q", rel, got, want)
			}
		}
	})
}

// Conflicts settled from the status page: keep mine commits the copy's
// content as the file's newest version and deletes the copy; keep theirs
// moves the copy to the trash and deletes it for everyone; keep both
// leaves both and only takes the conflict off the list.
func TestPageSettlesConflicts(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice, bob := w.agent(w.member("rw")), w.agent(w.member("rw"))
		names := []string{"mine.txt", "theirs.txt", "both.txt"}
		for _, n := range names {
			alice.write(n, []byte("original "+n))
		}
		alice.sync()
		bob.sync()
		for _, n := range names {
			bob.write(n, []byte("bob's edit of "+n))
		}
		bob.sync()
		for _, n := range names {
			alice.write(n, []byte("alice's edit of "+n))
		}
		alice.sync() // bob's versions take the names; alice's edits become copies
		ctx := context.Background()
		cs, err := alice.Conflicts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		copyOf := map[string]string{}
		for _, c := range cs {
			copyOf[c.Path] = c.Copy
		}
		if len(copyOf) != 3 {
			t.Fatalf("conflicts: %+v", cs)
		}
		alice.sync() // the copies are uploaded
		bob.sync()
		for _, n := range names {
			if got := bob.mustRead(copyOf[n]); got != "alice's edit of "+n {
				t.Fatalf("bob's copy of alice's conflict copy %s: %q", copyOf[n], got)
			}
		}

		p := alice.runWithPage()
		_, body := p.get("/")
		for _, n := range names {
			if !strings.Contains(body, copyOf[n]) {
				t.Fatalf("overview lacks the conflict copy %s:\n%s", copyOf[n], body)
			}
		}
		for _, n := range names {
			keep := strings.TrimSuffix(n, ".txt")
			out := p.post("/", "/conflict", url.Values{"m": {w.matter}, "copy": {copyOf[n]}, "keep": {keep}})
			t.Logf("keep %s: %s", keep, between(out, `<p class="done">`, "</p>"))
		}

		// Alice's laptop.
		check := func(a *testAgent, rel, want string) {
			t.Helper()
			b, err := a.read(rel)
			switch {
			case want == "" && err == nil:
				t.Errorf("%s: %s is still there: %q", a.user.Name, rel, b)
			case want != "" && string(b) != want:
				t.Errorf("%s: %s = %q (%v), want %q", a.user.Name, rel, b, err, want)
			}
		}
		for _, a := range []*testAgent{alice, bob} {
			if a == bob {
				bob.sync()
			}
			check(a, "mine.txt", "alice's edit of mine.txt")
			check(a, copyOf["mine.txt"], "")
			check(a, "theirs.txt", "bob's edit of theirs.txt")
			check(a, copyOf["theirs.txt"], "")
			check(a, "both.txt", "bob's edit of both.txt")
			check(a, copyOf["both.txt"], "alice's edit of both.txt")
		}
		// Keep theirs put alice's copy in the matter's trash, not away.
		var trashed []string
		_ = filepath.WalkDir(filepath.Join(alice.folder, ".mattersync", "trash"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Equal(b, []byte("alice's edit of theirs.txt")) {
					trashed = append(trashed, p)
				}
			}
			return nil
		})
		if len(trashed) != 1 {
			t.Errorf("alice's trash holds %d copies of her edit of theirs.txt, want 1", len(trashed))
		}
		// Keep mine is a new version on top of bob's, which stays restorable.
		if vs := alice.versions("mine.txt"); len(vs) != 3 || vs[0].Name != "you" {
			t.Errorf("versions of mine.txt: %+v", vs)
		}
		if cs, _ := alice.Conflicts(ctx); len(cs) != 0 {
			t.Errorf("conflicts left after settling all three: %+v", cs)
		}
		_, body = p.get("/")
		if !strings.Contains(body, "No conflicts.") {
			t.Errorf("overview after settling:\n%s", body)
		}
	})
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// `mattersync restore` beside a running agent asks the agent to do it
// (one writer per folder), proven with the status token like status;
// without a running agent it is told to do the work itself.
func TestRestoreThroughRunningAgent(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member("rw"))
		for i := 1; i <= 3; i++ {
			alice.write("memo.txt", []byte(fmt.Sprintf("memo %d", i)))
			alice.sync()
		}
		ctx := context.Background()
		if _, err := agent.RestoreThroughAgent(ctx, t.TempDir(), alice.path("memo.txt"), 1); !errors.Is(err, agent.ErrAgentNotRunning) {
			t.Fatalf("no agent running: %v, want ErrAgentNotRunning", err)
		}
		p := alice.runWithPage()
		v, err := agent.RestoreThroughAgent(ctx, alice.cfg.DataDir, alice.path("memo.txt"), 1)
		if err != nil || v != 4 {
			t.Fatalf("restore through the agent: version %d, %v; want 4", v, err)
		}
		if got := alice.mustRead("memo.txt"); got != "memo 1" {
			t.Fatalf("after the restore: %q", got)
		}
		if _, err := agent.RestoreThroughAgent(ctx, alice.cfg.DataDir, alice.path("memo.txt"), 9); err == nil || errors.Is(err, agent.ErrAgentNotRunning) {
			t.Fatalf("restore of a version that does not exist: %v", err)
		}
		// Without the proof the agent does nothing.
		resp, err := http.Post(p.root+"/action", "application/json", strings.NewReader(`{"op":"restore","path":"`+alice.path("memo.txt")+`","version":2}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("POST /action without a proof: %s", resp.Status)
		}
		if vs := alice.versions("memo.txt"); len(vs) != 4 {
			t.Fatalf("versions: %d, want 4", len(vs))
		}
	})
}

// Under a legal hold, keep theirs cannot delete the synced copy: it stays,
// and the page says why.
func TestPageKeepTheirsUnderHold(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice, bob := w.agent(w.member("rw")), w.agent(w.member("rw"))
		alice.write("brief.txt", []byte("original"))
		alice.sync()
		bob.sync()
		bob.write("brief.txt", []byte("bob's edit"))
		bob.sync()
		alice.write("brief.txt", []byte("alice's edit"))
		alice.sync()
		alice.sync() // the copy is uploaded
		cs, err := alice.Conflicts(context.Background())
		if err != nil || len(cs) != 1 {
			t.Fatalf("conflicts: %+v %v", cs, err)
		}
		it, err := client.New(w.gateway, w.v.Login(t, w.v.User(t, true)), client.Options{Device: "it"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := it.SetHold(context.Background(), w.matter, api.HoldRequest{Reason: "litigation expected"}); err != nil {
			t.Fatal(err)
		}
		p := alice.runWithPage()
		out := p.post("/", "/conflict", url.Values{"m": {w.matter}, "copy": {cs[0].Copy}, "keep": {"theirs"}})
		if !strings.Contains(out, "legal hold") {
			t.Fatalf("keep theirs under a hold:\n%s", out)
		}
		if got := alice.mustRead(cs[0].Copy); got != "alice's edit" {
			t.Fatalf("the copy under a hold: %q", got)
		}
		if got := alice.mustRead("brief.txt"); got != "bob's edit" {
			t.Fatalf("brief.txt: %q", got)
		}
	})
}

// A refused action says why in its own words, not a generic sentence.
func TestPageSaysWhyAnActionFailed(t *testing.T) {
	w := newFakeWorld(t)
	alice := w.agent(w.member("rw"))
	alice.write("memo.txt", []byte("memo"))
	alice.sync()
	if err := os.Remove(alice.path("memo.txt")); err != nil {
		t.Fatal(err)
	}
	alice.sync()
	p := alice.runWithPage()
	_, body := p.get("/file?m=" + url.QueryEscape(w.matter) + "&f=memo.txt")
	_, rest, _ := strings.Cut(body, `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	resp, err := p.c.PostForm(p.base+"/restore", url.Values{"m": {w.matter}, "f": {"memo.txt"}, "v": {"2"}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "Not done: version 2 of memo.txt is a delete; pick an earlier version") {
		t.Fatalf("restore of the delete:\n%s", b)
	}
}
