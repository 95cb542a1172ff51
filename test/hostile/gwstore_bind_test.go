package hostile

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 19, Info, "the commit body's chunk list is not bound to the
// manifest": a writer's commit body may name fewer chunks than its sealed
// manifest, leaving garbage collection blind to chunks the file needs. The
// gateway now records the SHA-256 of the list exactly as committed and
// serves it with the version, so a reader compares it with the manifest
// it opens (agent: boundChunks) and flags a mismatch as tampering.
func TestGWStoreChunkListBound(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	a, sa := w.s.Chunk(t, gwsMatter, 700)
	b, sb := w.s.Chunk(t, gwsMatter, 800)
	for id, sealed := range map[format.ID][]byte{a: sa, b: sb} {
		if err := w.writer.PutChunk(ctx, gwsMatter, id.String(), sealed); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(ids ...format.ID) string { s := api.ChunkListSum(ids); return hex.EncodeToString(s[:]) }
	reader := w.reader(t, "ent-reader")
	for _, c := range []struct {
		name     string
		manifest []format.ID
		body     []format.ID
	}{
		{"honest, with a repeat", []format.ID{a, b, a}, []format.ID{a, b, a}},
		{"body names fewer chunks than the manifest", []format.ID{a, b}, []format.ID{a}},
	} {
		file := w.s.NewFile(t, gwsMatter)
		hexes := make([]string, len(c.body))
		for i, id := range c.body {
			hexes[i] = id.String()
		}
		if _, err := w.writer.Commit(ctx, gwsMatter, file.String(), 0,
			api.CommitRequest{Manifest: w.s.ManifestOf(t, gwsMatter, file, 1, c.manifest...), Chunks: hexes}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fv, err := reader.File(ctx, gwsMatter, file.String(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if fv.ChunkListSHA256 != sum(c.body...) {
			t.Fatalf("%s: the version's chunk_list_sha256 is %q, want the committed list's %s", c.name, fv.ChunkListSHA256, sum(c.body...))
		}
		if bound := fv.ChunkListSHA256 == sum(c.manifest...); bound != (len(c.manifest) == len(c.body)) {
			t.Fatalf("%s: a reader comparing the manifest's list concludes bound=%v", c.name, bound)
		}
		vs, err := reader.Versions(ctx, gwsMatter, file.String())
		if err != nil || len(vs.Versions) != 1 || vs.Versions[0].ChunkListSHA256 != fv.ChunkListSHA256 {
			t.Fatalf("%s: the version list disagrees: %+v, %v", c.name, vs, err)
		}
	}
}
