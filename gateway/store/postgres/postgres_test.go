package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/storetest"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func harness() storetest.Harness {
	exec := func(t *testing.T, s gateway.Stores, query string, args ...any) {
		t.Helper()
		if _, err := s.Audit.(*postgres.Store).Pool().Exec(context.Background(), query, args...); err != nil {
			t.Fatalf("exec %q: %v", query, err)
		}
	}
	return storetest.Harness{
		Open: func(t *testing.T) gateway.Stores { return gateway.StoresOf(open(t, testenv.Postgres(t))) },
		Exec: exec,
		BreakAudit: func(t *testing.T, s gateway.Stores) {
			exec(t, s, `CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit disabled by test'; END $$`)
			exec(t, s, `CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_broken()`)
		},
	}
}

func TestContract(t *testing.T) { storetest.Run(t, harness()) }

// TestTwoReplicas runs two stores (two pools, as two gateway processes
// would have) on one database: racing commits to one file produce one
// winner, and racing commits to many files gapless sequence numbers.
func TestTwoReplicas(t *testing.T) {
	dsn := testenv.Postgres(t)
	var wg sync.WaitGroup
	replicas := make([]*postgres.Store, 2)
	for i := range replicas {
		wg.Add(1)
		go func() { defer wg.Done(); replicas[i] = open(t, dsn) }() // concurrent migrations
	}
	wg.Wait()
	if replicas[0] == nil || replicas[1] == nil {
		t.FailNow()
	}
	ctx := context.Background()
	f := storetest.RandomID(t)
	if _, err := replicas[0].Commit(ctx, store.Commit{Matter: "m", File: f, Time: time.Now()}, nil, storetest.Rec("file.commit", "m")); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		base := int64(round + 1)
		var wins, mismatches int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, s := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Commit(ctx, store.Commit{Matter: "m", File: f, Base: base, Time: time.Now()}, nil, storetest.Rec("file.commit", "m"))
				mu.Lock()
				defer mu.Unlock()
				var m *store.VersionMismatchError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &m) && m.Current == base+1:
					mismatches++
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || mismatches != 1 {
			t.Fatalf("round %d: %d winners and %d mismatches, want 1 and 1", round, wins, mismatches)
		}
	}
	var seqs []int64
	var mu sync.Mutex
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := replicas[i%2].Commit(ctx, store.Commit{Matter: "g", File: storetest.RandomID(t), Chunks: []format.ID{}, Time: time.Now()}, nil, storetest.Rec("file.commit", "g"))
			if err != nil {
				t.Errorf("commit: %v", err)
				return
			}
			mu.Lock()
			seqs = append(seqs, v.Seq)
			mu.Unlock()
		}()
	}
	wg.Wait()
	storetest.CheckGapless(t, seqs)
	if rep, err := audit.Verify(ctx, replicas[1], nil, audit.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("audit chain written by two replicas: %+v, %v", rep, err)
	}
}

// TestMigrateEpochs opens a database written at schema 1 (before epochs):
// its matters and versions get epoch 0, which refuses nothing.
func TestMigrateEpochs(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	f := storetest.RandomID(t)
	storetest.SeedSchema1(t, func(q string) error { _, err := conn.Exec(ctx, q); return err }, f, func(hex string) string { return `'\x` + hex + `'` })
	conn.Close(ctx)
	s := open(t, dsn)
	storetest.CheckEpochMigration(ctx, t, gateway.StoresOf(s), f)
}

// TestHoldReadInsideCommit: a commit's manifest write reads the legal hold
// (gateway heldBlobs) while the commit's transaction holds a connection.
// With every connection of the pool held by such commits, that read must
// not wait for the pool: the replica stalled (PERFORMANCE.md, 200 agents).
func TestHoldReadInsideCommit(t *testing.T) {
	dsn := testenv.Postgres(t)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 6 // three times the pool
	errs := make([]error, n)
	var inside sync.WaitGroup
	inside.Add(2) // both pool connections held before any hold is read
	var once [n]sync.Once
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			write := func(ctx context.Context, v int64) (string, error) {
				if i < 2 {
					once[i].Do(inside.Done)
					inside.Wait()
				}
				if _, err := s.Hold(ctx, "m"); err != nil {
					return "", err
				}
				return "k", nil
			}
			_, errs[i] = s.Commit(ctx, store.Commit{Matter: "m", File: storetest.RandomID(t), Time: time.Now()}, write, storetest.Rec("file.commit", "m"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d (a hold read inside it): %v", i, err)
		}
	}
}

// TestListen: a store's Listen hears, after its resync, the deny-list
// changes and reissue stamps of every writer and the commits of other
// stores (with their matter), not its own commits, and nothing of a
// transaction rolled back.
func TestListen(t *testing.T) {
	dsn := testenv.Postgres(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pushes := make(chan store.Push, 100)
	done := make(chan error, 1)
	go func() { done <- b.Listen(ctx, func(p store.Push) { pushes <- p }) }()
	next := func(what string) store.Push {
		t.Helper()
		select {
		case p := <-pushes:
			return p
		case err := <-done:
			t.Fatalf("%s: Listen ended: %v", what, err)
		case <-time.After(time.Minute): // a hung test, not a latency bound
			t.Fatalf("%s: nothing pushed", what)
		}
		return store.Push{}
	}
	if p := next("resync"); p.Kind != store.PushResync {
		t.Fatalf("first push %+v, want a resync", p)
	}
	// b's own commit first: it must not be pushed, so the next push is
	// a's deny.
	if _, err := b.Commit(ctx, store.Commit{Matter: "own", File: storetest.RandomID(t), Time: time.Now()}, nil, storetest.Rec("file.commit", "own")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.AddDeny(ctx, store.DenyEntry{Entity: "e1", Name: "n", Time: time.Now()}, storetest.Rec("admin.deny", "")); err != nil {
		t.Fatal(err)
	}
	if p := next("deny"); p.Kind != store.PushDeny {
		t.Fatalf("after b's own commit and a's deny: %+v, want the deny alone", p)
	}
	// A commit whose manifest write fails rolls back: no push.
	fail := func(context.Context, int64) (string, error) { return "", errors.New("blob write failed") }
	if _, err := a.Commit(ctx, store.Commit{Matter: "rolledback", File: storetest.RandomID(t), Time: time.Now()}, fail, storetest.Rec("file.commit", "rolledback")); err == nil {
		t.Fatal("a commit whose manifest write failed succeeded")
	}
	if _, err := a.Commit(ctx, store.Commit{Matter: "m-1", File: storetest.RandomID(t), Time: time.Now()}, nil, storetest.Rec("file.commit", "m-1")); err != nil {
		t.Fatal(err)
	}
	if p := next("commit"); p.Kind != store.PushCommit || p.Matter != "m-1" {
		t.Fatalf("after a's commit to m-1: %+v", p)
	}
	if _, _, err := b.SetTokenFloor(ctx, store.TokenFloor{Entity: "e2", NotBefore: time.Now(), Time: time.Now()}, storetest.Rec("admin.reissue", "")); err != nil {
		t.Fatal(err)
	}
	if p := next("token floor"); p.Kind != store.PushDeny {
		t.Fatalf("after b's reissue stamp: %+v, want a deny push", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Listen after its context ended: %v", err)
	}
}
