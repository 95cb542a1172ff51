// Package lifecyclebench measures issue 13's figures on the real MinIO
// (Object Lock bucket) and SQLite: a matter whose files were edited and
// deleted, purged and collected with zero retention, ends within 1% of
// what its live versions need and a 90-day policy removes nothing; and the
// time and peak heap of collecting a matter of many unreferenced chunks.
// Figures are reported, never asserted (the byte counts are: they are not
// times). `make test` runs them once at smoke size; the sizes:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/lifecycle/ -args -files 2000 -edited 1000 -deleted 500 -chunks 100000
package lifecyclebench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
)

// Smoke sizes by default; the with -args (package comment).
var (
	files     = flag.Int("files", 200, "files in the matter")
	edited    = flag.Int("edited", 100, "of them, edited -edits times")
	edits     = flag.Int("edits", 5, "edits of each edited file")
	deleted   = flag.Int("deleted", 50, "of them (the unedited ones first), deleted")
	chunkSize = flag.Int("chunk-size", 4<<10, "plaintext bytes of each file's one chunk")
	chunks    = flag.Int("chunks", 2000, "unreferenced chunks in the matter BenchmarkCollect collects")
	blobs     = flag.String("blobs", "minio", "minio (the real one, Object Lock bucket) or mem (in memory: no service needed, not the figures to quote)")
)

func TestMain(m *testing.M) { testenv.Main(m) }

func start(b *testing.B) *gatewaytest.Gateway {
	b.Helper()
	if *blobs != "minio" && *blobs != "mem" {
		b.Fatalf("-blobs %q: minio or mem", *blobs)
	}
	return gatewaytest.Start(b, gatewaytest.Options{MinIO: *blobs == "minio", Config: func(c *gateway.Config) {
		c.Lifecycle.Interval = 0 // only the runs the benchmark makes
		c.Limits.RequestsPerSecond, c.Limits.Burst = 1e9, 1<<30
	}})
}

