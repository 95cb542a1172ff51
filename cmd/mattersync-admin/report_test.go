package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// memberWrites commits path to matter as u, sealed with the matter's real
// keys (as u's agent would), and reads it back: file.commit, chunk.put,
// file.get and chunk.get records.
func memberWrites(t *testing.T, env *kmstest.Env, url string, u kmstest.User, matter, path string) {
	t.Helper()
	ctx := context.Background()
	kr := env.Login(t, u)
	e1, err := kr.EpochKey(ctx, matter, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := format.DeriveFileIDKey(matter, e1)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := format.DeriveKeys(ids, 1, e1)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	plain := []byte("the complaint, draft " + path)
	cid := keys.ChunkID(plain)
	chunk, err := codec.SealChunk(nil, keys, cid, plain)
	if err != nil {
		t.Fatal(err)
	}
	m := &format.Manifest{Path: path, Version: 1, Size: uint64(len(plain)), ModTime: time.Now(), Mode: 0o644, ContentHash: sha256.Sum256(plain),
		Chunks: []format.ChunkRef{{ID: cid, Size: uint32(len(plain))}}, Author: u.EntityID, Device: "LAPTOP-A", Created: time.Now()}
	sealed, fid, err := keys.SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(url, kr, client.Options{Device: "LAPTOP-A"})
	if err := c.PutChunk(ctx, matter, cid.String(), chunk); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, matter, fid.String(), 0, api.CommitRequest{Manifest: sealed, Chunks: []string{cid.String()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.File(ctx, matter, fid.String(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetChunk(ctx, matter, cid.String()); err != nil {
		t.Fatal(err)
	}
}

// TestMembershipHistory: grants, a wall and a change made directly in
// Vault are recorded with who, when, why and how they were seen, and
// who-could-open answers from them.
func TestMembershipHistory(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice, bob, carol := env.User(t, true), env.User(t, false), env.User(t, false), env.User(t, false)
	m := env.Matter(t)
	g, _, _ := testGateway(t, env)
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	r := c.must(t, exitOK, "", "matter", "grant", m, alice.Name, "--role", "rw", "--reason", "joins the trial team")
	if !strings.Contains(r.stdout, "gateway membership history "+m) || !strings.Contains(r.stdout, "+rw "+alice.Name+" (admin)") {
		t.Fatalf("grant: %s", r.stdout)
	}
	c.must(t, exitOK, "", "matter", "grant", m, bob.Name, "--role", "ro", "--reason", "reviews the pleadings")
	// Someone adds carol in Vault directly; the sync finds it.
	env.Grant(t, m, carol, kms.RoleRW)
	r = c.must(t, exitOK, "", "membership", "sync", m)
	if !strings.Contains(r.stdout, "+rw "+carol.Name+" (vault)") || !strings.Contains(r.stdout, "1 changes recorded") {
		t.Fatalf("sync: %s", r.stdout)
	}
	if r := c.must(t, exitOK, "", "membership", "sync"); !strings.Contains(r.stdout, "0 changes recorded") {
		t.Fatalf("second sync: %s", r.stdout)
	}
	before := time.Now().UTC()
	c.must(t, exitOK, "", "matter", "screen", m, bob.Name, "--reason", "conflict: advises the other side")

	r = c.must(t, exitOK, "", "membership", "history", m)
	for _, want := range []string{"history begins", alice.Name, "joins the trial team", carol.Name, "vault", "screened", "conflict: advises the other side"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("history lacks %q:\n%s", want, r.stdout)
		}
	}
	could := func(at time.Time) map[string]bool {
		t.Helper()
		r := c.must(t, exitOK, "", "report", "who-could-open", m, "--at", at.Format(time.RFC3339Nano), "--json")
		var res struct {
			Holders []struct {
				Name      string
				CouldOpen bool
				Roles     []string
				Source    string
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, h := range res.Holders {
			out[h.Name] = h.CouldOpen
		}
		return out
	}
	if got := could(before); !got[alice.Name] || !got[bob.Name] || !got[carol.Name] || len(got) != 3 {
		t.Fatalf("who could open before the wall: %v", got)
	}
	if got := could(time.Now().Add(time.Second)); !got[alice.Name] || got[bob.Name] || !got[carol.Name] {
		t.Fatalf("who could open after the wall: %v", got)
	}
	r = c.must(t, exitOK, "", "report", "who-could-open", m, "--at", time.Now().Add(time.Second).Format(time.RFC3339))
	if !strings.Contains(r.stdout, "screened") || !strings.Contains(r.stdout, "advises the other side") {
		t.Fatalf("who-could-open table: %s", r.stdout)
	}
	// Before the history began: refused, saying when it began.
	if r := c.must(t, exitUsage, "", "report", "who-could-open", m, "--at", "2020-01-01"); !strings.Contains(r.stderr, "history begins") {
		t.Fatalf("before the history: %s", r.stderr)
	}
}

// TestReports: a fixture with known accesses gives exactly the expected
// rows, with file names resolved on the officer's machine (only with the
// compliance policy), and the chain's status on each report.
func TestReports(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	g, _, _ := testGateway(t, env)
	memberWrites(t, env, g.URL, alice, m, "Pleadings/Complaint.docx")
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	// The officer is an administrator logged in as themselves.
	officer := newCLI(t, env)
	delete(officer.environ, "VAULT_TOKEN")
	officer.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	login := []string{"--login", it.Name}
	run := func(code int, args ...string) result {
		t.Helper()
		return officer.must(t, code, it.Password+"\n", append(login, args...)...)
	}
	// Not yet an officer: the report says why names are missing.
	r := run(exitOK, "report", "access", "--user", alice.Name, "--from", from, "--format", "csv")
	if !strings.Contains(r.stdout, "compliance policy") || strings.Contains(r.stdout, "Complaint.docx") {
		t.Fatalf("report without the compliance policy:\n%s", r.stdout)
	}
	root := newCLI(t, env)
	root.must(t, exitOK, "", "report", "officer", "setup")
	root.must(t, exitOK, "", "report", "officer", "add", it.Name)

	r = run(exitOK, "report", "access", "--user", alice.Name, "--from", from, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(stripPreamble(t, r.stdout))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range rows[1:] {
		got[row[6]] = row[7] // action -> file
	}
	want := map[string]string{"chunk.put": "Pleadings/Complaint.docx (a chunk of)", "file.commit": "Pleadings/Complaint.docx", "file.get": "Pleadings/Complaint.docx",
		"chunk.get": "Pleadings/Complaint.docx (a chunk of)", "matters.list": ""}
	for a, f := range want {
		if g, ok := got[a]; a != "matters.list" && (!ok || g != f) {
			t.Errorf("action %s: file %q, want %q (rows %v)", a, g, f, got)
		}
	}
	if !strings.Contains(r.stdout, `#,audit chain,"intact`) {
		t.Fatalf("no chain status:\n%s", r.stdout)
	}

	r = run(exitOK, "report", "incident", "--user", alice.Name, "--from", from, "--format", "jsonl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var head map[string]any
	json.Unmarshal([]byte(lines[0]), &head)
	if head["report"] != "incident" || !strings.HasPrefix(head["audit_chain_status"].(string), "intact") || lines[len(lines)-1] != `{"end":true}` {
		t.Fatalf("incident report: %s", r.stdout)
	}
	found := false
	for _, l := range lines[1 : len(lines)-1] {
		var row map[string]string
		json.Unmarshal([]byte(l), &row)
		if row["matter"] == m && row["file"] == "Pleadings/Complaint.docx" && strings.Contains(row["actions"], "file.get=1") && strings.Contains(row["actions"], "file.commit=1") {
			found = true
		}
	}
	if !found {
		t.Fatalf("incident report lacks the file: %s", r.stdout)
	}

	pdf := filepath.Join(t.TempDir(), "review.pdf")
	run(exitOK, "report", "access-review", "--matter", m, "--format", "pdf", "-o", pdf)
	if b, err := os.ReadFile(pdf); err != nil || !strings.HasPrefix(string(b), "%PDF-") || len(b) < 1000 {
		t.Fatalf("pdf: %d bytes, %v", len(b), err)
	}
	r = run(exitOK, "report", "access-review", "--matter", m, "--format", "csv")
	if !strings.Contains(r.stdout, alice.Name+",rw,active,20") {
		t.Fatalf("access review: %s", r.stdout)
	}
	r = run(exitOK, "report", "matter", m, "--from", from, "--format", "csv")
	if !strings.Contains(r.stdout, "Pleadings/Complaint.docx") || !strings.Contains(r.stdout, "admin.file.get") {
		t.Fatalf("matter report: %s", r.stdout)
	}
}

// stripPreamble drops the "#" lines of a CSV report.
func stripPreamble(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "#,") {
			b.WriteString(l)
		}
	}
	return b.String()
}
