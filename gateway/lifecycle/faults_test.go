package lifecycle_test

// Issue 13's faults on every pair of backends: SQLite and PostgreSQL, the
// in-memory bucket and the real MinIO with Object Lock (those skipped
// under -short): a run killed halfway, a hold placed while a collection
// runs. (The bucket down during a purge: gateway, TestLifecycleBucketDown;
// policies that make no sense: gateway, TestLifecycleRetentionRoutes, and
// storetest, Retention.)

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/blob/memblob"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// engine is the store as these tests use it (sqlite.Store, postgres.Store).
type engine interface {
	PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (bool, error)
	SetHold(ctx context.Context, h store.Hold, rec *audit.Record) error
	Commit(ctx context.Context, c store.Commit, write store.WriteFunc, rec *audit.Record) (store.Version, error)
	MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error)
	Close() error
}

// bucket is the bucket as these tests use it (blob.Store, memblob).
type bucket interface {
	lifecycle.Blobs
	lifecycle.LegalHolds
	Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	Size(ctx context.Context, key string) (int64, error)
	LegalHold(ctx context.Context, key, versionID string) (bool, error)
}

type backends struct {
	t     *testing.T
	st    engine
	roles lifecycle.Stores
	b     bucket
}

// onBackends runs f on SQLite and PostgreSQL, each with the in-memory
// bucket and with MinIO (an Object Lock bucket of its own).
func onBackends(t *testing.T, f func(*testing.T, *backends)) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, bk := range []string{"memblob", "minio"} {
			t.Run(db+"+"+bk, func(t *testing.T) {
				ctx := context.Background()
				var st engine
				var err error
				var b bucket
				if bk == "minio" {
					m := testenv.MinIO(t)
					if b, err = blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: m.Bucket(t), AccessKey: m.AccessKey, SecretKey: m.SecretKey}); err != nil {
						t.Fatal(err)
					}
				} else {
					b = memblob.New()
				}
				if db == "postgres" {
					st, err = postgres.Open(ctx, testenv.Postgres(t), postgres.Options{})
				} else {
					st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "gateway.db"))
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				f(t, &backends{t: t, st: st, roles: lifecycle.StoresOf(st), b: b})
			})
		}
	}
}

func (k *backends) runner(b lifecycle.Blobs, now func() time.Time) *lifecycle.Runner {
	k.t.Helper()
	cfg := lifecycle.DefaultConfig()
	cfg.Poll = 100 * time.Millisecond
	r, err := lifecycle.New(cfg, k.roles, b, lifecycle.Options{Now: now})
	if err != nil {
		k.t.Fatal(err)
	}
	return r
}

// chunk stores a chunk of matter: its object, then its record.
func (k *backends) chunk(matter string, size int) format.ID {
	k.t.Helper()
	var id format.ID
	rand.Read(id[:])
	body := make([]byte, size)
	key, _ := blob.ChunkKey(matter, id)
	if err := k.b.Create(context.Background(), key, bytes.NewReader(body), int64(size), sha256.Sum256(body)); err != nil {
		k.t.Fatal(err)
	}
	if _, err := k.st.PutChunk(context.Background(), store.Chunk{Matter: matter, ID: id, Size: int64(size), Time: time.Now()}, rec("chunk.put", matter)); err != nil {
		k.t.Fatal(err)
	}
	return id
}

func (k *backends) hold(matter string, on bool) {
	k.t.Helper()
	if err := k.st.SetHold(context.Background(), store.Hold{Matter: matter, On: on, Reason: "r", ChangedBy: "alice", Time: time.Now()}, rec("admin.hold", matter)); err != nil {
		k.t.Fatal(err)
	}
}

