package sqlite_test

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/gateway/store/storetest"
)

var placeholder = regexp.MustCompile(`\$(\d+)`)

func harness() storetest.Harness {
	exec := func(t *testing.T, s store.Store, query string, args ...any) {
		t.Helper()
		// SQLite's numbered placeholders are ?N.
		if _, err := s.(*sqlite.Store).DB().Exec(placeholder.ReplaceAllString(query, "?$1"), args...); err != nil {
			t.Fatalf("exec %q: %v", query, err)
		}
	}
	return storetest.Harness{
		Open: func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gateway.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Exec: exec,
		BreakAudit: func(t *testing.T, s store.Store) {
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
