package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/gateway/store/storetest"
)

var placeholder = regexp.MustCompile(`\$(\d+)`)

func harness() storetest.Harness {
	exec := func(t *testing.T, s gateway.Stores, query string, args ...any) {
		t.Helper()
		// SQLite's numbered placeholders are ?N.
		if _, err := s.Audit.(*sqlite.Store).DB().Exec(placeholder.ReplaceAllString(query, "?$1"), args...); err != nil {
			t.Fatalf("exec %q: %v", query, err)
		}
	}
	return storetest.Harness{
		Open: func(t *testing.T) gateway.Stores {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gateway.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return gateway.StoresOf(s)
		},
		Exec: exec,
		BreakAudit: func(t *testing.T, s gateway.Stores) {
			exec(t, s, `CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'audit disabled by test'); END`)
		},
	}
}

func TestContract(t *testing.T) { storetest.Run(t, harness()) }

func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := sqlite.Open(context.Background(), path); err == nil {
		s2.Close()
		t.Fatal("a second gateway opened the same SQLite database")
	}
	ro, err := sqlite.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenReadOnly next to a running gateway: %v", err)
	}
	defer ro.Close()
	if _, _, err := ro.AuditHead(context.Background()); err != nil {
		t.Fatalf("read-only AuditHead: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, storetest.Rec("x", "m")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer s.Close()
	if seq, _, err := s.AuditHead(ctx); err != nil || seq != 1 {
		t.Fatalf("AuditHead after reopen = %d, %v", seq, err)
	}
}

// TestMigrateEpochs opens a database written at schema 1 (before epochs):
// its matters and versions get epoch 0, which refuses nothing.
func TestMigrateEpochs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gateway.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	f := storetest.RandomID(t)
	storetest.SeedSchema1(t, func(q string) error { _, err := db.Exec(q); return err }, f, func(hex string) string { return "x'" + hex + "'" })
	db.Close()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open schema 1: %v", err)
	}
	defer s.Close()
	storetest.CheckEpochMigration(ctx, t, gateway.StoresOf(s), f)
}

// BenchmarkCommitBatch: the store's side of one batch of 100 small files
// (a chunk and a commit each, the manifest write a no-op), as a first sync
// sends them (issue 22). It reports; it asserts nothing.
//
//	go test -run '^$' -bench CommitBatch -benchtime 20x ./gateway/store/sqlite
func BenchmarkCommitBatch(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "gateway.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const files = 100
	b.ResetTimer()
	for range b.N {
		bt := &store.Batch{Matter: "m"}
		for range files {
			chunk, file := storetest.RandomID(b), storetest.RandomID(b)
			bt.Chunks = append(bt.Chunks, store.BatchChunk{Chunk: store.Chunk{Matter: "m", ID: chunk, Size: 900, Time: time.Now()},
				Rec: storetest.Rec("chunk.put", "m"), Stored: true})
			bt.Commits = append(bt.Commits, store.BatchCommit{
				Commit: store.Commit{Matter: "m", File: file, Size: 300, Chunks: []format.ID{chunk}, Entity: "e-1", User: "alice", Device: "d", Time: time.Now()},
				Write:  func(context.Context, int64) (string, error) { return "k/" + file.String(), nil },
				Rec:    storetest.Rec("file.commit", "m"),
			})
		}
		if err := s.CommitBatch(ctx, bt); err != nil {
			b.Fatal(err)
		}
		for _, c := range bt.Commits {
			if c.Err != nil {
				b.Fatal(c.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*files)/b.Elapsed().Seconds(), "files/s")
}
