package hostile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 19, "a planted chunk is detected but can never be removed": a
// writer uploads garbage under a valid header for a chunk ID before its
// real upload; every later upload of the chunk deduplicates to the
// garbage, and readers fail on it forever. A writer that holds a good
// sealing now replaces it, naming the SHA-256 of the bad object; the old
// object is kept, and the replacement is audited as chunk.replace.
func TestGWStorePlantedChunkReplaced(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	mallory := w.g.Client(t, w.g.Token(t, "ent-mallory", "matter-"+gwsMatter+"-rw"), "MALLORY-PC")
	id, good := w.s.Chunk(t, gwsMatter, 5000)
	planted := bytes.Clone(good)
	planted[len(planted)-1] ^= 0xff // the header stays valid; the seal does not open
	if err := mallory.PutChunk(ctx, gwsMatter, id.String(), planted); err != nil {
		t.Fatal(err)
	}
	// The real upload deduplicates to the planted bytes.
	if put, err := w.writer.PutChunkStream(ctx, gwsMatter, id.String(), bytes.NewReader(good), int64(len(good)), sha256.Sum256(good)); err != nil || put.Created {
		t.Fatalf("upload of a planted chunk: %+v, %v", put, err)
	}
	reader := w.reader(t, "ent-reader")
	got, err := reader.GetChunk(ctx, gwsMatter, id.String())
	if err != nil || !bytes.Equal(got, planted) {
		t.Fatalf("the reader should get the planted bytes first: %v", err)
	}
	bad := sha256.Sum256(got) // what the reader found bad

	// Refused: a reader; a wrong SHA-256 (not the stored object: a good
	// chunk cannot be replaced by naming something else); the same bytes.
	if _, err := reader.ReplaceChunk(ctx, gwsMatter, id.String(), good, bad); client.Code(err) != api.CodeForbidden {
		t.Fatalf("a read-only member's replacement: %v, want forbidden", err)
	}
	if _, err := w.writer.ReplaceChunk(ctx, gwsMatter, id.String(), good, sha256.Sum256([]byte("other"))); client.Code(err) != api.CodeVersionMismatch {
		t.Fatalf("a replacement naming another object: %v, want version_mismatch", err)
	}
	if _, err := w.writer.ReplaceChunk(ctx, gwsMatter, id.String(), planted, bad); client.Code(err) != api.CodeInvalidRequest {
		t.Fatalf("a replacement by the same bytes: %v, want invalid_request", err)
	}
	_, other := w.s.Chunk(t, gwsMatter, 5000)
	if _, err := w.writer.ReplaceChunk(ctx, gwsMatter, id.String(), other, bad); client.Code(err) != api.CodeInvalidRequest {
		t.Fatalf("a replacement sealed for another chunk ID: %v, want invalid_request", err)
	}
	if _, err := w.writer.ReplaceChunk(ctx, gwsMatter, storeRandomID(t).String(), good, bad); client.Code(err) == "" {
		t.Fatal("a replacement of a chunk that is not stored was accepted")
	}

	put, err := w.writer.ReplaceChunk(ctx, gwsMatter, id.String(), good, bad)
	if err != nil || !put.Replaced || put.Size != int64(len(good)) {
		t.Fatalf("the replacement: %+v, %v", put, err)
	}
	if got, err := reader.GetChunk(ctx, gwsMatter, id.String()); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("after the replacement the reader gets the planted bytes still (%v)", err)
	}
	// The same replacement again names an object no longer stored.
	planted2 := bytes.Clone(good)
	planted2[len(planted2)-2] ^= 0xff
	if _, err := mallory.ReplaceChunk(ctx, gwsMatter, id.String(), planted2, bad); client.Code(err) != api.CodeVersionMismatch {
		t.Fatalf("a replacement of the replaced object: %v, want version_mismatch", err)
	}
	// The planted object is kept where it was.
	key, _ := blob.ChunkKey(gwsMatter, id)
	rc, _, err := w.g.Blobs.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(kept, planted) {
		t.Fatal("the replaced object was not kept")
	}
	var recs []audit.Record
	w.g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: gwsMatter}, func(r *audit.Record) error {
		if r.Action == "chunk.replace" {
			recs = append(recs, *r)
		}
		return nil
	})
	var ok, refused int
	for _, r := range recs {
		if r.Result == audit.ResultOK {
			ok++
			if r.Entity != "ent-writer" || !strings.Contains(r.Object, id.String()) || !strings.Contains(r.Object, format.ID(bad).String()) {
				t.Errorf("the replacement's audit record: %+v", r)
			}
		} else {
			refused++
		}
	}
	if ok != 1 || refused < 5 {
		t.Fatalf("chunk.replace audit records: %d ok, %d refused; want 1 and at least 5", ok, refused)
	}
}

func storeRandomID(t *testing.T) format.ID {
	var id format.ID
	copy(id[:], bytes.Repeat([]byte{7}, len(id)))
	return id
}

// The hostile review of the replacement: a writer reads a chunk that a
// committed version references, flips its sealed bytes and "replaces" it,
// naming the honest object's SHA-256. The gateway cannot tell good from
// bad, so it must never repoint a chunk that history references, nor any
// chunk of a matter under legal hold.
func TestGWStoreReplaceNeverRewritesHistory(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	mallory := w.g.Client(t, w.g.Token(t, "ent-mallory", "matter-"+gwsMatter+"-rw"), "MALLORY-PC")
	_, id, _ := w.commit(t, 4096)
	good, err := mallory.GetChunk(ctx, gwsMatter, id.String())
	if err != nil {
		t.Fatal(err)
	}
	evil := bytes.Clone(good)
	for i := format.HeaderSize; i < len(evil); i++ {
		evil[i] ^= 0x5a
	}
	if _, err := mallory.ReplaceChunk(ctx, gwsMatter, id.String(), evil, sha256.Sum256(good)); client.Code(err) != api.CodeVersionMismatch {
		t.Fatalf("replacing a chunk a committed version references: %v, want version_mismatch", err)
	}
	if got, _ := w.reader(t, "ent-reader").GetChunk(ctx, gwsMatter, id.String()); !bytes.Equal(got, good) {
		t.Fatal("the committed version's chunk was repointed")
	}

	// Under legal hold, not even an unreferenced chunk is replaced.
	loose, sealed := w.s.Chunk(t, gwsMatter, 3000)
	if err := w.writer.PutChunk(ctx, gwsMatter, loose.String(), sealed); err != nil {
		t.Fatal(err)
	}
	admin := w.g.Client(t, w.g.Token(t, "ent-admin", "mattersync-admins"), "IT")
	if _, err := admin.SetHold(ctx, gwsMatter, api.HoldRequest{Reason: "litigation", Case: "X v Y"}); err != nil {
		t.Fatal(err)
	}
	bent := bytes.Clone(sealed)
	bent[len(bent)-1] ^= 0xff
	if _, err := mallory.ReplaceChunk(ctx, gwsMatter, loose.String(), bent, sha256.Sum256(sealed)); client.Code(err) != api.CodeLegalHold {
		t.Fatalf("replacing a chunk under legal hold: %v, want legal_hold", err)
	}
}
