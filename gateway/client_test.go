package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
)

// TestClient drives the whole API through the client package, the way the
// agent and the admin CLI use it.
func TestClient(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	alice, err := client.New(e.url, client.StaticToken(e.token("ent-alice", "matter-2026-0001-rw")), client.Options{Device: "LAPTOP-7", MissingBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := client.New(e.url, client.StaticToken(e.token("ent-bob", "matter-2026-0001-ro")), client.Options{Device: "MAC-2"})
	admin, _ := client.New(e.url, client.StaticToken(e.token("ent-it", "mattersync-admins")), client.Options{Device: "IT"})
	const m = "2026-0001"

	who, err := alice.Matters(ctx)
	if err != nil || who.Entity != "ent-alice" || len(who.Matters) != 1 || who.Matters[0] != (api.Matter{ID: m, Role: api.RoleWrite}) {
		t.Fatalf("Matters = %+v, %v", who, err)
	}

	// Upload: which chunks are missing, send them, commit.
	var ids []string
	chunks := map[string][]byte{}
	for range 5 {
		id, b := e.chunk(m, 1000)
		ids = append(ids, id.String())
		chunks[id.String()] = b
	}
	missing, err := alice.MissingChunks(ctx, m, ids)
	if err != nil || len(missing) != 5 {
		t.Fatalf("MissingChunks = %v, %v", missing, err)
	}
	for _, id := range ids[:4] {
		if err := alice.PutChunk(ctx, m, id, chunks[id]); err != nil {
			t.Fatalf("PutChunk: %v", err)
		}
	}
	if err := alice.PutChunk(ctx, m, ids[0], chunks[ids[0]]); err != nil {
		t.Fatalf("PutChunk again (idempotent): %v", err)
	}
	if missing, _ = alice.MissingChunks(ctx, m, ids); len(missing) != 1 || missing[0] != ids[4] {
		t.Fatalf("MissingChunks after upload = %v", missing)
	}
	fileID := e.newFile(m)
	file := fileID.String()
	v1 := e.manifest(m, fileID, 1)
	v2 := e.manifest(m, fileID, 2)
	_, err = alice.Commit(ctx, m, file, 0, api.CommitRequest{Manifest: v1, Chunks: ids})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Body.Code != api.CodeMissingChunks || len(ce.Body.Missing) != 1 || ce.Body.Missing[0] != ids[4] {
		t.Fatalf("commit with a missing chunk = %v", err)
	}
	if err := alice.PutChunk(ctx, m, ids[4], chunks[ids[4]]); err != nil {
		t.Fatal(err)
	}
	c1, err := alice.Commit(ctx, m, file, 0, api.CommitRequest{Manifest: v1, Chunks: ids})
	if err != nil || c1.Version != 1 || c1.Seq != 1 {
		t.Fatalf("Commit = %+v, %v", c1, err)
	}

	// A reader waiting on the feed sees the next commit.
	type feed struct {
		ch  api.Changes
		err error
	}
	got := make(chan feed)
	go func() {
		ch, err := bob.Changes(ctx, m, c1.Seq, 15*time.Second)
		got <- feed{ch, err}
	}()
	c2, err := alice.Commit(ctx, m, file, 1, api.CommitRequest{Manifest: v2, Chunks: ids[:2]})
	if err != nil {
		t.Fatal(err)
	}
	f := <-got
	if f.err != nil || len(f.ch.Changes) != 1 || f.ch.Changes[0] != (api.Change{Seq: c2.Seq, FileID: file, Version: 2}) || f.ch.Head != c2.Seq {
		t.Fatalf("long poll = %+v, %v", f.ch, f.err)
	}

	// A concurrent edit from the old base is refused with the head.
	_, err = bob.Commit(ctx, m, file, 1, api.CommitRequest{Manifest: e.manifest(m, fileID, 2)})
	if client.Code(err) != api.CodeForbidden {
		t.Fatalf("read-only commit = %v", err)
	}
	_, err = alice.Commit(ctx, m, file, 1, api.CommitRequest{Manifest: e.manifest(m, fileID, 2)})
	if !errors.As(err, &ce) || ce.Body.Code != api.CodeVersionMismatch || *ce.Body.CurrentVersion != 2 || ce.APIError().Code != api.CodeVersionMismatch {
		t.Fatalf("stale commit = %v", err)
	}

	// Reading back.
	fv, err := bob.File(ctx, m, file, 0)
	if err != nil || fv.Version != 2 || !bytes.Equal(fv.Manifest, v2) || fv.Deleted {
		t.Fatalf("File(head) = %+v, %v", fv, err)
	}
	fv, err = bob.File(ctx, m, file, 1)
	if err != nil || !bytes.Equal(fv.Manifest, v1) {
		t.Fatalf("File(v1) = %+v, %v", fv, err)
	}
	got1, err := bob.GetChunk(ctx, m, ids[1])
	if err != nil || !bytes.Equal(got1, chunks[ids[1]]) {
		t.Fatalf("GetChunk = %d bytes, %v", len(got1), err)
	}

	// Legal hold refuses the delete; released, the delete is a tombstone.
	if _, err := admin.SetHold(ctx, m, api.HoldRequest{Reason: "Smith v. Jones litigation"}); err != nil {
		t.Fatal(err)
	}
	tomb := e.sealer.TombstoneOf(t, m, fileID, 3)
	if _, err := alice.Delete(ctx, m, file, 2, nil); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("delete without a tombstone = %v, want ErrInvalid before sending", err)
	}
	if _, err := alice.Delete(ctx, m, file, 2, tomb); client.Code(err) != api.CodeLegalHold {
		t.Fatalf("delete under hold = %v", err)
	}
	if h, err := admin.Hold(ctx, m); err != nil || !h.On || h.ChangedBy != "user-ent-it" {
		t.Fatalf("Hold = %+v, %v", h, err)
	}
	if _, err := admin.ReleaseHold(ctx, m, api.HoldRequest{}); client.Code(err) != api.CodeInvalidRequest {
		t.Fatalf("release without a reason = %v", err)
	}
	if _, err := admin.ReleaseHold(ctx, m, api.HoldRequest{Reason: "settled", Case: "CV-1"}); err != nil {
		t.Fatal(err)
	}
	d, err := alice.Delete(ctx, m, file, 2, tomb)
	if err != nil || !d.Deleted || d.Version != 3 {
		t.Fatalf("Delete = %+v, %v", d, err)
	}
	vs, err := bob.Versions(ctx, m, file)
	if err != nil || len(vs.Versions) != 3 || !vs.Versions[0].Deleted || vs.Versions[2].Version != 1 || vs.Versions[0].Size != int64(len(tomb)) {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	// The tombstone is readable like any version, so every member can
	// check that a member deleted the file.
	for _, v := range []int64{0, 3} {
		if fv, err := bob.File(ctx, m, file, v); err != nil || !fv.Deleted || !bytes.Equal(fv.Manifest, tomb) || fv.Epoch != 1 {
			t.Fatalf("File(tombstone, %d) = %+v, %v", v, fv, err)
		}
	}

	// Streaming upload of a larger chunk.
	bigFormatID, big := e.chunk(m, 900<<10)
	bigID := bigFormatID.String()
	if cp, err := alice.PutChunkStream(ctx, m, bigID, bytes.NewReader(big), int64(len(big)), sha256.Sum256(big)); err != nil || !cp.Created {
		t.Fatalf("PutChunkStream = %+v, %v", cp, err)
	}
	rc, size, err := bob.OpenChunk(ctx, m, bigID)
	if err != nil || size != int64(len(big)) {
		t.Fatalf("OpenChunk = %d, %v", size, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, big) {
		t.Fatal("streamed chunk differs")
	}

	u, err := admin.Usage(ctx, m)
	if err != nil || u.Chunks != 6 || u.Versions != 3 || u.Files != 1 || u.ChunkBytes != int64(len(big))+5*(1000+60) {
		t.Fatalf("Usage = %+v, %v", u, err)
	}

	// Deny list: bob is revoked, then restored.
	if err := admin.Deny(ctx, "ent-bob", "bob", "left"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Deny(ctx, "ent-bob", "bob", "left"); err != nil {
		t.Fatalf("Deny twice: %v", err)
	}
	if _, err := bob.Matters(ctx); client.Code(err) != api.CodeRevoked {
		t.Fatalf("revoked bob = %v", err)
	}
	list, err := admin.DenyList(ctx)
	if err != nil || len(list) != 1 || list[0].EntityID != "ent-bob" || list[0].CreatedBy != "user-ent-it" {
		t.Fatalf("DenyList = %+v, %v", list, err)
	}
	if err := admin.Undeny(ctx, "ent-bob"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Undeny(ctx, "ent-bob"); client.Code(err) != api.CodeNotFound {
		t.Fatalf("Undeny twice = %v", err)
	}
	if _, err := bob.Matters(ctx); err != nil {
		t.Fatalf("restored bob: %v", err)
	}

	// Audit: everything alice did, and a verified chain.
	var recs []*audit.Record
	if err := admin.AuditExport(ctx, client.AuditQuery{User: "user-ent-alice", Matter: m}, func(r *audit.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, r := range recs {
		actions[r.Action+"/"+r.Result]++
		if r.Device != "LAPTOP-7" {
			t.Fatalf("record %+v: device", r)
		}
	}
	want := map[string]int{"chunk.missing/ok": 4, "chunk.put/ok": 7, "file.commit/conflict": 2, "file.commit/ok": 2, "file.delete/legal_hold": 1, "file.delete/ok": 1}
	if len(actions) != len(want) {
		t.Fatalf("alice's records: %v, want %v", actions, want)
	}
	for k, v := range want {
		if actions[k] != v {
			t.Fatalf("alice's records: %v, want %v", actions, want)
		}
	}
	// The action and result filters (the console's Audit page).
	n := 0
	if err := admin.AuditExport(ctx, client.AuditQuery{User: "user-ent-alice", Matter: m, Actions: []string{"file.commit", "file.delete"}, Result: audit.ResultConflict}, func(r *audit.Record) error {
		if r.Action != "file.commit" || r.Result != audit.ResultConflict {
			t.Errorf("filtered export: %+v", r)
		}
		n++
		return nil
	}); err != nil || n != 2 {
		t.Fatalf("filtered export: %d records, %v", n, err)
	}
	if err := e.srv.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := admin.AuditVerify(ctx, client.VerifyOptions{})
	if err != nil || !rep.OK || rep.Checkpoints != 1 {
		t.Fatalf("AuditVerify = %+v, %v", rep, err)
	}

	// Client-side validation: nothing is sent for a bad ID.
	if err := alice.PutChunk(ctx, m, "../x", []byte("x")); err == nil || client.Code(err) != "" {
		t.Fatalf("bad chunk ID = %v", err)
	}
	if _, err := alice.Changes(ctx, "../other", 0, 0); err == nil || !strings.Contains(err.Error(), "matter ID") {
		t.Fatalf("bad matter = %v", err)
	}
}
