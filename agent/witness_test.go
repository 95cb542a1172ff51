package agent_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
)

// switchable is the gateway's address as the agents know it: a proxy whose
// backend a test replaces, as an operator restoring the gateway's store
// from a backup does behind the same name.
type switchable struct {
	url    string
	target atomic.Pointer[url.URL]
}

func newSwitchable(t *testing.T, to string) *switchable {
	s := &switchable{}
	s.to(t, to)
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(s.target.Load()) }, FlushInterval: -1,
		ErrorLog: log.New(io.Discard, "", 0)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *switchable) to(t *testing.T, u string) {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	s.target.Store(p)
}

// backupStore copies the gateway's SQLite store as a backup would
// (VACUUM INTO: a consistent copy while the gateway runs).
func backupStore(t *testing.T, g *gatewaytest.Gateway) string {
	t.Helper()
	backup := filepath.Join(t.TempDir(), "backup.db")
	db, err := sql.Open("sqlite", g.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	return backup
}

// restored stops g and starts a gateway on the backup with the same key
// and bucket, as an operator restoring the store does.
func restored(t *testing.T, w *world, g *gatewaytest.Gateway, backup string) *gatewaytest.Gateway {
	t.Helper()
	g.Down()
	o := gatewaytest.Options{SQLitePath: backup, SigningKey: g.SigningKey}
	if g.Mem != nil {
		o.Blobs = g.Mem
	} else {
		o.Bucket = g.Bucket
	}
	return w.v.Gateway(t, o)
}

// folderState is every file under dir (the agent's own folder left out),
// with its content.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".mattersync" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameState(a, b map[string]string) string {
	for k, v := range a {
		if w, ok := b[k]; !ok {
			return k + " is gone"
		} else if w != v {
			return k + " changed"
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return k + " appeared"
		}
	}
	return ""
}