// bucketBytes is what the matter's objects take in the bucket, every
// version of every key (what the storage keeps).
func bucketBytes(b *testing.B, g *gatewaytest.Gateway, matter string) (n, size int64) {
	b.Helper()
	err := g.Blobs.(lifecycle.Blobs).Versions(context.Background(), "m/"+matter+"/", "", func(v blob.ObjectVersion) error {
		if !v.DeleteMarker {
			n++
			size += v.Size
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n, size
}

// pass runs one lifecycle pass of matter as of two days on (past the
// grace period) and fails on any error.
func pass(b *testing.B, g *gatewaytest.Gateway, matter string) lifecycle.Summary {
	b.Helper()
	sum, err := g.Server.Lifecycle().Pass(context.Background(), lifecycle.PassOptions{Matter: matter, Now: time.Now().Add(48 * time.Hour)})
	if err != nil || len(sum.Errors) > 0 {
		b.Fatalf("lifecycle pass: %+v, %v", sum, err)
	}
	return sum
}

// retry calls f again while the gateway answers 503 (SQLite busy under
// the benchmark's parallel writers), as the agent does.
func retry(f func() error) error {
	for i := 0; ; i++ {
		err := f()
		if i == 20 || client.Code(err) != api.CodeUnavailable {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkRetention: -files files of one chunk each, -edited of them
// edited -edits times, -deleted deleted, through the gateway's API. A
// run under the firm's 90-day policy removes nothing; one with zero
// retention (the current version only, deletions purged at once) leaves
// the bucket within 1% of what the live versions need.
func BenchmarkRetention(b *testing.B) {
	if *edited+*deleted > *files {
		b.Fatalf("-edited %d and -deleted %d are more than -files %d", *edited, *deleted, *files)
	}
	for range b.N {
		b.StopTimer()
		g := start(b)
		const m = "bench-retention"
		ctx := context.Background()
		tok := g.Issuer.Token(b, authtest.Claims{Subject: "ent-bench", Username: "bench", Groups: []string{"matter-" + m + "-rw"}, Expiry: time.Now().Add(10 * time.Minute)}) // within vault.max_token_lifetime
		c := g.Client(b, tok, "BENCH")
		sealer := gatewaytest.NewSealer(b)
		live := make([]int64, *files) // bytes the current version needs; 0: deleted
		ids := make([]format.ID, *files)
		commit := func(i int, version uint64) error {
			id, sealed := sealer.Chunk(b, m, *chunkSize)
			if err := retry(func() error { return c.PutChunk(ctx, m, id.String(), sealed) }); err != nil {
				return err
			}
			man := sealer.ManifestOf(b, m, ids[i], version, id)
			if err := retry(func() error {
				_, err := c.Commit(ctx, m, ids[i].String(), int64(version-1), api.CommitRequest{Manifest: man, Chunks: []string{id.String()}})
				return err
			}); err != nil {
				return err
			}
			live[i] = int64(len(sealed) + len(man))
			return nil
		}
		t0 := time.Now()
		g4 := new(errgroup.Group)
		g4.SetLimit(4)
		for i := range *files {
			ids[i] = sealer.NewFile(b, m)
			g4.Go(func() error {
				// Edited files are the last -edited, deleted the first
				// -deleted: no file is both.
				n := uint64(1)
				if i >= *files-*edited {
					n += uint64(*edits)
				}
				for v := uint64(1); v <= n; v++ {
					if err := commit(i, v); err != nil {
						return err
					}
				}
				if i < *deleted {
					if err := retry(func() error {
						_, err := c.Delete(ctx, m, ids[i].String(), 1, sealer.TombstoneOf(b, m, ids[i], 2))
						return err
					}); err != nil {
						return err
					}
					live[i] = 0
				}
				return nil
			})
		}
		if err := g4.Wait(); err != nil {
			b.Fatal(err)
		}
		var need int64
		for _, n := range live {
			need += n
		}
		objs0, before := bucketBytes(b, g, m)
		b.Logf("matter: %d files (%d edited %d times, %d deleted) written in %.1f s: %d objects, %d bytes; live versions need %d bytes",
			*files, *edited, *edits, *deleted, time.Since(t0).Seconds(), objs0, before, need)

		b.StartTimer()
		sum := pass(b, g, m) // the firm's default: 90 days, 3 versions, 30 days
		b.StopTimer()
		if objs, after := bucketBytes(b, g, m); sum.PurgedVersions+sum.PurgedFiles+sum.CollectedChunks+sum.Orphans+sum.Deleted != 0 || after != before || objs != objs0 {
			b.Fatalf("the 90-day policy removed something: %+v; %d -> %d bytes", sum, before, after)
		}
		b.ReportMetric(sum.Seconds, "90day-s")

		st := lifecycle.StoresOf(g.Engine)
		rec := &audit.Record{Time: time.Now(), Entity: "ent-admin", User: "admin", Matter: m, Action: "admin.retention.set", Result: audit.ResultOK, Status: 200, RequestID: "bench"}
		if err := st.Retention.SetRetention(ctx, store.MatterRetention{Matter: m, Retention: store.Retention{MinVersions: 1}, Reason: "bench", SetBy: "admin", Time: time.Now()}, rec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		sum = pass(b, g, m)
		b.StopTimer()
		objs, after := bucketBytes(b, g, m)
		over := 100 * float64(after-need) / float64(need)
		b.Logf("zero retention: purged %d versions and %d deleted files, collected %d chunks, deleted %d objects (%d bytes) in %.1f s; left %d objects, %d bytes: %+.3f%% of what the live versions need",
			sum.PurgedVersions, sum.PurgedFiles, sum.CollectedChunks, sum.Deleted, sum.DeletedBytes, sum.Seconds, objs, after, over)
		if over < 0 || over > 1 {
			b.Fatalf("after purge and GC with zero retention the matter takes %d bytes, %+.3f%% of the %d its live versions need (want within 1%%)", after, over, need)
		}
		b.ReportMetric(sum.Seconds, "purge+gc-s")
		b.ReportMetric(over, "%over-live")
	}
}

// BenchmarkCollect: a matter of -chunks chunks no version references
// (their objects in MinIO, their records in SQLite), collected and deleted
// by one pass: its time and the heap it took above what was in use before.
func BenchmarkCollect(b *testing.B) {
	for range b.N {
		b.StopTimer()
		g := start(b)
		const m = "bench-gc"
		ctx := context.Background()
		puts, ok := g.Engine.(interface {
			PutChunk(context.Context, store.Chunk, *audit.Record) (bool, error)
		})
		if !ok {
			b.Fatal("the store records no chunks")
		}
		body := make([]byte, 64) // the objects' bytes are not what is measured
		sum := sha256.Sum256(body)
		t0 := time.Now()
		eg := new(errgroup.Group)
		eg.SetLimit(16)
		for range *chunks {
			eg.Go(func() error {
				var id format.ID
				rand.Read(id[:])
				key, _ := blob.ChunkKey(m, id)
				if err := g.Blobs.Create(ctx, key, bytes.NewReader(body), int64(len(body)), sum); err != nil {
					return err
				}
				rec := &audit.Record{Time: time.Now(), Entity: "ent-bench", User: "bench", Matter: m, Action: "chunk.put", Object: id.String(), Result: audit.ResultOK, Status: 201, RequestID: "bench"}
				_, err := puts.PutChunk(ctx, store.Chunk{Matter: m, ID: id, Size: int64(len(body)), Time: time.Now()}, rec)
				return err
			})
		}
		if err := eg.Wait(); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d chunks stored in %.1f s", *chunks, time.Since(t0).Seconds())

		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		b.StartTimer()
		s := pass(b, g, m)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if s.CollectedChunks != int64(*chunks) || s.Deleted != int64(*chunks) {
			b.Fatalf("collected %d chunks and deleted %d objects, want %d each: %+v", s.CollectedChunks, s.Deleted, *chunks, s)
		}
		if n, _ := bucketBytes(b, g, m); n != 0 {
			b.Fatalf("%d objects left", n)
		}
		heap := float64(peak.Load()-min(base, peak.Load())) / (1 << 20)
		b.Logf("GC of %d chunks: %.1f s (%.2f s per 1,000 objects deleted), peak heap +%.1f MiB", *chunks, s.Seconds, s.Seconds*1000/float64(*chunks), heap)
		b.ReportMetric(s.Seconds, "gc-s")
		b.ReportMetric(heap, "peak-heap-MiB")
	}
}
