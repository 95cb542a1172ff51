package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestLifecycleCommands: retention show/set/clear (nonsense refused,
// naming the problem), matter usage, storage gc (dry run, then now, with
// progress and a summary), storage runs, and hold on waiting for the
// storage's legal hold; against a real gateway on real Vault.
func TestLifecycleCommands(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: env, Config: func(c *gateway.Config) {
		c.Lifecycle.Interval = 0 // runs only when asked for
		c.Lifecycle.Poll = 100 * time.Millisecond
	}})
	ctx := context.Background()
	ac, _ := client.New(g.URL, client.StaticToken(env.IdentityToken(t, alice).Raw), client.Options{Device: "LAPTOP-7"})
	sealer := gatewaytest.NewSealer(t)
	fileID := sealer.NewFile(t, m)
	for v := int64(0); v < 2; v++ {
		id, sealed := sealer.Chunk(t, m, 100)
		if err := ac.PutChunk(ctx, m, id.String(), sealed); err != nil {
			t.Fatal(err)
		}
		if _, err := ac.Commit(ctx, m, fileID.String(), v, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, fileID, uint64(v+1), id), Chunks: []string{id.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	// An object no record names, two days old: a crash left it.
	g.Mem.Now = func() time.Time { return time.Now().Add(-48 * time.Hour) }
	body := []byte("left by a crash")
	if err := g.Mem.Create(ctx, "m/"+m+"/c/"+strings.Repeat("ab", 32), bytes.NewReader(body), int64(len(body)), sha256.Sum256(body)); err != nil {
		t.Fatal(err)
	}
	g.Mem.Now = time.Now

	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	r := c.must(t, exitOK, "", "matter", "retention", "show", m)
	if !strings.Contains(r.stdout, "kept 90 days, the newest 3 versions") || !strings.Contains(r.stdout, "the firm's policy") {
		t.Fatalf("retention show: %s", r.stdout)
	}
	c.must(t, exitUsage, "", "matter", "retention", "set", m, "--versions-days", "0")
	c.must(t, exitUsage, "", "matter", "retention", "set", m, "--reason", "x")
	r = c.must(t, exitUsage, "", "matter", "retention", "set", m, "--min-versions", "0", "--reason", "x")
	if !strings.Contains(r.stderr, "min_versions must be from 1") {
		t.Fatalf("zero versions kept: %s", r.stderr)
	}
	r = c.must(t, exitUsage, "", "matter", "retention", "set", m, "--versions-days", "-5", "--reason", "x")
	if !strings.Contains(r.stderr, "versions_days must be from 0 to 36500 days, not -5") {
		t.Fatalf("negative days: %s", r.stderr)
	}
	c.must(t, exitNotFound, "", "matter", "retention", "set", "2026-9999", "--versions-days", "0", "--reason", "x")
	r = c.must(t, exitOK, "", "matter", "retention", "set", m, "--versions-days", "0", "--min-versions", "1", "--deleted-days", "0", "--reason", "client instruction")
	if !strings.Contains(r.stdout, "the matter's own policy") || !strings.Contains(r.stdout, "client instruction") {
		t.Fatalf("retention set: %s", r.stdout)
	}

	r = c.must(t, exitOK, "", "matter", "usage", m)
	if !strings.Contains(r.stdout, "old versions and deleted files") {
		t.Fatalf("usage: %s", r.stdout)
	}
	c.must(t, exitUsage, "", "storage", "gc")
	c.must(t, exitUsage, "", "storage", "gc", "--dry-run", "--now")
	r = c.must(t, exitOK, "", "storage", "gc", "--dry-run", "--matter", m)
	if !strings.Contains(r.stdout, "would remove (dry run: nothing changed)") || !strings.Contains(r.stdout, "purged:    1 superseded versions") ||
		!strings.Contains(r.stdout, "orphans:   1 objects") {
		t.Fatalf("gc dry run: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "storage", "gc", "--now")
	if !strings.Contains(r.stdout, "purged:    1 superseded versions") || !strings.Contains(r.stdout, "reclaimed: 2 objects deleted from the bucket") {
		t.Fatalf("gc now: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "storage", "runs")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.Contains(r.stdout, "deleted 2 objects") {
		t.Fatalf("storage runs: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "retention", "clear", m, "--reason", "back to normal")
	if !strings.Contains(r.stdout, "the firm's policy") {
		t.Fatalf("retention clear: %s", r.stdout)
	}
	c.must(t, exitNotFound, "", "matter", "retention", "clear", m, "--reason", "again")

	// A hold waits for the storage's legal hold on every object.
	r = c.must(t, exitOK, "", "hold", "on", m, "--reason", "preservation notice")
	if !strings.Contains(r.stdout, "S3 legal hold set on every object") {
		t.Fatalf("hold on: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "hold", "storage", m)
	if !strings.Contains(r.stdout, "S3 legal hold set on every object of matter "+m+" (3 in the last pass)") {
		t.Fatalf("hold storage: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "retention", "show", m)
	if !strings.Contains(r.stdout, "ON LEGAL HOLD") {
		t.Fatalf("retention show under hold: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "hold", "off", m, "--reason", "settled")
	if !strings.Contains(r.stdout, "no object of matter "+m+" is under legal hold") {
		t.Fatalf("hold off: %s", r.stdout)
	}
}

// TestCloseMatter: close tells the gateway (nothing when refused) and
// removes the members; close --shred is refused
// under hold (nothing changed), then shreds the key in Vault, destroys
// every object and record at the gateway and prints the signed
// destruction record, which `matter destruction --public-key` verifies.
func TestCloseMatter(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: env, Config: func(c *gateway.Config) {
		c.Lifecycle.Interval = 0
		c.Lifecycle.Poll = 100 * time.Millisecond
	}})
	ctx := context.Background()
	ac, _ := client.New(g.URL, client.StaticToken(env.IdentityToken(t, alice).Raw), client.Options{Device: "LAPTOP-7"})
	sealer := gatewaytest.NewSealer(t)
	fileID := sealer.NewFile(t, m)
	id, sealed := sealer.Chunk(t, m, 100)
	if err := ac.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Commit(ctx, m, fileID.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, fileID, 1, id), Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	c.must(t, exitUsage, "", "matter", "close", m)
	c.must(t, exitUsage, "", "matter", "close", m, "--reason", "x", "--shred")
	c.must(t, exitNotFound, "", "matter", "close", "2026-9999", "--reason", "x")
	c.must(t, exitOK, "", "hold", "on", m, "--reason", "preservation", "--no-wait")
	r := c.must(t, exitRefused, "", "matter", "close", m, "--reason", "file closed", "--shred", "--confirm", m)
	if !strings.Contains(r.stderr, "on legal hold") {
		t.Fatalf("close --shred under hold: %s", r.stderr)
	}
	if r := c.must(t, exitOK, "", "matter", "members", m); !strings.Contains(r.stdout, alice.Name) {
		t.Fatalf("a refused close removed members: %s", r.stdout)
	}
	if cl, err := g.Stores.Closed.MatterClosed(ctx, m); err != nil || !cl.Time.IsZero() {
		t.Fatalf("a refused close closed the matter at the gateway: %+v, %v", cl, err)
	}
	c.must(t, exitOK, "", "hold", "off", m, "--reason", "released for closing")
	r = c.must(t, exitOK, "", "matter", "close", m, "--reason", "file closed 2026-01-31")
	if r := c.must(t, exitOK, "", "matter", "members", m); strings.Contains(r.stdout, alice.Name) {
		t.Fatalf("close kept a member: %s", r.stdout)
	}
	if cl, err := g.Stores.Closed.MatterClosed(ctx, m); err != nil || cl.Time.IsZero() || cl.Reason != "file closed 2026-01-31" {
		t.Fatalf("the gateway does not know the matter is closed: %+v, %v", cl, err)
	}
	r = c.must(t, exitOK, "", "matter", "close", m, "--reason", "file closed 2026-01-31", "--shred", "--confirm", m)
	if !strings.Contains(r.stdout, "closed and destroyed: 2 objects deleted from the bucket") || !strings.Contains(r.stdout, "destruction record, signed by the gateway's audit key") {
		t.Fatalf("close --shred: %s", r.stdout)
	}
	if keys := g.Mem.Keys("m/" + m + "/"); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}
	_, pub, err := gateway.MarshalKeys(g.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "audit.pub")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.must(t, exitOK, "", "matter", "destruction", m, "--public-key", pubFile)
	if !strings.Contains(r.stdout, "signature verified") || !strings.Contains(r.stdout, `"objects_destroyed": 2`) {
		t.Fatalf("destruction: %s", r.stdout)
	}
	// Run again: nothing left to do, the record stays.
	c.must(t, exitOK, "", "matter", "close", m, "--reason", "file closed 2026-01-31", "--shred", "--confirm", m)
}