// A gateway whose store is restored from a backup taken before n commits
// (issue 20: 500; 40 under -short): every agent notices at its next pass
// (one look at the feed's signed head), stops syncing the matter, changes
// no local file and reports an integrity event; after `matter resync`
// they commit what the restored gateway lacks, and a new laptop gets
// every file as it was before the restore.
func TestRestoredGatewayDetected(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 40
	}
	w := newFakeWorld(t)
	ctx := context.Background()
	g1 := w.gw
	proxy := newSwitchable(t, g1.URL)
	w.gateway = proxy.url
	// Bob's agent checks the gateway's signatures too (gateway.public_key).
	alice, bobUser := w.agent(w.member(kms.RoleRW)), w.member(kms.RoleRW)
	der, err := x509.MarshalPKIXPublicKey(g1.SigningKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	bobCfg := w.config(bobUser, t.TempDir(), t.TempDir())
	bobCfg.Gateway.PublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	bob := w.agentWith(bobUser, bobCfg)
	for i := range 5 {
		alice.write(fmt.Sprintf("before/%d.txt", i), []byte(fmt.Sprintf("before the backup %d", i)))
	}
	alice.sync()
	bob.sync()
	if err := g1.Server.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// The backup, then n commits it lacks: new files and edits by alice,
	// and two files that only bob's laptop has.
	backup := backupStore(t, g1)
	alice.write("before/0.txt", []byte("edited after the backup"))
	for i := range n - 3 {
		alice.write(fmt.Sprintf("after/%03d.txt", i), []byte(fmt.Sprintf("written after the backup %d", i)))
		if i%100 == 99 {
			alice.sync()
		}
	}
	alice.sync()
	bob.sync()
	bob.write("bob-only/1.txt", []byte("only on bob's laptop"))
	bob.write("bob-only/2.txt", []byte("also only on bob's laptop"))
	bob.sync()
	alice.sync()
	if err := g1.Server.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// A third laptop keeps running through the restore: its feed poll
	// notices.
	dave := w.agent(w.member(kms.RoleRW))
	daveBefore := folderState(t, dave.folder)
	runCtx, stopDave := context.WithCancel(ctx)
	daveDone := make(chan error, 1)
	go func() { daveDone <- dave.Run(runCtx) }()
	defer func() { stopDave(); <-daveDone }()
	eventually(t, "dave idle", func() error {
		if st := dave.Status(); len(st.Matters) != 1 || st.Matters[0].State != "idle" || st.Matters[0].LastSync.IsZero() {
			return fmt.Errorf("status %+v", st.Matters)
		}
		return nil
	})
	aliceBefore, bobBefore := folderState(t, alice.folder), folderState(t, bob.folder)
	if len(aliceBefore) != n+4 || sameState(aliceBefore, bobBefore) != "" {
		t.Fatalf("before the restore: alice has %d files, bob differs: %s", len(aliceBefore), sameState(aliceBefore, bobBefore))
	}

	// The restore: the same bucket and key, the store as it was.
	g2 := restored(t, w, g1, backup)
	proxy.to(t, g2.URL)
	eventually(t, "the running agent halted", func() error {
		if st := dave.Status(); len(st.Matters) != 1 || st.Matters[0].State != "halted" {
			return fmt.Errorf("status %+v", st.Matters)
		}
		return nil
	})
	stopDave()
	if err := <-daveDone; err != nil {
		t.Fatalf("dave's agent: %v", err)
	}
	daveDone <- nil
	if d := sameState(daveBefore, folderState(t, dave.folder)); d != "" || len(daveBefore) != n+4 {
		t.Fatalf("dave's folder changed while halted: %s (%d files)", d, len(daveBefore))
	}
	for _, a := range []*testAgent{alice, bob} {
		_, err := a.SyncOnce(ctx)
		var he *agent.HaltedError
		if !errors.As(err, &he) {
			t.Fatalf("%s after the restore: %v, want the matter halted", a.user.Name, err)
		}
		st := a.Status()
		if len(st.Matters) != 1 || st.Matters[0].State != "halted" || !strings.Contains(strings.Join(st.Matters[0].Errors, " "), "went back in time") {
			t.Fatalf("%s status %+v", a.user.Name, st.Matters)
		}
		// Asked again (a running agent's next pass): still halted, and
		// reported once.
		if _, err := a.SyncOnce(ctx); !errors.As(err, &he) {
			t.Fatalf("%s second pass: %v", a.user.Name, err)
		}
	}
	if d := sameState(aliceBefore, folderState(t, alice.folder)); d != "" {
		t.Fatalf("alice's folder changed while halted: %s", d)
	}
	if d := sameState(bobBefore, folderState(t, bob.folder)); d != "" {
		t.Fatalf("bob's folder changed while halted: %s", d)
	}
	events := map[string]int{}
	g2.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "integrity.") {
			events[r.Device+" "+r.Action]++
		}
		return nil
	})
	if len(events) != 3 || events[alice.cfg.DeviceName+" integrity.rollback"] != 1 || events[bob.cfg.DeviceName+" integrity.rollback"] != 1 ||
		events[dave.cfg.DeviceName+" integrity.rollback"] != 1 {
		t.Fatalf("integrity events %v", events)
	}

	// IT resyncs; both laptops commit what the restored gateway lacks.
	it := w.v.User(t, true)
	admin, err := client.New(proxy.url, w.v.Login(t, it), client.Options{Device: "it"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Resync(ctx, w.matter, "store restored from the nightly backup"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		alice.sync()
		bob.sync()
		dave.sync()
	}
	if d := sameState(daveBefore, folderState(t, dave.folder)); d != "" {
		t.Fatalf("dave's folder after the resync: %s", d)
	}
	if d := sameState(aliceBefore, folderState(t, alice.folder)); d != "" {
		t.Fatalf("alice's folder after the resync: %s", d)
	}
	if d := sameState(bobBefore, folderState(t, bob.folder)); d != "" {
		t.Fatalf("bob's folder after the resync: %s", d)
	}
	carol := w.agent(w.member(kms.RoleRO))
	if d := sameState(aliceBefore, folderState(t, carol.folder)); d != "" {
		t.Fatalf("a new laptop after the resync: %s", d)
	}
	// Each laptop that followed the resync said so, once: IT can match
	// these with the admin.matter.resync record.
	followed := map[string]int{}
	g2.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		if r.Action == "integrity.resync" {
			followed[r.Device]++
		}
		return nil
	})
	if len(followed) != 3 || followed[alice.cfg.DeviceName] != 1 || followed[bob.cfg.DeviceName] != 1 || followed[dave.cfg.DeviceName] != 1 {
		t.Fatalf("resyncs reported %v: want one from each of the three laptops", followed)
	}
}

