package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
)

// TestPresence: a member opens a presence on a file of the matter
// (audited), colleagues see it through GET /v1/presence (a long poll
// answers when it changes), a screened user neither sees nor opens it,
// IDs that are not a file of the matter are refused, and a presence not
// refreshed expires (audited).
func TestPresence(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testPresence(t, gatewaytest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testPresence(t, gatewaytest.Options{Postgres: true}) })
}

func testPresence(t *testing.T, o gatewaytest.Options) {
	g := gatewaytest.Start(t, o)
	ctx := context.Background()
	const m, other = "2026-0161", "2026-0162"
	sealer := gatewaytest.NewSealer(t)
	aliceTok := g.Token(t, "ent-alice", "matter-"+m+"-rw", "matter-"+other+"-rw")
	alice := g.Client(t, aliceTok, "LAPTOP-7")
	bob := g.Client(t, g.Token(t, "ent-bob", "matter-"+m+"-ro"), "DESKTOP-2")
	carol := g.Client(t, g.Token(t, "ent-carol", "matter-"+m+"-rw", "matter-"+m+"-screened"), "LAPTOP-9")
	id, sealed := sealer.Chunk(t, m, 100)
	if err := alice.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	file := sealer.NewFile(t, m)
	if _, err := alice.Commit(ctx, m, file.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, file, 1, id), Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}

	empty, err := bob.Presence(ctx, "", 0)
	if err != nil || len(empty.Open) != 0 || len(empty.Tag) != 32 {
		t.Fatalf("presence before any open = %+v, %v", empty, err)
	}
	// Bob waits for a change while Alice opens the file.
	type answer struct {
		l   api.PresenceList
		err error
	}
	waited := make(chan answer, 1)
	go func() {
		l, err := bob.Presence(ctx, empty.Tag, 15*time.Second)
		waited <- answer{l, err}
	}()
	time.Sleep(100 * time.Millisecond) // let the poll start waiting (it answers either way)
	a, err := alice.OpenPresence(ctx, m, file.String(), 2*time.Second)
	if err != nil || !a.Open || !a.Opened || a.Since.IsZero() {
		t.Fatalf("open = %+v, %v", a, err)
	}
	var w answer
	select {
	case w = <-waited:
	case <-time.After(14 * time.Second):
		t.Fatal("the long poll did not answer the open")
	}
	if w.err != nil || len(w.l.Open) != 1 || w.l.Tag == empty.Tag {
		t.Fatalf("bob's long poll = %+v, %v", w.l, w.err)
	}
	d := w.l.Open[0]
	if d.Matter != m || d.FileID != file.String() || d.Entity != "ent-alice" || d.User != "user-ent-alice" || d.Device != "LAPTOP-7" || !d.Since.Equal(a.Since) {
		t.Fatalf("bob sees %+v", d)
	}
	if again, err := alice.OpenPresence(ctx, m, file.String(), 2*time.Second); err != nil || again.Opened || !again.Since.Equal(a.Since) {
		t.Fatalf("refresh = %+v, %v", again, err)
	}

	// The wall: Carol sees nothing of the matter and cannot open there.
	if l, err := carol.Presence(ctx, "", 0); err != nil || len(l.Open) != 0 {
		t.Fatalf("screened carol sees %+v, %v", l, err)
	}
	if _, err := carol.OpenPresence(ctx, m, file.String(), 0); client.Code(err) != api.CodeForbidden {
		t.Fatalf("screened carol opened a presence: %v", err)
	}
	// Not a file of the matter: another matter's name for it, a random ID.
	if _, err := alice.OpenPresence(ctx, other, file.String(), 0); client.Code(err) != api.CodeNotFound {
		t.Fatalf("presence on a file of another matter: %v", err)
	}
	if _, err := alice.OpenPresence(ctx, m, format.ID{1}.String(), 0); client.Code(err) != api.CodeNotFound {
		t.Fatalf("presence on an unknown file: %v", err)
	}
	raw := func(method, path, device, body string) int {
		req, _ := http.NewRequest(method, g.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		if device != "" {
			req.Header.Set(api.HeaderDevice, device)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, c := range []struct {
		method, path, device, body string
		want                       int
	}{
		{"PUT", "/v1/matters/" + m + "/presence/" + strings.ToUpper(file.String()), "L", "", 400},
		{"PUT", "/v1/matters/" + m + "/presence/abc", "L", "", 400},
		{"PUT", "/v1/matters/" + m + "/presence/" + file.String(), "", "", 400},                      // no device
		{"PUT", "/v1/matters/" + m + "/presence/" + file.String(), "L", `{"ttl_seconds": 0.5}`, 400}, // not an integer
		{"PUT", "/v1/matters/" + m + "/presence/" + file.String(), "L", `{"ttl_seconds": 601}`, 400},
		{"PUT", "/v1/matters/" + m + "/presence/" + file.String(), "L", `{"name": "Brief.docx"}`, 400},
		{"PUT", "/v1/matters/BAD/presence/" + file.String(), "L", "", 400},
		{"POST", "/v1/matters/" + m + "/presence/" + file.String(), "L", "", 405},
		{"GET", "/v1/presence?since=xyz", "L", "", 400},
		{"GET", "/v1/presence?wait=forever", "L", "", 400},
		{"GET", "/v1/presence?matter=" + m, "L", "", 400},
	} {
		if got := raw(c.method, c.path, c.device, c.body); got != c.want {
			t.Errorf("%s %s (device %q, body %q) = %d, want %d", c.method, c.path, c.device, c.body, got, c.want)
		}
	}

	// Alice's laptop stops refreshing: the presence expires, and Bob's
	// long poll answers without it.
	l, err := bob.Presence(ctx, "", 0)
	if err != nil || len(l.Open) != 1 {
		t.Fatalf("presence = %+v, %v", l, err)
	}
	gone, err := bob.Presence(ctx, l.Tag, 15*time.Second)
	if err != nil || len(gone.Open) != 0 {
		t.Fatalf("after the expiry bob sees %+v, %v", gone, err)
	}
	// The expiry is audited by the replica's sweep.
	expired := func() bool {
		found := false
		if err := g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: m}, func(r *audit.Record) error {
			found = found || r.Action == "presence.expire" && r.Entity == "ent-alice" && r.Device == "LAPTOP-7" && r.Object == file.String()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return found
	}
	for deadline := time.Now().Add(10 * time.Second); !expired(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no presence.expire record within 10 s of the expiry")
		}
	}
	// Open and close again: audited, and a close of what is not open says so.
	if _, err := alice.OpenPresence(ctx, m, file.String(), 0); err != nil {
		t.Fatal(err)
	}
	if err := alice.ClosePresence(ctx, m, file.String()); err != nil {
		t.Fatal(err)
	}
	if err := alice.ClosePresence(ctx, m, file.String()); err != nil {
		t.Fatal(err)
	}
	var actions []string
	if err := g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: m}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "presence.") && r.Result == audit.ResultOK && r.Entity == "ent-alice" {
			actions = append(actions, r.Action+" "+strings.TrimPrefix(r.Object, file.String()))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"presence.open ", "presence.refresh ", "presence.expire ", "presence.open ", "presence.close ", "presence.close  not open"}
	if !slices.Equal(actions, want) {
		t.Fatalf("alice's presence records = %q, want %q", actions, want)
	}
}

