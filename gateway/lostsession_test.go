package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/internal/testenv"
)

// stallingBlobs holds manifest writes, once armed, until released.
type stallingBlobs struct {
	gateway.Blobs
	mu      sync.Mutex
	armed   bool
	started chan struct{}
	release chan struct{}
}

func (s *stallingBlobs) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.started, s.release = true, make(chan struct{}), make(chan struct{})
}

func (s *stallingBlobs) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	s.mu.Lock()
	stall := s.armed && strings.Contains(key, "/v/")
	started, release := s.started, s.release
	s.armed = s.armed && !stall
	s.mu.Unlock()
	if stall {
		close(started)
		<-release
		// The write lands late, whatever became of its commit.
		ctx = context.WithoutCancel(ctx)
	}
	return s.Blobs.Create(ctx, key, r, size, sum)
}

// TestLostSessionCannotReplaceAManifest: a replica's commit loses its
// database session while writing the manifest; its advisory lock goes, so
// another replica commits the same version. The first write landing late
// must not replace the winner's manifest.
func TestLostSessionCannotReplaceAManifest(t *testing.T) {
	dsn := testenv.Postgres(t)
	gate := &stallingBlobs{}
	a := newEnv(t, envOpts{postgresDSN: dsn, wrapBlobs: func(b gateway.Blobs) gateway.Blobs { gate.Blobs = b; return gate }})
	b := newEnv(t, envOpts{postgresDSN: dsn, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
	tok := a.token("ent-1", "matter-m-rw")
	f := a.newFile("m")
	a.commit("m", tok, f, 0)
	path := "/v1/matters/m/files/" + f.String()
	mA, mB := a.manifest("m", f, 2), a.manifest("m", f, 2)

	gate.arm()
	resA := make(chan resp, 1)
	go func() { resA <- a.do("PUT", path, tok, map[string]string{"If-Match": `"1"`}, rawCommitBody(t, mA)) }()
	<-gate.started // replica a holds the file's lock, writing its manifest
	// Its session is lost, and with it the lock.
	pool := a.db.(*postgres.Store).Pool()
	tag, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the committing session: %v, %d sessions", err, tag.RowsAffected())
	}
	if r := b.do("PUT", path, tok, map[string]string{"If-Match": `"1"`}, rawCommitBody(t, mB)); r.status != http.StatusCreated {
		t.Fatalf("commit on replica b: %d %s", r.status, r.body)
	}
	close(gate.release)
	if r := <-resA; r.status == http.StatusCreated {
		t.Fatalf("the commit that lost its session succeeded: %s", r.body)
	}
	for _, r := range []*env{a, b} {
		var fv api.FileVersion
		res := r.do("GET", path, tok, nil, nil)
		if res.status != 200 || json.Unmarshal(res.body, &fv) != nil || fv.Version != 2 || !bytes.Equal(fv.Manifest, mB) {
			t.Fatalf("GET: %d, version %d, manifest is b's: %v", res.status, fv.Version, bytes.Equal(fv.Manifest, mB))
		}
	}
	// The size recorded with the version is checked against the object.
	if _, err := pool.Exec(context.Background(), `UPDATE versions SET size = size + 1 WHERE version = 2`); err != nil {
		t.Fatal(err)
	}
	if r := a.do("GET", path, tok, nil, nil); r.status != http.StatusInternalServerError {
		t.Fatalf("GET with a size mismatch: %d %s", r.status, r.body)
	}
}
