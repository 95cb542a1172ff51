package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// testGateway runs a gateway that trusts env's Vault, on SQLite (the
// offline verification reads its file), and writes its audit-signing public
// key to a file.
func testGateway(t *testing.T, env *kmstest.Env) (g *gatewaytest.Gateway, st *sqlite.Store, pubKeyFile string) {
	t.Helper()
	g = gatewaytest.Start(t, gatewaytest.Options{Vault: env})
	st, ok := g.Engine.(*sqlite.Store)
	if !ok {
		t.Fatalf("test gateway store is %T, want SQLite", g.Engine)
	}
	_, pub, err := gateway.MarshalKeys(g.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	pubKeyFile = filepath.Join(t.TempDir(), "audit.pub")
	if err := os.WriteFile(pubKeyFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return g, st, pubKeyFile
}

func TestGatewayCommands(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	g, st, pub := testGateway(t, env)
	url, srv, dbPath := g.URL, g.Server, g.SQLitePath
	ctx := context.Background()

	// Alice works on the matter.
	ac, _ := client.New(url, client.StaticToken(env.IdentityToken(t, alice).Raw), client.Options{Device: "LAPTOP-7"})
	sealer := gatewaytest.NewSealer(t)
	chunkID, sealed := sealer.Chunk(t, m, 100)
	chunk := chunkID.String()
	if err := ac.PutChunk(ctx, m, chunk, sealed); err != nil {
		t.Fatal(err)
	}
	fileID := sealer.NewFile(t, m)
	file := fileID.String()
	if _, err := ac.Commit(ctx, m, file, 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, fileID, 1, chunkID), Chunks: []string{chunk}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.GetChunk(ctx, m, chunk); err != nil {
		t.Fatal(err)
	}

	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = url
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	// Legal hold.
	c.must(t, exitUsage, "", "hold", "on", m)
	r := c.must(t, exitOK, "", "hold", "on", m, "--reason", "Smith v. Jones")
	if !strings.Contains(r.stdout, "ON LEGAL HOLD") {
		t.Fatalf("hold on: %s", r.stdout)
	}
	if _, err := ac.Delete(ctx, m, file, 1, sealer.TombstoneOf(t, m, fileID, 2)); client.Code(err) != api.CodeLegalHold {
		t.Fatalf("delete under hold: %v", err)
	}
	c.must(t, exitOK, "", "hold", "show", m)
	// A typo holds no phantom matter (issue 21).
	r = c.must(t, exitNotFound, "", "hold", "on", "2026-9999", "--reason", "Smith v. Jones")
	if !strings.Contains(r.stderr, "no such matter 2026-9999") {
		t.Fatalf("hold on a missing matter: %s", r.stderr)
	}
	if r = c.must(t, exitOK, "", "hold", "list"); !strings.Contains(r.stdout, m+"  ON LEGAL HOLD") || strings.Contains(r.stdout, "2026-9999") {
		t.Fatalf("hold list: %s", r.stdout)
	}
	// Releasing needs a reason too, and the history keeps both.
	c.must(t, exitUsage, "", "hold", "off", m)
	c.must(t, exitOK, "", "hold", "off", m, "--reason", "case settled", "--case", "2026-CV-17")
	r = c.must(t, exitOK, "", "hold", "history", m)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "ON LEGAL HOLD") ||
		!strings.Contains(lines[0], "Smith v. Jones") || !strings.Contains(lines[1], "released") || !strings.Contains(lines[1], "case settled (case 2026-CV-17)") {
		t.Fatalf("hold history: %s", r.stdout)
	}
	if r = c.must(t, exitOK, "", "hold", "list"); !strings.Contains(r.stdout, "no matter is on legal hold") {
		t.Fatalf("hold list after release: %s", r.stdout)
	}
	c.must(t, exitNotFound, "", "hold", "history", "2026-9999")
	c.must(t, exitUsage, "", "hold", "show", "Not-A-Matter")
	// The refused delete is audited as a legal hold, with its own result.
	r = c.must(t, exitOK, "", "audit", "export", "--matter", m, "--format", "jsonl")
	if !strings.Contains(r.stdout, `"action":"file.delete"`) || !strings.Contains(r.stdout, `"result":"legal_hold"`) ||
		!strings.Contains(r.stdout, `matter=`+m+` reason=\"case settled\" case=\"2026-CV-17\"`) {
		t.Fatalf("audit of the hold: %s", r.stdout)
	}

	r = c.must(t, exitOK, "", "usage", m)
	if !strings.Contains(r.stdout, "1 chunks (160 bytes), 1 files, 1 versions") {
		t.Fatalf("usage: %s", r.stdout)
	}

	// Export and breach-scoping report.
	r = c.must(t, exitOK, "", "audit", "export", "--user", alice.Name, "--since", "1h", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) < 5 || rows[0][0] != "seq" {
		t.Fatalf("csv export: %v, %d rows", err, len(rows))
	}
	for _, row := range rows[1:] {
		if row[3] != alice.Name || row[4] != "LAPTOP-7" {
			t.Fatalf("csv row %v", row)
		}
	}
	r = c.must(t, exitOK, "", "audit", "export", "--matter", m, "--format", "jsonl")
	if n := strings.Count(r.stdout, "\n"); n < 5 {
		t.Fatalf("jsonl export: %d lines", n)
	}
	r = c.must(t, exitOK, "", "audit", "report", "--user", alice.Name, "--since", "1h")
	for _, want := range []string{m, "chunk.get " + chunk, "file.commit " + file + "@1", "REFUSED"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	c.must(t, exitUsage, "", "audit", "report", "--user", alice.Name)

	// Verification, online and offline, and a tampered record.
	c.must(t, exitOK, "", "audit", "verify")
	if err := srv.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	c.must(t, exitUsage, "", "audit", "verify", "--store", "sqlite:"+dbPath)
	r = c.must(t, exitOK, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub)
	if !strings.Contains(r.stdout, "audit log intact") {
		t.Fatalf("offline verify: %s", r.stdout)
	}
	// Checkpoints copied to the SIEM: present, or deleted.
	last, err := st.LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	anchor := audit.Anchor{Seq: last.Seq, Hash: last.Hash}.String()
	r = c.must(t, exitOK, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub, "--expect-checkpoint", anchor)
	if !strings.Contains(r.stdout, "all 1 expected checkpoints present") {
		t.Fatalf("offline verify with --expect-checkpoint: %s", r.stdout)
	}
	c.must(t, exitOK, "", "audit", "verify", "--expect-checkpoint", anchor, "--max-checkpoint-age", "1h")
	c.must(t, exitUsage, "", "audit", "verify", "--expect-checkpoint", "12")
	// A mistyped anchor (one hex digit, or the sequence number) against an
	// intact log is the argument's fault, not the log's.
	flip := map[byte]byte{'0': '1'}
	typo := []byte(anchor)
	end := len(typo) - 1
	if b, ok := flip[typo[end]]; ok {
		typo[end] = b
	} else {
		typo[end] = '0'
	}
	seqTypo := audit.Anchor{Seq: last.Seq - 1, Hash: last.Hash}.String()
	for _, bad := range []string{string(typo), seqTypo} {
		for _, where := range [][]string{nil, {"--store", "sqlite:" + dbPath, "--public-key", pub}} {
			r = c.must(t, exitUsage, "", append([]string{"audit", "verify", "--expect-checkpoint", bad}, where...)...)
			if strings.Contains(r.stderr, "BROKEN") || !strings.Contains(r.stderr, "--expect-checkpoint "+bad+" does not match this log") || !strings.Contains(r.stderr, "mistyped") {
				t.Fatalf("mistyped anchor %s: %s", bad, r.stderr)
			}
		}
	}
	c.must(t, exitUsage, "", "audit", "verify", "--checkpoint-interval", "1m")
	if _, err := st.DB().Exec(`DELETE FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	r = c.must(t, exitFailure, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub, "--expect-checkpoint", anchor)
	if !strings.Contains(r.stderr, "expected checkpoint "+anchor+" is not in the log") {
		t.Fatalf("deleted checkpoint: %s", r.stderr)
	}
	c.must(t, exitFailure, "", "audit", "verify", "--expect-checkpoint", anchor)
	// The records span less than 2 intervals of 1 m: no checkpoint yet
	// is fine; with a 1 ms interval it is not.
	c.must(t, exitOK, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub)
	r = c.must(t, exitFailure, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub, "--checkpoint-interval", "1ms")
	if !strings.Contains(r.stderr, "no signed checkpoint covers records") {
		t.Fatalf("no checkpoints: %s", r.stderr)
	}
	if _, err := st.DB().Exec(`UPDATE audit_records SET username = 'someone-else' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	r = c.must(t, exitFailure, "", "audit", "verify", "--store", "sqlite:"+dbPath, "--public-key", pub)
	if !strings.Contains(r.stderr, "AUDIT LOG BROKEN at record 3") {
		t.Fatalf("tampered log: %s", r.stderr)
	}
	c.must(t, exitFailure, "", "audit", "verify")

	// Epochs: the matter was created before this gateway existed, so it
	// knows none (commits never raise it); a rotation raises it at once,
	// so alice's warm key cache no longer gets uploads in.
	r = c.must(t, exitOK, "", "epoch", "show", m)
	if !strings.Contains(r.stdout, "has seen no epoch yet") {
		t.Fatalf("epoch show: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "rotate", m)
	if !strings.Contains(r.stdout, "ok     gateway epoch "+m+": uploads sealed under epochs below 2 refused at "+url) {
		t.Fatalf("rotate: %s", r.stdout)
	}
	if e, err := st.Epoch(ctx, m); err != nil || e != 2 {
		t.Fatalf("store epoch after rotate = %d, %v", e, err)
	}
	staleID, staleChunk := sealer.Chunk(t, m, 100)
	err = ac.PutChunk(ctx, m, staleID.String(), staleChunk)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Body.Code != api.CodeStaleEpoch || ce.Body.CurrentEpoch != 2 {
		t.Fatalf("upload under epoch 1 after rotate: %v", err)
	}
	sealer.UseEpoch(m, 2)
	freshID, freshChunk := sealer.Chunk(t, m, 100)
	if err := ac.PutChunk(ctx, m, freshID.String(), freshChunk); err != nil {
		t.Fatalf("upload under epoch 2: %v", err)
	}
	r = c.must(t, exitRefused, "", "epoch", "set", m, "1")
	if !strings.Contains(r.stderr, "never lowered") {
		t.Fatalf("epoch set lower: %s", r.stderr)
	}
	c.must(t, exitUsage, "", "epoch", "set", m, "0")
	c.must(t, exitUsage, "", "epoch", "set", m, "two")
	if r := c.must(t, exitOK, "", "epoch", "set", m, "2"); !strings.Contains(r.stdout, "already at epoch 2") {
		t.Fatalf("epoch set same: %s", r.stdout)
	}
	m2 := testenv.RandomName("m-")
	r = c.must(t, exitOK, "", "matter", "create", m2, "--name", "Doe v. Roe")
	if !strings.Contains(r.stdout, "ok     gateway epoch "+m2) {
		t.Fatalf("create: %s", r.stdout)
	}
	if e, err := st.Epoch(ctx, m2); err != nil || e != 1 {
		t.Fatalf("store epoch after create = %d, %v", e, err)
	}

	// Removing a member stamps their entity at the gateway: their tokens
	// issued until now are refused, whatever groups they name.
	bob := env.User(t, false)
	env.Grant(t, m, bob, kms.RoleRW)
	bobTok := env.IdentityToken(t, bob).Raw
	bc, _ := client.New(url, client.StaticToken(bobTok), client.Options{})
	if _, err := bc.Changes(ctx, m, 0, 0); err != nil {
		t.Fatalf("bob before removal: %v", err)
	}
	r = c.must(t, exitOK, "", "matter", "remove", m, bob.Name)
	if !strings.Contains(r.stdout, "ok     gateway reissue "+bob.Name+": tokens issued before ") {
		t.Fatalf("remove: %s", r.stdout)
	}
	if _, err := bc.Changes(ctx, m, 0, 0); client.Code(err) != api.CodeUnauthenticated {
		t.Fatalf("bob's token after removal: %v", err)
	}
	r = c.must(t, exitOK, "", "deny", "list")
	if !strings.Contains(r.stdout, "tokens issued before these times are refused") || !strings.Contains(r.stdout, bob.EntityID) {
		t.Fatalf("deny list: %s", r.stdout)
	}
	if r := c.must(t, exitOK, "", "deny", "reissue", bob.EntityID, "--reason", "by hand"); !strings.Contains(r.stdout, "entity "+bob.EntityID+": identity tokens issued before") {
		t.Fatalf("deny reissue: %s", r.stdout)
	}
	if fl, _, err := st.TokenFloors(ctx); err != nil || len(fl) != 1 || fl[0].Reason != "by hand" {
		t.Fatalf("store stamps %+v, %v", fl, err)
	}

	// Revocation reaches the gateway through the wired client: the admin's
	// identity token comes from the Vault login (--login, password on stdin).
	delete(c.environ, "MATTERSYNC_GATEWAY_TOKEN")
	delete(c.environ, "VAULT_TOKEN")
	c.must(t, exitOK, it.Password+"\n", "--login", it.Name, "deny", "list")
	c.environ["VAULT_TOKEN"] = env.Vault.Token
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw
	r = c.must(t, exitOK, "", "user", "revoke", alice.Name, "--reason", "left the firm")
	if !strings.Contains(r.stdout, "denied at "+url) || !strings.Contains(r.stdout, "ok     gateway epoch "+m+": uploads sealed under epochs below 4") {
		t.Fatalf("revoke: %s", r.stdout)
	}
	if e, err := st.Epoch(ctx, m); err != nil || e != 4 {
		t.Fatalf("store epoch after revoke = %d, %v", e, err)
	}
	if _, err := ac.Matters(ctx); client.Code(err) != api.CodeRevoked {
		t.Fatalf("alice after revoke: %v", err)
	}
	r = c.must(t, exitOK, "", "deny", "list")
	if !strings.Contains(r.stdout, alice.EntityID) || !strings.Contains(r.stdout, "left the firm") {
		t.Fatalf("deny list: %s", r.stdout)
	}
	c.must(t, exitOK, "", "deny", "remove", alice.EntityID)
	c.must(t, exitNotFound, "", "deny", "remove", alice.EntityID)

	// Without a gateway, gateway commands are usage errors.
	delete(c.environ, "MATTERSYNC_GATEWAY_URL")
	c.must(t, exitUsage, "", "deny", "list")
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-01-02":           time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"90d":                  now.Add(-90 * 24 * time.Hour),
		"12h":                  now.Add(-12 * time.Hour),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-5d", "2026-13-01"} {
		if _, err := parseWhen(in, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", in)
		}
	}
}

// The agent's token source refreshes once when the gateway refuses its
// cached token (matter remove/screen stamps, expiry).
var _ client.TokenRefresher = (*kms.Keyring)(nil)

// TestNamesMustExist: every command that names a matter, user or entity
// that does not exist fails with exit 6 and says so, before changing
// anything, Vault and gateway commands alike.
func TestNamesMustExist(t *testing.T) {
	env := kmstest.Setup(t)
	it, bob := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	g, st, _ := testGateway(t, env)
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	const noMatter, noUser, noEntity = "2026-9999", "alcie", "00000000-0000-0000-0000-000000000000"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"matter", "grant", noMatter, bob.Name, "--role", "rw"}, "no such matter " + noMatter},
		{[]string{"matter", "grant", m, noUser, "--role", "rw"}, "no such user " + noUser},
		{[]string{"matter", "remove", noMatter, bob.Name}, "no such matter " + noMatter},
		{[]string{"matter", "remove", m, noUser}, "no such user " + noUser},
		{[]string{"matter", "screen", noMatter, bob.Name}, "no such matter " + noMatter},
		{[]string{"matter", "screen", m, noUser}, "no such user " + noUser},
		{[]string{"matter", "unscreen", noMatter, bob.Name}, "no such matter " + noMatter},
		{[]string{"matter", "unscreen", m, noUser}, "no such user " + noUser},
		{[]string{"matter", "members", noMatter}, "no such matter " + noMatter},
		{[]string{"matter", "rotate", noMatter}, "no such matter " + noMatter},
		{[]string{"matter", "shred", noMatter, "--confirm", noMatter}, "no such matter " + noMatter},
		{[]string{"user", "matters", noUser}, "no such user " + noUser},
		{[]string{"user", "admin", noUser}, "no such user " + noUser},
		{[]string{"user", "revoke", noUser}, "no such user " + noUser},
		{[]string{"epoch", "set", noMatter, "2"}, "no such matter " + noMatter},
		{[]string{"epoch", "show", noMatter}, "no such matter " + noMatter},
		{[]string{"usage", noMatter}, "no such matter " + noMatter},
		{[]string{"deny", "add", noEntity}, "no such entity " + noEntity},
		{[]string{"deny", "reissue", noEntity}, "no such entity " + noEntity},
		{[]string{"deny", "remove", noEntity}, ""},
		{[]string{"audit", "export", "--user", noUser}, "no such user " + noUser},
		{[]string{"audit", "export", "--matter", noMatter}, "no such matter " + noMatter},
		{[]string{"audit", "export", "--entity", noEntity}, "no such entity " + noEntity},
		{[]string{"audit", "report", "--user", noUser, "--since", "1h"}, "no such user " + noUser},
	} {
		r := c.must(t, exitNotFound, "", tc.args...)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("mattersync-admin %s: stderr %q, want %q", strings.Join(tc.args, " "), r.stderr, tc.want)
		}
	}
	if r := c.must(t, exitUsage, "", "deny", "add", bob.EntityID, "--name", noUser); !strings.Contains(r.stderr, "is "+bob.Name+", not "+noUser) {
		t.Errorf("deny add with another entity's name: %s", r.stderr)
	}
	// Existing names with nothing to report: fine, and said.
	r := c.must(t, exitOK, "", "audit", "export", "--user", bob.Name, "--matter", m)
	if r.stdout != "" || !strings.Contains(r.stderr, "0 records exported") {
		t.Errorf("export of an existing user without records: %q %q", r.stdout, r.stderr)
	}
	if e, err := st.Epoch(context.Background(), noMatter); err != nil || e != 0 {
		t.Errorf("the gateway has epoch %d (%v) for %s", e, err, noMatter)
	}
}

