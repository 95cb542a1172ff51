// Package auditbench measures audit verification: a log of -records
// records (a checkpoint every -every records, each also copied to an S3
// bucket under Object Lock when MinIO is available) verified from the
// database, in constant memory, reporting records/s and the peak heap.
// Figures are reported, never asserted (docs/PERFORMANCE.md):
//
//	go test -run '^$' -bench Verify -benchtime 1x ./bench/audit/ -args -records 10000000
//
// The log is written straight into the database in large transactions
// (writing it through the gateway would take hours); it is the same chain
// and the same checkpoints the gateway writes.
package auditbench

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
)

var (
	records = flag.Int("records", 20_000, "audit records in the log to verify")
	every   = flag.Int("every", 6_000, "records between checkpoints (a minute of a busy gateway)")
	keep    = flag.String("sqlite-db", "", "keep the generated SQLite log in this file and reuse it when it holds -records records")
)

func TestMain(m *testing.M) { testenv.Main(m) }

// logWriter appends a generated chain to a database.
type logWriter struct {
	key     ed25519.PrivateKey
	prevSeq int64
	prev    audit.Hash
	lastCp  *audit.Checkpoint
	clock   time.Time
	cps     []audit.Checkpoint
}

func (w *logWriter) next(i int) audit.Record {
	w.clock = w.clock.Add(10 * time.Millisecond)
	r := audit.Record{Time: w.clock, Decided: w.clock.Add(time.Millisecond), Entity: fmt.Sprintf("ent-%d", i%50), User: fmt.Sprintf("user-%d", i%50),
		Device: "LAPTOP-7", Source: "10.0.0.7", Matter: fmt.Sprintf("2026-%04d", i%300), Action: "chunk.get",
		Object: fmt.Sprintf("%064x", i), Result: "ok", Status: 200, Bytes: 1 << 20, RequestID: fmt.Sprintf("%024x", i)}
	r.Link(w.prevSeq, w.prev)
	w.prevSeq, w.prev = r.Seq, r.Hash
	if r.Seq%int64(*every) == 0 {
		c := audit.Sign(w.key, r.Seq, r.Hash, w.clock, w.lastCp)
		w.lastCp = &c
		w.cps = append(w.cps, c)
	}
	return r
}

const insertRecord = `INSERT INTO audit_records (seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

const insertCheckpoint = `INSERT INTO audit_checkpoints (seq, key_id, hash, time_us, signature, version, prev_seq, prev) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func values(r *audit.Record) []any {
	return []any{r.Seq, r.Time.UnixMicro(), r.Entity, r.User, r.Device, r.Source, r.Matter, r.Action, r.Object, r.Result, r.Status, r.Bytes, r.RequestID, r.PrevHash[:], r.Hash[:], r.Decided.UnixMicro()}
}

func cpValues(c *audit.Checkpoint) []any {
	return []any{c.Seq, c.KeyID, c.Hash[:], c.Time.UnixMicro(), c.Signature, c.Version, c.PrevSeq, c.Prev[:]}
}

