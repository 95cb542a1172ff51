package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestFailover runs the production shape: three gateway replicas on one
// PostgreSQL database behind HAProxy, MinIO on four drives. Alice and bob
// keep saving files while a replica is killed with SIGKILL and started
// again, while PostgreSQL drops every connection of the replicas, and
// through a rolling restart. Afterwards every file is on all three laptops
// with the right bytes, the matter's sequence numbers have no gap and no
// duplicate, and the audit chain verifies.
func TestFailover(t *testing.T) {
	testenv.DebianTool(t, "haproxy")
	dsn := testenv.Postgres(t)
	s := newStack(t, devstack.Options{Replicas: 3, PostgresDSN: dsn, Users: []string{"alice", "bob", "carol"}})
	agents := []*devstack.Agent{s.Agents["alice"], s.Agents["bob"], s.Agents["carol"]}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Two writers save a file every 100 ms until told to stop.
	var mu sync.Mutex
	saved := map[string][]byte{}
	writers := func(phase string, during func()) {
		t.Helper()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, a := range agents[:2] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					rel := fmt.Sprintf("%s/%s-%03d.txt", phase, a.User, i)
					data := []byte(fmt.Sprintf("%s wrote %s at %s", a.User, rel, time.Now()))
					write(t, a.Path(rel), data)
					mu.Lock()
					saved[rel] = data
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Second)
		during()
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
	}

	writers("kill", func() {
		s.KillReplica(0)
		time.Sleep(2 * time.Second) // HAProxy marks it down meanwhile
		if err := s.StartReplica(0); err != nil {
			t.Fatal(err)
		}
	})
	writers("postgres", func() {
		// What a PostgreSQL restart does to the replicas: every
		// connection dropped at once (the server itself is shared by
		// other tests, so it is not restarted here; bench/load does).
		conn, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		db := dsn[strings.LastIndex(dsn, "/")+1:]
		if i := strings.IndexByte(db, '?'); i >= 0 {
			db = db[:i]
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		t.Logf("PostgreSQL dropped %d connections of the replicas", n)
	})
	writers("rolling", func() {
		for i := range s.Replicas() {
			s.StopReplica(i)
			if err := s.StartReplica(i); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Logf("%d files saved during the faults", len(saved))

	for rel, data := range saved {
		for _, a := range agents {
			eventually(t, 3*time.Minute, rel+" at "+a.User, hasContent(a.Path(rel), data))
		}
	}
	for _, a := range agents {
		if cs := conflictCopiesUnder(t, a); len(cs) > 0 {
			t.Errorf("%s has conflict copies after the faults (a retried commit counted twice?): %v", a.User, cs)
		}
	}

	// Sequence numbers: one per version, none skipped, none repeated.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var count, distinct, lo, hi int64
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM versions").Scan(&count, &distinct, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if count < int64(len(saved)) || distinct != count || hi-lo+1 != count {
		t.Fatalf("versions: %d rows, %d distinct sequence numbers from %d to %d; want at least %d, no gap, no duplicate", count, distinct, lo, hi, len(saved))
	}

	out, err := s.Admin(ctx, "audit", "verify")
	if err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after the faults: %v\n%s", err, out)
	}
}

// conflictCopiesUnder lists every conflict copy in a's matter folder.
func conflictCopiesUnder(t *testing.T, a *devstack.Agent) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(a.Folder, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), " (conflict, ") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