// TestReinstate: `user reinstate` undoes a revocation at Vault and the
// gateway (the user logs in with the new password and the gateway serves
// them again), grants nothing but prints what to grant, and a second
// revocation then rotates the matter past the epoch they used.
func TestReinstate(t *testing.T) {
	env := kmstest.Setup(t)
	it, bob := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, bob, kms.RoleRW)
	g, st, _ := testGateway(t, env)
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw
	ctx := context.Background()

	c.must(t, exitOK, "", "user", "revoke", bob.Name)
	c.must(t, exitUsage, "", "user", "reinstate", bob.Name, "--password-stdin") // no password on stdin
	newPW := "reinstated-password-1"
	r := c.must(t, exitOK, newPW+"\n", "user", "reinstate", bob.Name, "--password-stdin")
	grant := fmt.Sprintf("mattersync-admin matter grant %s %s --role rw", m, bob.Name)
	if !strings.Contains(r.stdout, "ok     gateway deny list: removed at "+g.URL) || !strings.Contains(r.stdout, grant) || strings.Contains(r.stdout, newPW) {
		t.Fatalf("reinstate:\n%s", r.stdout)
	}
	if d, _, err := st.DenyList(ctx); err != nil || len(d) != 0 {
		t.Fatalf("deny list after reinstate: %+v, %v", d, err)
	}
	u, err := env.Admin.User(ctx, bob.Name)
	if err != nil || u.Disabled || len(u.Matters()) != 0 {
		t.Fatalf("after reinstate: %+v, %v; want enabled, no matter granted", u, err)
	}
	c.must(t, exitOK, "", strings.Fields(grant)[1:]...)
	bob.Password = newPW
	k := env.Login(t, bob)
	if e, _, err := k.CurrentKey(ctx, m); err != nil || e != 2 {
		t.Fatalf("reinstated bob: epoch %d, %v; want 2", e, err)
	}
	bc, _ := client.New(g.URL, client.StaticToken(env.IdentityToken(t, bob).Raw), client.Options{Device: "BOB-LAPTOP"})
	if who, err := bc.Matters(ctx); err != nil || len(who.Matters) != 1 {
		t.Fatalf("the gateway after reinstate: %+v, %v", who, err)
	}
	if r := c.must(t, exitOK, newPW+"\n", "user", "reinstate", bob.Name, "--password-stdin"); !strings.Contains(r.stdout, "entity already enabled") || !strings.Contains(r.stdout, "gateway deny list: not on it") || strings.Contains(r.stdout, "grant again") {
		t.Errorf("second reinstate:\n%s", r.stdout)
	}

	r = c.must(t, exitOK, "", "user", "revoke", bob.Name)
	if !strings.Contains(r.stdout, "matters rotated: "+m+" (epoch 3)") || !strings.Contains(r.stdout, "a new revocation") {
		t.Fatalf("revoke after reinstate:\n%s", r.stdout)
	}
	if e, err := st.Epoch(ctx, m); err != nil || e != 3 {
		t.Fatalf("gateway epoch after the second revoke: %d, %v", e, err)
	}
	c.must(t, exitNotFound, "", "user", "reinstate", "alcie")
}