// contents is the set of file contents in a folder state.
func contents(s map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range s {
		out[v] = true
	}
	return out
}

// A restored gateway that moved on past what an agent saw (a laptop that
// was offline during the restore commits more than was lost) is caught by
// the change it applied last: the feed head is not behind, but the gateway
// serves another change under that number.
// After the resync, a file edited on both sides keeps both edits (the
// restored gateway's takes the name, the lost one becomes a conflict copy)
// and every file anyone had is on every laptop.
func TestForkedGatewayDetected(t *testing.T) {
	eachWorld(t, func(w *world) { testForkedGateway(w.t, w) })
}

func testForkedGateway(t *testing.T, w *world) {
	ctx := context.Background()
	g1 := w.gw
	proxy := newSwitchable(t, g1.URL)
	w.gateway = proxy.url
	alice, erin := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRW))
	for i := range 5 {
		alice.write(fmt.Sprintf("before/%d.txt", i), []byte(fmt.Sprintf("before the backup %d", i)))
	}
	alice.sync()
	erin.sync()
	if err := g1.Server.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	backup := backupStore(t, g1)
	// After the backup: alice's work, which the restore loses; erin is
	// offline.
	alice.write("before/0.txt", []byte("alice's edit, lost by the restore"))
	for i := range 5 {
		alice.write(fmt.Sprintf("after/%d.txt", i), []byte(fmt.Sprintf("alice's file %d, lost by the restore", i)))
	}
	alice.sync()
	if err := g1.Server.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	aliceBefore := folderState(t, alice.folder)

	g2 := restored(t, w, g1, backup)
	proxy.to(t, g2.URL)
	// Erin comes back and works on the restored gateway, which is
	// consistent with all she saw: more commits than alice lost.
	erin.write("before/0.txt", []byte("erin's edit after the restore"))
	for i := range 20 {
		erin.write(fmt.Sprintf("erin/%d.txt", i), []byte(fmt.Sprintf("erin's file %d", i)))
	}
	erin.sync()
	if err := g2.Server.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	erinBefore := folderState(t, erin.folder)
	var he *agent.HaltedError
	if _, err := alice.SyncOnce(ctx); !errors.As(err, &he) {
		t.Fatalf("alice on the restored gateway that moved on: %v, want halted", err)
	}
	if d := sameState(aliceBefore, folderState(t, alice.folder)); d != "" {
		t.Fatalf("alice's folder changed while halted: %s", d)
	}
	kinds := map[string]int{}
	g2.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "integrity.") {
			kinds[r.Device+" "+r.Action+" "+strings.SplitN(r.Object, ":", 2)[0]]++
		}
		return nil
	})
	if len(kinds) != 1 || kinds[alice.cfg.DeviceName+" integrity.fork change"] != 1 {
		t.Fatalf("integrity events %v, want alice's one about the change she applied last", kinds)
	}

	it := w.v.User(t, true)
	admin, err := client.New(proxy.url, w.v.Login(t, it), client.Options{Device: "it"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Resync(ctx, w.matter, "restored"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		alice.sync()
		erin.sync()
	}
	aliceAfter, erinAfter := folderState(t, alice.folder), folderState(t, erin.folder)
	if d := sameState(aliceAfter, erinAfter); d != "" {
		t.Fatalf("alice and erin differ after the resync: %s", d)
	}
	for c := range contents(aliceBefore) {
		if !contents(erinAfter)[c] {
			t.Errorf("alice's %q is lost", c)
		}
	}
	for c := range contents(erinBefore) {
		if !contents(erinAfter)[c] {
			t.Errorf("erin's %q is lost", c)
		}
	}
	if erinAfter["before/0.txt"] != "erin's edit after the restore" || len(erinAfter) != len(erinBefore)+5+1 {
		t.Fatalf("after the resync: before/0.txt is %q, %d files (want erin's edit, and alice's 5 files and a conflict copy)", erinAfter["before/0.txt"], len(erinAfter))
	}
}