// keys lists the keys under prefix that have a version that is not a
// delete marker: what is still in the bucket.
func (k *backends) keys(prefix string) []string {
	k.t.Helper()
	seen := map[string]bool{}
	var out []string
	err := k.b.Versions(context.Background(), prefix, "", func(v blob.ObjectVersion) error {
		if !v.DeleteMarker && !seen[v.Key] {
			seen[v.Key] = true
			out = append(out, v.Key)
		}
		return nil
	})
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// TestFaultRunKilledHalfway: a run stopped in the middle of its deletions
// leaves the records and the bucket consistent (every live chunk has its
// record and its object), and the next run finishes.
func TestFaultRunKilledHalfway(t *testing.T) {
	onBackends(t, func(t *testing.T, k *backends) {
		bg := context.Background()
		var live []format.ID
		for i := range 2500 {
			id := k.chunk("m", 10)
			if i%5 == 0 {
				live = append(live, id)
			}
		}
		if _, err := k.st.Commit(bg, store.Commit{Matter: "m", File: format.ID{1}, Size: 10, Chunks: live, Time: time.Now()}, nil, rec("file.commit", "m")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(bg)
		r := k.runner(&killer{Blobs: k.b, cancel: cancel}, later)
		if _, err := r.Pass(ctx, lifecycle.PassOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("killed run: %v", err)
		}
		left := len(k.keys("m/m/c/"))
		if left <= len(live) || left >= 2500 {
			t.Fatalf("%d objects after the killed run: not halfway", left)
		}
		if missing, _ := k.st.MissingChunks(bg, "m", live); len(missing) != 0 {
			t.Fatal("a live chunk's record went")
		}
		for _, id := range live {
			key, _ := blob.ChunkKey("m", id)
			if _, err := k.b.Size(bg, key); err != nil {
				t.Fatalf("a live chunk's object went: %v", err)
			}
		}
		// The killed run's claims are stale after twice the lease.
		sum, err := k.runner(k.b, func() time.Time { return later().Add(time.Hour) }).Pass(bg, lifecycle.PassOptions{})
		if err != nil || sum.Queued != 0 || len(sum.Errors) != 0 {
			t.Fatalf("run after the killed one = %+v, %v", sum, err)
		}
		if got := len(k.keys("m/m/c/")); got != len(live) {
			t.Fatalf("objects left = %d, want the %d live ones", got, len(live))
		}
	})
}

// TestFaultHoldDuringCollection: a hold placed while a collection runs
// (its records already removed, its objects claimed for deletion) wins:
// no object of the matter is deleted, the storage holds every one of them
// (MinIO itself refuses their deletion), and once the hold is lifted the
// next run deletes them.
func TestFaultHoldDuringCollection(t *testing.T) {
	onBackends(t, func(t *testing.T, k *backends) {
		ctx := context.Background()
		var keys []string
		for range 50 {
			id := k.chunk("m", 10)
			key, _ := blob.ChunkKey("m", id)
			keys = append(keys, key)
		}
		g := &gate{Blobs: k.b, reached: make(chan struct{}), release: make(chan struct{})}
		type result struct {
			sum lifecycle.Summary
			err error
		}
		done := make(chan result)
		go func() {
			sum, err := k.runner(g, later).Pass(ctx, lifecycle.PassOptions{})
			done <- result{sum, err}
		}()
		<-g.reached
		k.hold("m", true)
		hr := k.runner(k.b, nil)
		if err := hr.HoldPass(ctx, k.b, "m", nil); err != nil {
			t.Fatal(err)
		}
		close(g.release)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.sum.CollectedChunks != 50 || res.sum.Deleted != 0 || res.sum.Refused != 50 || res.sum.Queued != 50 {
			t.Fatalf("collection under a new hold = %+v", res.sum)
		}
		if got := k.keys("m/m/"); len(got) != 50 {
			t.Fatalf("objects left under the hold: %d", len(got))
		}
		for _, key := range keys {
			if held, err := k.b.LegalHold(ctx, key, ""); err != nil || !held {
				t.Fatalf("%s: legal hold %v, %v", key, held, err)
			}
		}
		// The storage itself refuses: a deletion around the gateway.
		vs, err := k.b.KeyVersions(ctx, keys[0])
		if err != nil || len(vs) == 0 {
			t.Fatalf("versions of %s: %v, %v", keys[0], vs, err)
		}
		if errs := k.b.Delete(ctx, vs); !errors.Is(errs[0], blob.ErrHeld) {
			t.Fatalf("deleting a held object around the gateway: %v", errs[0])
		}
		k.hold("m", false)
		if err := hr.HoldPass(ctx, k.b, "m", nil); err != nil {
			t.Fatal(err)
		}
		sum, err := k.runner(k.b, func() time.Time { return later().Add(time.Hour) }).Pass(ctx, lifecycle.PassOptions{})
		if err != nil || sum.Deleted != 50 || sum.Queued != 0 {
			t.Fatalf("run after release = %+v, %v", sum, err)
		}
		if got := k.keys("m/m/"); len(got) != 0 {
			t.Fatalf("objects left after release: %s", strings.Join(got, " "))
		}
	})
}
