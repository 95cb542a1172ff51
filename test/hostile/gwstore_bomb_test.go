package hostile

import (
	"context"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 19, "Dedup bomb", the gateway's side: one tiny compressed chunk
// referenced ~466,000 times declares a 3.6 TiB file, and the gateway
// accepted the commit. Every chunk but a file's last holds at least
// format.MinChunkSize bytes, so the references bound the file from below:
// more than a file of max_file_size (64 GiB by default) can have are
// refused, file_too_large, and audited.
func TestGWStoreDedupBombRefused(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	id, sealed := w.s.ChunkOf(t, gwsMatter, []byte("tiny"))
	if err := w.writer.PutChunk(ctx, gwsMatter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	const refs = 140_000 // 64 GiB holds at most 131,072 chunks
	chunks, hexes := make([]format.ID, refs), make([]string, refs)
	for i := range chunks {
		chunks[i], hexes[i] = id, id.String()
	}
	file := w.s.NewFile(t, gwsMatter)
	_, err := w.writer.Commit(ctx, gwsMatter, file.String(), 0,
		api.CommitRequest{Manifest: w.s.ManifestOf(t, gwsMatter, file, 1, chunks...), Chunks: hexes})
	if client.Code(err) != api.CodeFileTooLarge {
		t.Fatalf("a commit of %d references to one chunk: %v, want %s", refs, err, api.CodeFileTooLarge)
	}
	if _, err := w.writer.File(ctx, gwsMatter, file.String(), 0); client.Code(err) != api.CodeNotFound {
		t.Fatalf("the refused bomb is readable: %v", err)
	}
	found := false
	w.g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: gwsMatter}, func(r *audit.Record) error {
		found = found || r.Action == "file.commit" && r.Status == 413 && r.Result == audit.ResultInvalid
		return nil
	})
	if !found {
		t.Fatal("the refused commit is not audited")
	}
}

// The bound is exact: with max_file_size 1 MiB a file has at most two
// chunks (512 KiB + 512 KiB); two references pass, three are refused.
func TestGWStoreReferenceBoundIsExact(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{Config: func(c *gateway.Config) { c.Limits.MaxFileSize = 1 << 20 }})
	ctx := context.Background()
	id, sealed := w.s.Chunk(t, gwsMatter, 100)
	if err := w.writer.PutChunk(ctx, gwsMatter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]api.Code{1: "", 2: "", 3: api.CodeFileTooLarge} {
		chunks, hexes := make([]format.ID, n), make([]string, n)
		for i := range chunks {
			chunks[i], hexes[i] = id, id.String()
		}
		file := w.s.NewFile(t, gwsMatter)
		_, err := w.writer.Commit(ctx, gwsMatter, file.String(), 0,
			api.CommitRequest{Manifest: w.s.ManifestOf(t, gwsMatter, file, 1, chunks...), Chunks: hexes})
		if client.Code(err) != want {
			t.Errorf("%d references with max_file_size 1 MiB: %v, want %q", n, err, want)
		}
	}
}
