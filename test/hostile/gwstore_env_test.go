package hostile

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Helpers of the gateway store attacks (gwstore_*_test.go).

const gwsMatter = "2026-0419"

// gwsWorld is an in-process gateway with one matter, a writer and a
// sealer for it.
type gwsWorld struct {
	g      *gatewaytest.Gateway
	s      *gatewaytest.Sealer
	writer *client.Client
}

func newGWSWorld(t *testing.T, o gatewaytest.Options) *gwsWorld {
	t.Helper()
	g := gatewaytest.Start(t, o)
	return &gwsWorld{g: g, s: gatewaytest.NewSealer(t),
		writer: g.Client(t, g.Token(t, "ent-writer", "matter-"+gwsMatter+"-rw"), "WRITER-PC")}
}

// reader is a read-only member's client.
func (w *gwsWorld) reader(t *testing.T, entity string) *client.Client {
	return w.g.Client(t, w.g.Token(t, entity, "matter-"+gwsMatter+"-ro"), "READER-PC")
}

// commit stores a chunk of size bytes and commits a new file referencing
// it; it returns the file and the sealed manifest.
func (w *gwsWorld) commit(t *testing.T, size int) (format.ID, format.ID, []byte) {
	t.Helper()
	ctx := context.Background()
	id, sealed := w.s.Chunk(t, gwsMatter, size)
	if err := w.writer.PutChunk(ctx, gwsMatter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	file := w.s.NewFile(t, gwsMatter)
	m := w.s.ManifestOf(t, gwsMatter, file, 1, id)
	if _, err := w.writer.Commit(ctx, gwsMatter, file.String(), 0, api.CommitRequest{Manifest: m, Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	return file, id, m
}

// gwsBlobs lets a test replace Get for some keys.
type gwsBlobs struct {
	gateway.Blobs
	mu  sync.Mutex
	get func(ctx context.Context, key string) (io.ReadCloser, int64, error, bool)
}

func (b *gwsBlobs) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	b.mu.Lock()
	get := b.get
	b.mu.Unlock()
	if get != nil {
		if rc, n, err, ok := get(ctx, key); ok {
			return rc, n, err
		}
	}
	return b.Blobs.Get(ctx, key)
}

func (b *gwsBlobs) set(get func(ctx context.Context, key string) (io.ReadCloser, int64, error, bool)) {
	b.mu.Lock()
	b.get = get
	b.mu.Unlock()
}

// isManifestKey tells a version's manifest object from a chunk's.
func isManifestKey(key string) bool { return strings.Contains(key, "/v/") }