// fillSQLite writes n records in transactions of 50,000, 500 rows a
// statement.
func fillSQLite(b *testing.B, db *sql.DB, w *logWriter, n int) {
	ctx := context.Background()
	const perStmt = 500
	var q strings.Builder
	q.WriteString(`INSERT INTO audit_records (seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us) VALUES `)
	for j := range perStmt {
		if j > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	for i := 0; i < n; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.PrepareContext(ctx, q.String())
		if err != nil {
			b.Fatal(err)
		}
		ncp := len(w.cps)
		for j := 0; j < 50_000/perStmt && i < n; j++ {
			if n-i < perStmt {
				for ; i < n; i++ {
					r := w.next(i)
					if _, err := tx.ExecContext(ctx, insertRecord, values(&r)...); err != nil {
						b.Fatal(err)
					}
				}
				break
			}
			args := make([]any, 0, perStmt*16)
			for range perStmt {
				r := w.next(i)
				args = append(args, values(&r)...)
				i++
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range w.cps[ncp:] {
			if _, err := tx.ExecContext(ctx, insertCheckpoint, cpValues(&c)...); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// fillPostgres writes n records with COPY, 100,000 at a time.
func fillPostgres(b *testing.B, s *postgres.Store, w *logWriter, n int) {
	ctx := context.Background()
	cols := []string{"seq", "time_us", "entity", "username", "device", "source", "matter", "action", "object", "result", "status", "bytes", "request_id", "prev_hash", "hash", "decided_us"}
	for i := 0; i < n; {
		var rows [][]any
		ncp := len(w.cps)
		for j := 0; j < 100_000 && i < n; j, i = j+1, i+1 {
			r := w.next(i)
			rows = append(rows, values(&r))
		}
		if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{"audit_records"}, cols, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		for _, c := range w.cps[ncp:] {
			if _, err := s.Pool().Exec(ctx, insertCheckpoint, cpValues(&c)...); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, w.prevSeq, w.prev[:]); err != nil {
		b.Fatal(err)
	}
}

// witnesses copies every checkpoint to a new Object Lock bucket on MinIO
// (none under -short or without MinIO).
func witnesses(b *testing.B, cps []audit.Checkpoint) []audit.Witness {
	if testing.Short() {
		return nil
	}
	m := testenv.MinIO(b)
	name := testenv.RandomName("t-lock-")
	if err := m.Client(b).MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		b.Fatal(err)
	}
	objs, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: name, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	s3 := anchor.NewS3(objs, name, "audit/checkpoints/", time.Hour)
	for _, c := range cps {
		if err := s3.Put(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	return []audit.Witness{s3}
}

// peakHeap samples the heap in use until stop is called, and returns the
// peak.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func BenchmarkVerify(b *testing.B) {
	n := *records
	if testing.Short() {
		n = min(n, 5_000)
	}
	// A fixed key, so a kept database (-sqlite-db) verifies in later runs.
	seed := sha256.Sum256([]byte("mattersync audit benchmark key"))
	key := ed25519.NewKeyFromSeed(seed[:])
	keys := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			w := &logWriter{key: key, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			var src audit.Source
			fillStart := time.Now()
			switch engine {
			case "sqlite":
				path := *keep
				if path == "" {
					path = filepath.Join(b.TempDir(), "gateway.db")
				}
				s, err := sqlite.Open(ctx, path)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if head, _, err := s.AuditHead(ctx); err != nil || head != int64(n) {
					if head != 0 {
						b.Fatalf("%s holds %d records, not %d: remove it", path, head, n)
					}
					fillSQLite(b, s.DB(), w, n)
				} else {
					// Reused: the checkpoints (for the anchors) and the key
					// are the stored ones.
					cps, err := s.Checkpoints(ctx)
					if err != nil {
						b.Fatal(err)
					}
					w.cps = cps
				}
				src = s
			case "postgres":
				if testing.Short() {
					b.Skip("PostgreSQL: not under -short")
				}
				s, err := postgres.Open(ctx, testenv.Postgres(b), postgres.Options{MaxConns: 4})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				fillPostgres(b, s, w, n)
				src = s
			}
			b.Logf("%s: wrote %d records and %d checkpoints in %s", engine, n, len(w.cps), time.Since(fillStart).Round(time.Second))
			wits := witnesses(b, w.cps)
			runtime.GC()
			b.ResetTimer()
			for range b.N {
				stop := peakHeap()
				start := time.Now()
				rep, err := audit.Verify(ctx, src, keys, audit.VerifyOptions{Witnesses: wits})
				d := time.Since(start)
				peak := stop()
				if err != nil || !rep.OK || rep.Records != int64(n) {
					b.Fatalf("verify: %+v %v", rep, err)
				}
				b.ReportMetric(float64(n)/d.Seconds(), "records/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				b.Logf("%s: verified %d records, %d checkpoints, %d anchors in %s (%.0f records/s), peak heap %.1f MiB",
					engine, rep.Records, rep.Checkpoints, anchorsChecked(rep), d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(peak)/(1<<20))
			}
		})
	}
}

func anchorsChecked(rep audit.Report) int64 {
	if rep.Anchors == nil {
		return 0
	}
	return rep.Anchors.Checked
}