// A read-only member cannot open presences (they make the editors' copies
// read-only); one user under made-up device names is bounded; a closed
// matter takes none.
func TestPresenceBounds(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	const m = "2026-0161"
	sealer := gatewaytest.NewSealer(t)
	aliceTok := g.Token(t, "ent-alice", "matter-"+m+"-rw")
	alice := g.Client(t, aliceTok, "LAPTOP-7")
	bob := g.Client(t, g.Token(t, "ent-bob", "matter-"+m+"-ro"), "DESKTOP-2")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	id, sealed := sealer.Chunk(t, m, 100)
	if err := alice.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	file := sealer.NewFile(t, m)
	if _, err := alice.Commit(ctx, m, file.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, file, 1, id), Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.OpenPresence(ctx, m, file.String(), 0); client.Code(err) != api.CodeForbidden {
		t.Fatalf("read-only bob opened a presence: %v", err)
	}
	if err := bob.ClosePresence(ctx, m, file.String()); client.Code(err) != api.CodeForbidden {
		t.Fatalf("read-only bob closed a presence: %v", err)
	}
	for i := range store.MaxPresencesPerEntityMatter + 5 {
		dev := g.Client(t, aliceTok, fmt.Sprintf("FAKE-%d", i))
		_, err := dev.OpenPresence(ctx, m, file.String(), 600*time.Second)
		if i < store.MaxPresencesPerEntityMatter && err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i >= store.MaxPresencesPerEntityMatter && client.Code(err) != api.CodeRateLimited {
			t.Fatalf("open %d past the bound: %v", i, err)
		}
	}
	if l, err := bob.Presence(ctx, "", 0); err != nil || len(l.Open) != store.MaxPresencesPerEntityMatter {
		t.Fatalf("bob sees %d presences (%v), want %d", len(l.Open), err, store.MaxPresencesPerEntityMatter)
	}
	// Alice is denied: her presences go at once.
	if err := admin.Deny(ctx, "ent-alice", "user-ent-alice", "left"); err != nil {
		t.Fatal(err)
	}
	if l, err := bob.Presence(ctx, "", 0); err != nil || len(l.Open) != 0 {
		t.Fatalf("after alice was denied bob sees %d presences (%v)", len(l.Open), err)
	}
	carol := g.Client(t, g.Token(t, "ent-carol", "matter-"+m+"-rw"), "LAPTOP-9")
	if _, err := admin.CloseMatter(ctx, m, "file closed"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.OpenPresence(ctx, m, file.String(), 0); client.Code(err) != api.CodeMatterClosed {
		t.Fatalf("presence opened in a closed matter: %v", err)
	}
}
