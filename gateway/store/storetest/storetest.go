// Package storetest is the contract every metadata store implementation
// passes: the same table of behaviours, run against SQLite and PostgreSQL.
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// Harness opens stores for the suite.
type Harness struct {
	// Open returns a fresh, empty store, every role played (Run checks),
	// closed when t ends.
	Open func(t *testing.T) gateway.Stores
	// Exec runs a statement against the store's database directly, to
	// tamper with it or inject faults. Placeholders are $1, $2, ...
	Exec func(t *testing.T, s gateway.Stores, query string, args ...any)
	// BreakAudit makes every later audit append fail (e.g. a trigger
	// that raises on insert).
	BreakAudit func(t *testing.T, s gateway.Stores)
}

// RandomID returns a random chunk or file ID.
func RandomID(t testing.TB) format.ID {
	var id format.ID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	return id
}

// Rec returns an audit record for a test request.
func Rec(action, matter string) *audit.Record {
	return &audit.Record{Time: time.Now(), Entity: "e-1", User: "alice", Device: "LAPTOP-7", Source: "127.0.0.1",
		Matter: matter, Action: action, Result: audit.ResultOK, Status: 200, RequestID: "req"}
}

// SeedSchema1 builds, with exec, a database at schema 1 (before epochs):
// the test package's migrations/0001_init.sql, recorded as applied, and
// matter "m" holding file f at version 2, a tombstone (the database
// CheckEpochMigration expects). bytes spells a byte string, given in hex,
// in the engine's SQL.
func SeedSchema1(t *testing.T, exec func(query string) error, f format.ID, bytes func(hex string) string) {
	t.Helper()
	schema1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	file := bytes(f.String())
	for _, q := range []string{
		string(schema1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO matters (id, seq) VALUES ('m', 2)`,
		`INSERT INTO files (matter, id, head, deleted) VALUES ('m', ` + file + `, 2, true)`,
		`INSERT INTO versions (matter, file, version, seq, deleted, size, entity, device, created_us) VALUES
			('m', ` + file + `, 1, 1, false, 300, 'e', 'd', 1), ('m', ` + file + `, 2, 2, true, 0, 'e', 'd', 2)`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
}

// CheckEpochMigration checks a store migrated from schema 1 (before
// epochs) that held matter "m" with file f at version 2, a tombstone: the
// matter and the old versions read epoch 0, and a commit records its epoch
// without raising the matter's.
func CheckEpochMigration(ctx context.Context, t *testing.T, s gateway.Stores, f format.ID) {
	t.Helper()
	if e, err := s.Epochs.Epoch(ctx, "m"); err != nil || e != 0 {
		t.Fatalf("Epoch after migration = %d, %v", e, err)
	}
	if v, err := s.Files.Version(ctx, "m", f, 2); err != nil || !v.Deleted || v.Epoch != 0 || v.Size != 0 {
		t.Fatalf("old tombstone = %+v, %v", v, err)
	}
	v, err := s.Files.Commit(ctx, store.Commit{Matter: "m", File: f, Base: 2, Epoch: 2, Size: 400, Time: time.Now()}, nil, Rec("file.commit", "m"))
	if err != nil || v.Version != 3 || v.Seq != 3 {
		t.Fatalf("commit after migration = %+v, %v", v, err)
	}
	if v.Epoch != 2 {
		t.Fatalf("the version's epoch = %d, want 2", v.Epoch)
	}
	if e, _ := s.Epochs.Epoch(ctx, "m"); e != 0 {
		t.Fatalf("a commit raised the matter's epoch to %d; only the admin does", e)
	}
}

// Run runs the contract suite.
func Run(t *testing.T, h Harness) {
	open := h.Open
	h.Open = func(t *testing.T) gateway.Stores {
		s := open(t)
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Chunks", testChunks},
		{"ChunkReplacement", testChunkReplacement},
		{"CommitSequence", testCommitSequence},
		{"ChunkListSum", testChunkListSum},
		{"CommitMissingChunks", testCommitMissingChunks},
		{"CommitManyChunks", testCommitManyChunks},
		{"CommitWriteFailure", testCommitWriteFailure},
		{"DeleteAndHold", testDeleteAndHold},
		{"ClosedRefusesCommits", testClosedRefusesCommits},
		{"HoldHistory", testHoldHistory},
		{"MembershipHistory", testMembershipHistory},
		{"Epochs", testEpochs},
		{"EpochNotRaisedByCommit", testEpochNotRaisedByCommit},
		{"EpochRaceWithCommits", testEpochRace},
		{"VersionsAndChanges", testVersionsAndChanges},
		{"ConcurrentCommitsOneFile", testConcurrentCommitsOneFile},
		{"ConcurrentCommitsGapless", testConcurrentCommitsGapless},
		{"DenyList", testDenyList},
		{"TokenFloors", testTokenFloors},
		{"Usage", testUsage},
		{"AuditChain", testAuditChain},
		{"AuditTamper", testAuditTamper},
		{"AuditCheckpointChain", testAuditCheckpointChain},
		{"AuditCheckpointFreshness", testAuditCheckpointFreshness},
		{"AuditFailureChangesNothing", testAuditFailure},
		{"Witness", testWitness},
		{"Devices", testDevices},
		{"Presence", testPresence},
	}
	tests = append(tests, lifecycleTests...)
	tests = append(tests, batchTests...)
	tests = append(tests, shareTests...)
	tests = append(tests, requestTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func auditCount(t *testing.T, s gateway.Stores) int64 {
	t.Helper()
	seq, _, err := s.Audit.AuditHead(ctx(t))
	if err != nil {
		t.Fatalf("AuditHead: %v", err)
	}
	return seq
}

func putChunk(t *testing.T, s gateway.Stores, matter string, id format.ID, size int64) {
	t.Helper()
	if _, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: matter, ID: id, Size: size, Time: time.Now()}, Rec("chunk.put", matter)); err != nil {
		t.Fatalf("PutChunk: %v", err)
	}
}

func commit(t *testing.T, s gateway.Stores, c store.Commit) (store.Version, error) {
	t.Helper()
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	return s.Files.Commit(ctx(t), c, nil, Rec("file.commit", c.Matter))
}

func mustCommit(t *testing.T, s gateway.Stores, c store.Commit) store.Version {
	t.Helper()
	v, err := commit(t, s, c)
	if err != nil {
		t.Fatalf("Commit(base %d): %v", c.Base, err)
	}
	return v
}

func wantMismatch(t *testing.T, err error, current int64) {
	t.Helper()
	var m *store.VersionMismatchError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want VersionMismatchError", err)
	}
	if m.Current != current {
		t.Fatalf("mismatch current = %d, want %d", m.Current, current)
	}
}

func testChunks(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b, c := RandomID(t), RandomID(t), RandomID(t)
	missing, err := s.Chunks.MissingChunks(ctx(t), "m1", []format.ID{a, b, c})
	if err != nil || !slices.Equal(missing, []format.ID{a, b, c}) {
		t.Fatalf("MissingChunks on empty store = %v, %v", missing, err)
	}
	if _, err := s.Chunks.Chunk(ctx(t), "m1", a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Chunk of unknown = %v, want ErrNotFound", err)
	}
	before := auditCount(t, s)
	created, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m1", ID: a, Size: 100, Time: time.Now()}, Rec("chunk.put", "m1"))
	if err != nil || !created {
		t.Fatalf("PutChunk = %v, %v; want created", created, err)
	}
	created, err = s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m1", ID: a, Size: 999, Time: time.Now()}, Rec("chunk.put", "m1"))
	if err != nil || created {
		t.Fatalf("PutChunk again = %v, %v; want not created", created, err)
	}
	if got := auditCount(t, s); got != before+2 {
		t.Fatalf("audit records = %d, want %d (one per PutChunk)", got, before+2)
	}
	ch, err := s.Chunks.Chunk(ctx(t), "m1", a)
	if err != nil || ch.Size != 100 {
		t.Fatalf("Chunk = %+v, %v; want size 100 (the first)", ch, err)
	}
	missing, err = s.Chunks.MissingChunks(ctx(t), "m1", []format.ID{c, a, b})
	if err != nil || !slices.Equal(missing, []format.ID{c, b}) {
		t.Fatalf("MissingChunks = %v, %v; want [c b]", missing, err)
	}
	// Chunks belong to their matter.
	missing, err = s.Chunks.MissingChunks(ctx(t), "m2", []format.ID{a})
	if err != nil || len(missing) != 1 {
		t.Fatalf("MissingChunks in other matter = %v, %v; want a missing", missing, err)
	}
	if _, err := s.Chunks.Chunk(ctx(t), "m2", a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Chunk in other matter = %v, want ErrNotFound", err)
	}
	// A large batch.
	many := make([]format.ID, 1200)
	for i := range many {
		many[i] = RandomID(t)
	}
	many[700] = a
	missing, err = s.Chunks.MissingChunks(ctx(t), "m1", many)
	if err != nil || len(missing) != 1199 {
		t.Fatalf("MissingChunks(1200) = %d, %v; want 1199", len(missing), err)
	}
}

func testCommitSequence(t *testing.T, h Harness) {
	s := h.Open(t)
	f := RandomID(t)
	v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 0, Size: 10, Entity: "e-1", User: "alice", Device: "d"})
	if v.Version != 1 || v.Seq != 1 {
		t.Fatalf("first commit = v%d seq %d, want v1 seq 1", v.Version, v.Seq)
	}
	_, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 0})
	wantMismatch(t, err, 1)
	v = mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Size: 20})
	if v.Version != 2 || v.Seq != 2 {
		t.Fatalf("second commit = v%d seq %d, want v2 seq 2", v.Version, v.Seq)
	}
	_, err = commit(t, s, store.Commit{Matter: "m", File: f, Base: 1})
	wantMismatch(t, err, 2)
	_, err = commit(t, s, store.Commit{Matter: "m", File: f, Base: 7})
	wantMismatch(t, err, 2)
	_, err = commit(t, s, store.Commit{Matter: "m", File: RandomID(t), Base: 1})
	wantMismatch(t, err, 0)
	// Another matter has its own sequence.
	v = mustCommit(t, s, store.Commit{Matter: "other", File: f, Base: 0})
	if v.Version != 1 || v.Seq != 1 {
		t.Fatalf("other matter = v%d seq %d, want v1 seq 1", v.Version, v.Seq)
	}
	head, err := s.Files.Version(ctx(t), "m", f, 0)
	if err != nil || head.Version != 2 || head.Size != 20 || head.Deleted {
		t.Fatalf("head = %+v, %v", head, err)
	}
	old, err := s.Files.Version(ctx(t), "m", f, 1)
	if err != nil || old.Size != 10 || old.Entity != "e-1" || old.User != "alice" || old.Device != "d" {
		t.Fatalf("v1 = %+v, %v", old, err)
	}
	if _, err := s.Files.Version(ctx(t), "m", f, 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("v3 = %v, want ErrNotFound", err)
	}
	if _, err := s.Files.Version(ctx(t), "m", RandomID(t), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown file = %v, want ErrNotFound", err)
	}
}

func testCommitMissingChunks(t *testing.T, h Harness) {
	s := h.Open(t)
	have, gone1, gone2 := RandomID(t), RandomID(t), RandomID(t)
	putChunk(t, s, "m", have, 5)
	putChunk(t, s, "elsewhere", gone2, 5) // another matter's chunk does not count
	f := RandomID(t)
	before := auditCount(t, s)
	called := false
	_, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Chunks: []format.ID{have, gone1, have, gone2}, Time: time.Now()},
		func(context.Context, int64) (string, error) { called = true; return "k", nil }, Rec("file.commit", "m"))
	var me *store.MissingChunksError
	if !errors.As(err, &me) || !slices.Equal(me.IDs, []format.ID{gone1, gone2}) {
		t.Fatalf("err = %v, want MissingChunksError [gone1 gone2]", err)
	}
	if called {
		t.Fatal("write was called for a refused commit")
	}
	if _, err := s.Files.Version(ctx(t), "m", f, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused commit left a version: %v", err)
	}
	if got := auditCount(t, s); got != before {
		t.Fatalf("refused commit appended %d audit records", got-before)
	}
	putChunk(t, s, "m", gone1, 5)
	putChunk(t, s, "m", gone2, 5)
	var wrote int64
	v, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Chunks: []format.ID{have, gone1, have, gone2}, Time: time.Now()},
		func(_ context.Context, version int64) (string, error) {
			wrote = version
			return "m/m/v/x/1.attempt", nil
		}, Rec("file.commit", "m"))
	if err != nil || v.Version != 1 || wrote != 1 || v.ManifestKey != "m/m/v/x/1.attempt" {
		t.Fatalf("commit = %+v, %v, wrote v%d", v, err, wrote)
	}
	// The key the write returned is recorded with the version.
	for _, get := range []func() (store.Version, error){
		func() (store.Version, error) { return s.Files.Version(ctx(t), "m", f, 1) },
		func() (store.Version, error) { vs, err := s.Files.Versions(ctx(t), "m", f, 0, 1); return vs[0], err },
		func() (store.Version, error) {
			vs, _, err := s.Files.Changes(ctx(t), "m", v.Seq-1, 1)
			return vs[0], err
		},
	} {
		if got, err := get(); err != nil || got.ManifestKey != "m/m/v/x/1.attempt" {
			t.Fatalf("stored version %+v, %v", got, err)
		}
	}
}

// testCommitManyChunks: a commit may reference more chunks than an engine
// takes in one statement; the missing ones are still named, in order.
func testCommitManyChunks(t *testing.T, h Harness) {
	s := h.Open(t)
	ids := make([]format.ID, 1100)
	for i := range ids {
		ids[i] = RandomID(t)
		if i != 1050 && i != 3 {
			h.Exec(t, s, `INSERT INTO chunks (matter, id, size, created_us) VALUES ($1, $2, 1, 0)`, "m", ids[i][:])
		}
	}
	refs := append(slices.Clone(ids), ids[:600]...) // repeats are allowed
	f := RandomID(t)
	_, err := commit(t, s, store.Commit{Matter: "m", File: f, Chunks: refs})
	var me *store.MissingChunksError
	if !errors.As(err, &me) || !slices.Equal(me.IDs, []format.ID{ids[3], ids[1050]}) {
		t.Fatalf("err = %v, want MissingChunksError [3 1050]", err)
	}
	putChunk(t, s, "m", ids[3], 1)
	putChunk(t, s, "m", ids[1050], 1)
	if v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Chunks: refs}); v.Version != 1 {
		t.Fatalf("commit of %d references = v%d, want v1", len(refs), v.Version)
	}
	if v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Chunks: ids[500:]}); v.Version != 2 {
		t.Fatalf("second commit = v%d, want v2", v.Version)
	}
}

func testCommitWriteFailure(t *testing.T, h Harness) {
	s := h.Open(t)
	f := RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f})
	before := auditCount(t, s)
	boom := errors.New("blob store down")
	_, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Base: 1, Time: time.Now()},
		func(context.Context, int64) (string, error) { return "", boom }, Rec("file.commit", "m"))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the write error", err)
	}
	head, err := s.Files.Version(ctx(t), "m", f, 0)
	if err != nil || head.Version != 1 {
		t.Fatalf("head after failed write = %+v, %v; want v1", head, err)
	}
	if got := auditCount(t, s); got != before {
		t.Fatalf("failed commit appended %d audit records", got-before)
	}
	v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1})
	if v.Seq != 2 {
		t.Fatalf("seq after failed commit = %d, want 2 (no gap)", v.Seq)
	}
}

// A commit that reaches the store after the matter was closed (a request
// in flight when IT closed it) is refused in the commit's own
// transaction, with no version, sequence number or audit record.
func testClosedRefusesCommits(t *testing.T, h Harness) {
	s := h.Open(t)
	f := RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f})
	if _, _, err := s.Closed.CloseMatter(ctx(t), "m", "it", "file closed", time.Now(), Rec("admin.close", "m")); err != nil {
		t.Fatalf("CloseMatter: %v", err)
	}
	before := auditCount(t, s)
	for _, c := range []store.Commit{{Matter: "m", File: f, Base: 1}, {Matter: "m", File: f, Base: 1, Deleted: true}, {Matter: "m", File: RandomID(t)}} {
		if _, err := commit(t, s, c); !errors.Is(err, store.ErrMatterClosed) {
			t.Fatalf("commit %+v to a closed matter = %v, want ErrMatterClosed", c, err)
		}
	}
	if got := auditCount(t, s); got != before {
		t.Fatalf("refused commits appended %d audit records", got-before)
	}
	if head, err := s.Files.Version(ctx(t), "m", f, 0); err != nil || head.Version != 1 {
		t.Fatalf("head after refused commits = %+v, %v; want v1", head, err)
	}
}

func testDeleteAndHold(t *testing.T, h Harness) {
	s := h.Open(t)
	f := RandomID(t)
	c := RandomID(t)
	putChunk(t, s, "m", c, 1)
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Chunks: []format.ID{c}, Size: 3})
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: true, Reason: "litigation", ChangedBy: "risk", Time: time.Now()}, Rec("hold.on", "m")); err != nil {
		t.Fatalf("SetHold: %v", err)
	}
	hold, err := s.Holds.Hold(ctx(t), "m")
	if err != nil || !hold.On || hold.Reason != "litigation" || hold.ChangedBy != "risk" {
		t.Fatalf("Hold = %+v, %v", hold, err)
	}
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Deleted: true}); !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("delete under hold = %v, want ErrLegalHold", err)
	}
	// Edits are still allowed under hold: they keep history.
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Chunks: []format.ID{c}})
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: false, ChangedBy: "risk", Time: time.Now()}, Rec("hold.off", "m")); err != nil {
		t.Fatalf("SetHold off: %v", err)
	}
	// A tombstone keeps its sealed manifest's size and drops chunks.
	v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 2, Deleted: true, Chunks: []format.ID{c}, Size: 9})
	if !v.Deleted || v.Version != 3 || v.Size != 9 {
		t.Fatalf("tombstone = %+v", v)
	}
	if got, err := s.Files.Version(ctx(t), "m", f, 3); err != nil || !got.Deleted || got.Size != 9 {
		t.Fatalf("tombstone read back = %+v, %v", got, err)
	}
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 3, Deleted: true}); !errors.Is(err, store.ErrAlreadyDeleted) {
		t.Fatalf("second delete = %v, want ErrAlreadyDeleted", err)
	}
	_, err = commit(t, s, store.Commit{Matter: "m", File: f, Base: 0})
	var m *store.VersionMismatchError
	if !errors.As(err, &m) || m.Current != 3 || !m.Deleted {
		t.Fatalf("create over tombstone = %v, want mismatch current 3 deleted", err)
	}
	v = mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 3, Chunks: []format.ID{c}})
	if v.Deleted || v.Version != 4 {
		t.Fatalf("restore = %+v", v)
	}
	hold, err = s.Holds.Hold(ctx(t), "never-held")
	if err != nil || hold.On {
		t.Fatalf("Hold of unknown matter = %+v, %v", hold, err)
	}
}

func wantStale(t *testing.T, err error, current, got uint32) {
	t.Helper()
	var se *store.StaleEpochError
	if !errors.As(err, &se) || se.Current != current || se.Got != got {
		t.Fatalf("err = %v, want StaleEpochError current %d got %d", err, current, got)
	}
}

func epochOf(t *testing.T, s gateway.Stores, matter string) uint32 {
	t.Helper()
	e, err := s.Epochs.Epoch(ctx(t), matter)
	if err != nil {
		t.Fatalf("Epoch(%s): %v", matter, err)
	}
	return e
}

// testEpochs: SetEpoch raises, never lowers, and commits and deletes below
// the matter's epoch are refused without a blob, a version or a record.
func testEpochs(t *testing.T, h Harness) {
	s := h.Open(t)
	if e := epochOf(t, s, "m"); e != 0 {
		t.Fatalf("epoch of an unknown matter = %d, want 0", e)
	}
	f := RandomID(t)
	if _, err := s.Epochs.SetEpoch(ctx(t), "m", 1, Rec("admin.epoch.set", "m")); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Epoch: 1})
	before := auditCount(t, s)
	prev, err := s.Epochs.SetEpoch(ctx(t), "m", 3, Rec("admin.epoch.set", "m"))
	if err != nil || prev != 1 {
		t.Fatalf("SetEpoch(3) = %d, %v; want previous 1", prev, err)
	}
	if prev, err := s.Epochs.SetEpoch(ctx(t), "m", 3, Rec("admin.epoch.set", "m")); err != nil || prev != 3 {
		t.Fatalf("SetEpoch(3) again = %d, %v; want previous 3", prev, err)
	}
	if got := auditCount(t, s); got != before+2 {
		t.Fatalf("audit records = %d, want %d (one per SetEpoch)", got, before+2)
	}
	_, err = s.Epochs.SetEpoch(ctx(t), "m", 2, Rec("admin.epoch.set", "m"))
	wantStale(t, err, 3, 2)
	if e := epochOf(t, s, "m"); e != 3 {
		t.Fatalf("epoch after a refused lowering = %d, want 3", e)
	}
	if got := auditCount(t, s); got != before+2 {
		t.Fatal("a refused SetEpoch appended an audit record")
	}

	called := false
	write := func(context.Context, int64) (string, error) { called = true; return "k", nil }
	_, err = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Base: 1, Epoch: 2, Size: 5, Time: time.Now()}, write, Rec("file.commit", "m"))
	wantStale(t, err, 3, 2)
	_, err = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: RandomID(t), Epoch: 1, Time: time.Now()}, write, Rec("file.commit", "m"))
	wantStale(t, err, 3, 1)
	_, err = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Base: 1, Deleted: true, Epoch: 2, Size: 5, Time: time.Now()}, write, Rec("file.delete", "m"))
	wantStale(t, err, 3, 2)
	if called {
		t.Fatal("write was called for a stale commit")
	}
	if got := auditCount(t, s); got != before+2 {
		t.Fatal("a stale commit appended an audit record")
	}
	if head, err := s.Files.Version(ctx(t), "m", f, 0); err != nil || head.Version != 1 || head.Epoch != 1 {
		t.Fatalf("head after stale commits = %+v, %v; want v1 at epoch 1", head, err)
	}
	// A version mismatch is reported before the epoch: the agent merges
	// first, then reseals under the new key anyway.
	_, err = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Base: 7, Epoch: 1, Time: time.Now()}, nil, Rec("file.commit", "m"))
	wantMismatch(t, err, 1)

	v := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Epoch: 3, Size: 7})
	if v.Epoch != 3 {
		t.Fatalf("commit at epoch 3 = %+v", v)
	}
	// A stale delete is refused before the hold is looked at; a current
	// one meets the hold.
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: true, Reason: "r", ChangedBy: "risk", Time: time.Now()}, Rec("hold.on", "m")); err != nil {
		t.Fatal(err)
	}
	_, err = commit(t, s, store.Commit{Matter: "m", File: f, Base: 2, Deleted: true, Epoch: 2, Size: 5})
	wantStale(t, err, 3, 2)
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 2, Deleted: true, Epoch: 3, Size: 5}); !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("delete under hold = %v, want ErrLegalHold", err)
	}
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", Time: time.Now()}, Rec("hold.off", "m")); err != nil {
		t.Fatal(err)
	}
	tomb := mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 2, Deleted: true, Epoch: 3, Size: 5})
	if !tomb.Deleted || tomb.Epoch != 3 || tomb.Size != 5 {
		t.Fatalf("tombstone = %+v", tomb)
	}
	// The epoch of every version is kept and read back everywhere.
	vs, err := s.Files.Versions(ctx(t), "m", f, 0, 10)
	if err != nil || len(vs) != 3 || vs[0].Epoch != 3 || vs[1].Epoch != 3 || vs[2].Epoch != 1 {
		t.Fatalf("Versions = %+v, %v; want epochs 3, 3, 1", vs, err)
	}
	ch, _, err := s.Files.Changes(ctx(t), "m", 0, 10)
	if err != nil || len(ch) != 3 || ch[0].Epoch != 1 || ch[2].Epoch != 3 || !ch[2].Deleted {
		t.Fatalf("Changes = %+v, %v", ch, err)
	}
	// Matters are independent.
	if e := epochOf(t, s, "other"); e != 0 {
		t.Fatalf("epoch of another matter = %d", e)
	}
	mustCommit(t, s, store.Commit{Matter: "other", File: f, Epoch: 1})
	if _, err := s.Epochs.SetEpoch(ctx(t), "fresh", 1, Rec("admin.epoch.set", "fresh")); err != nil {
		t.Fatalf("SetEpoch on a new matter: %v", err)
	}
	if e := epochOf(t, s, "fresh"); e != 1 {
		t.Fatalf("epoch of a new matter after SetEpoch(1) = %d", e)
	}
	if _, err := s.Epochs.SetEpoch(ctx(t), "max", ^uint32(0), Rec("admin.epoch.set", "max")); err != nil || epochOf(t, s, "max") != ^uint32(0) {
		t.Fatalf("SetEpoch(2^32-1): %v, epoch %d", err, epochOf(t, s, "max"))
	}
}

// testEpochNotRaisedByCommit: commits under an epoch above the matter's
// are accepted (an agent that fetched a rotation's key before the admin
// told the gateway) but never raise it: only SetEpoch does, so a member
// sealing a huge epoch cannot lock the other writers out.
func testEpochNotRaisedByCommit(t *testing.T, h Harness) {
	s := h.Open(t)
	f, g := RandomID(t), RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Epoch: 1})
	mustCommit(t, s, store.Commit{Matter: "m", File: g, Epoch: 1 << 31})
	if e := epochOf(t, s, "m"); e > 1 {
		t.Fatalf("a commit raised the epoch to %d", e)
	}
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Epoch: 1})
	if _, err := s.Epochs.SetEpoch(ctx(t), "m", 2, Rec("admin.epoch.set", "m")); err != nil {
		t.Fatalf("SetEpoch(2): %v", err)
	}
	_, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 2, Epoch: 1})
	wantStale(t, err, 2, 1)
}

// testEpochRace raises the epoch while commits under the old one race it:
// every commit accepted at the old epoch is ordered before the raise (its
// audit record comes first), and none after.
func testEpochRace(t *testing.T, h Harness) {
	s := h.Open(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: RandomID(t), Epoch: 1})
	const n = 16
	var wg sync.WaitGroup
	recs := make([]*audit.Record, n)
	errs := make([]error, n)
	var setRec *audit.Record
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = Rec("file.commit", "m")
			_, errs[i] = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: RandomID(t), Epoch: 1, Time: time.Now()}, nil, recs[i])
		}()
		if i == n/2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				setRec = Rec("admin.epoch.set", "m")
				if _, err := s.Epochs.SetEpoch(ctx(t), "m", 2, setRec); err != nil {
					t.Errorf("SetEpoch: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, err := range errs {
		switch {
		case err == nil && recs[i].Seq > setRec.Seq:
			t.Errorf("commit at epoch 1 accepted after the raise (record %d > %d)", recs[i].Seq, setRec.Seq)
		case err != nil:
			wantStale(t, err, 2, 1)
		}
	}
}

func testVersionsAndChanges(t *testing.T, h Harness) {
	s := h.Open(t)
	f1, f2 := RandomID(t), RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f1})                         // seq 1
	mustCommit(t, s, store.Commit{Matter: "x", File: f1})                         // other matter
	mustCommit(t, s, store.Commit{Matter: "m", File: f2})                         // seq 2
	mustCommit(t, s, store.Commit{Matter: "m", File: f1, Base: 1})                // seq 3
	mustCommit(t, s, store.Commit{Matter: "m", File: f1, Base: 2})                // seq 4
	mustCommit(t, s, store.Commit{Matter: "m", File: f2, Base: 1, Deleted: true}) // seq 5
	vs, err := s.Files.Versions(ctx(t), "m", f1, 0, 100)
	if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].Version != 1 {
		t.Fatalf("Versions = %+v, %v; want 3,2,1", vs, err)
	}
	vs, err = s.Files.Versions(ctx(t), "m", f1, 3, 1)
	if err != nil || len(vs) != 1 || vs[0].Version != 2 {
		t.Fatalf("Versions(before 3, limit 1) = %+v, %v; want [2]", vs, err)
	}
	if _, err := s.Files.Versions(ctx(t), "m", RandomID(t), 0, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Versions of unknown file = %v, want ErrNotFound", err)
	}
	ch, headSeq, err := s.Files.Changes(ctx(t), "m", 0, 100)
	if err != nil || headSeq != 5 || len(ch) != 5 {
		t.Fatalf("Changes = %d changes, head %d, %v; want 5, 5", len(ch), headSeq, err)
	}
	for i, c := range ch {
		if c.Seq != int64(i+1) {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
	}
	if ch[4].File != f2 || !ch[4].Deleted || ch[3].File != f1 || ch[3].Version != 3 {
		t.Fatalf("changes = %+v", ch)
	}
	ch, _, err = s.Files.Changes(ctx(t), "m", 3, 1)
	if err != nil || len(ch) != 1 || ch[0].Seq != 4 {
		t.Fatalf("Changes(since 3, limit 1) = %+v, %v", ch, err)
	}
	ch, headSeq, err = s.Files.Changes(ctx(t), "m", 5, 10)
	if err != nil || len(ch) != 0 || headSeq != 5 {
		t.Fatalf("Changes(since head) = %+v, %d, %v", ch, headSeq, err)
	}
	ch, headSeq, err = s.Files.Changes(ctx(t), "nothing-here", 0, 10)
	if err != nil || len(ch) != 0 || headSeq != 0 {
		t.Fatalf("Changes(unknown matter) = %+v, %d, %v", ch, headSeq, err)
	}
	heads, err := s.Files.Heads(ctx(t), []string{"m", "x", "nothing-here"})
	if err != nil || len(heads) != 2 || heads["m"] != 5 || heads["x"] != 1 {
		t.Fatalf("Heads(m, x, nothing-here) = %v, %v; want m:5 x:1", heads, err)
	}
	if heads, err := s.Files.Heads(ctx(t), nil); err != nil || len(heads) != 0 {
		t.Fatalf("Heads(none) = %v, %v", heads, err)
	}
}

// testConcurrentCommitsOneFile races commits from the same base: exactly
// one wins, every other is refused with the winner's version.
func testConcurrentCommitsOneFile(t *testing.T, h Harness) {
	s := h.Open(t)
	f := RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	var writesMu sync.Mutex
	writes := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Base: 1, Time: time.Now()},
				func(context.Context, int64) (string, error) {
					writesMu.Lock()
					writes++
					writesMu.Unlock()
					return "", nil
				}, Rec("file.commit", "m"))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		wantMismatch(t, err, 2)
	}
	if wins != 1 || writes != 1 {
		t.Fatalf("%d commits won and %d wrote a blob, want exactly 1 and 1", wins, writes)
	}
}

// testConcurrentCommitsGapless commits to many files of one matter at once:
// sequence numbers are 1..n without gaps or duplicates.
func testConcurrentCommitsGapless(t *testing.T, h Harness) {
	s := h.Open(t)
	const n = 24
	var wg sync.WaitGroup
	seqs := make([]int64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: RandomID(t), Time: time.Now()}, nil, Rec("file.commit", "m"))
			if err != nil {
				t.Errorf("commit: %v", err)
				return
			}
			seqs[i] = v.Seq
		}()
	}
	wg.Wait()
	CheckGapless(t, seqs)
}

// CheckGapless fails t unless seqs is a permutation of 1..len(seqs).
func CheckGapless(t testing.TB, seqs []int64) {
	t.Helper()
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	for i, s := range sorted {
		if s != int64(i+1) {
			t.Fatalf("sequence numbers %v are not 1..%d without gaps or duplicates", sorted, len(seqs))
		}
	}
}

func testDenyList(t *testing.T, h Harness) {
	s := h.Open(t)
	list, gen0, err := s.Deny.DenyList(ctx(t))
	if err != nil || len(list) != 0 {
		t.Fatalf("DenyList = %v, %v", list, err)
	}
	c0, err := s.Deny.Counters(ctx(t))
	if err != nil || c0.Deny != gen0 {
		t.Fatalf("Counters = %+v, %v; want deny %d", c0, err, gen0)
	}
	created, g, err := s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "ent-1", Name: "bob", Reason: "left", CreatedBy: "it", Time: time.Now()}, Rec("deny.add", ""))
	if err != nil || !created || g != gen0+1 {
		t.Fatalf("AddDeny = %v, %d, %v", created, g, err)
	}
	n := auditCount(t, s)
	// Already there: nothing changes, no record (the gateway audits the
	// request with the status it answers).
	created, g, err = s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "ent-1", Name: "other", Time: time.Now()}, Rec("deny.add", ""))
	if err != nil || created || g != gen0+1 || auditCount(t, s) != n {
		t.Fatalf("AddDeny again = %v, %d, %v; want not created, no record", created, g, err)
	}
	list, gen1, err := s.Deny.DenyList(ctx(t))
	if err != nil || len(list) != 1 || list[0].Entity != "ent-1" || list[0].Name != "bob" || list[0].Reason != "left" || list[0].CreatedBy != "it" {
		t.Fatalf("DenyList = %+v, %v", list, err)
	}
	if gen1 <= gen0 {
		t.Fatalf("deny generation %d did not grow from %d", gen1, gen0)
	}
	removed, g, err := s.Deny.RemoveDeny(ctx(t), "ent-1", Rec("deny.remove", ""))
	if err != nil || !removed || g != gen1+1 || auditCount(t, s) != n+1 {
		t.Fatalf("RemoveDeny = %v, %d, %v", removed, g, err)
	}
	removed, g, err = s.Deny.RemoveDeny(ctx(t), "ent-1", Rec("deny.remove", ""))
	if err != nil || removed || g != gen1+1 || auditCount(t, s) != n+1 {
		t.Fatalf("RemoveDeny again = %v, %d, %v", removed, g, err)
	}
	list, gen2, err := s.Deny.DenyList(ctx(t))
	if err != nil || len(list) != 0 || gen2 <= gen1 {
		t.Fatalf("DenyList after remove = %v, gen %d (was %d), %v", list, gen2, gen1, err)
	}
	mustCommit(t, s, store.Commit{Matter: "m", File: RandomID(t)})
	c1, err := s.Deny.Counters(ctx(t))
	if err != nil || c1.Changes <= c0.Changes || c1.Deny != gen2 {
		t.Fatalf("Counters after commit = %+v (was %+v), %v", c1, c0, err)
	}
}

func testTokenFloors(t *testing.T, h Harness) {
	s := h.Open(t)
	if fl, _, err := s.Deny.TokenFloors(ctx(t)); err != nil || len(fl) != 0 {
		t.Fatalf("TokenFloors of none = %v, %v", fl, err)
	}
	c0, _ := s.Deny.Counters(ctx(t))
	t1 := time.Now().Truncate(time.Microsecond)
	f, gen, err := s.Deny.SetTokenFloor(ctx(t), store.TokenFloor{Entity: "e-1", NotBefore: t1, Reason: "removed", SetBy: "it", Time: t1}, Rec("admin.deny.reissue", ""))
	if err != nil || !f.NotBefore.Equal(t1) || f.Reason != "removed" || gen != c0.Deny+1 {
		t.Fatalf("SetTokenFloor = %+v, %d, %v (deny generation was %d)", f, gen, err, c0.Deny)
	}
	// An earlier stamp does not lower it; a later one moves it.
	f, _, err = s.Deny.SetTokenFloor(ctx(t), store.TokenFloor{Entity: "e-1", NotBefore: t1.Add(-time.Hour), Reason: "older", Time: t1}, Rec("admin.deny.reissue", ""))
	if err != nil || !f.NotBefore.Equal(t1) || f.Reason != "removed" {
		t.Fatalf("earlier stamp = %+v, %v", f, err)
	}
	t2 := t1.Add(time.Minute)
	f, gen2, err := s.Deny.SetTokenFloor(ctx(t), store.TokenFloor{Entity: "e-1", NotBefore: t2, Reason: "screened", Time: t2}, Rec("admin.deny.reissue", ""))
	if err != nil || !f.NotBefore.Equal(t2) || f.Reason != "screened" || gen2 <= gen {
		t.Fatalf("later stamp = %+v, %d, %v", f, gen2, err)
	}
	fl, g, err := s.Deny.TokenFloors(ctx(t))
	if err != nil || len(fl) != 1 || fl[0].Entity != "e-1" || !fl[0].NotBefore.Equal(t2) || g != gen2 {
		t.Fatalf("TokenFloors = %+v, %d, %v", fl, g, err)
	}
	if c, _ := s.Deny.Counters(ctx(t)); c.Deny != gen2 {
		t.Fatalf("deny generation %d, want %d", c.Deny, gen2)
	}
	if n := auditCount(t, s); n != 3 {
		t.Fatalf("%d audit records, want 3", n)
	}
}

func testUsage(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := RandomID(t), RandomID(t)
	putChunk(t, s, "m", a, 100)
	putChunk(t, s, "m", b, 50)
	putChunk(t, s, "x", a, 7)
	f := RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Size: 10, Chunks: []format.ID{a, b}})
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Size: 11, Chunks: []format.ID{a}})
	mustCommit(t, s, store.Commit{Matter: "m", File: RandomID(t), Size: 5})
	u, err := s.Usage.Usage(ctx(t), "m")
	want := store.Usage{Chunks: 2, ChunkBytes: 150, Files: 2, Versions: 3, ManifestBytes: 26, Seq: 3}
	if err != nil || u != want {
		t.Fatalf("Usage = %+v, %v; want %+v", u, err, want)
	}
}

func verify(t *testing.T, s gateway.Stores, keys []ed25519.PublicKey, opts ...audit.VerifyOptions) audit.Report {
	t.Helper()
	var o audit.VerifyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	rep, err := audit.Verify(ctx(t), s.Audit, keys, o)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func testAuditChain(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().Add(-time.Hour)
	for i := range 6 {
		r := Rec("chunk.get", fmt.Sprintf("m%d", i%2))
		r.Time = t0.Add(time.Duration(i) * time.Minute)
		if i == 5 {
			r.User = "bob"
		}
		if err := s.Audit.AppendAudit(ctx(t), r); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if r.Seq != int64(i+1) || r.Hash == (audit.Hash{}) {
			t.Fatalf("record %d: seq %d hash %v", i, r.Seq, r.Hash)
		}
	}
	seq, head, err := s.Audit.AuditHead(ctx(t))
	if err != nil || seq != 6 {
		t.Fatalf("AuditHead = %d, %v", seq, err)
	}
	var got []*audit.Record
	collect := func(q audit.Query) []int64 {
		got = got[:0]
		if err := s.Audit.AuditRecords(ctx(t), q, func(r *audit.Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatalf("AuditRecords(%+v): %v", q, err)
		}
		var seqs []int64
		for _, r := range got {
			seqs = append(seqs, r.Seq)
		}
		return seqs
	}
	if s := collect(audit.Query{}); !slices.Equal(s, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("all records = %v", s)
	}
	if got[5].Hash != head || got[5].User != "bob" || got[0].Device != "LAPTOP-7" || got[0].Time.UnixMicro() != t0.UnixMicro() {
		t.Fatalf("stored record differs: %+v", got[5])
	}
	for _, r := range got {
		if r.Sum() != r.Hash {
			t.Fatalf("record %d: stored hash does not match recomputed", r.Seq)
		}
	}
	if s := collect(audit.Query{Matter: "m1"}); !slices.Equal(s, []int64{2, 4, 6}) {
		t.Fatalf("matter filter = %v", s)
	}
	if s := collect(audit.Query{User: "bob"}); !slices.Equal(s, []int64{6}) {
		t.Fatalf("user filter = %v", s)
	}
	if s := collect(audit.Query{Since: t0.Add(2 * time.Minute).UnixMicro(), Until: t0.Add(4 * time.Minute).UnixMicro()}); !slices.Equal(s, []int64{3, 4}) {
		t.Fatalf("time filter = %v", s)
	}
	if s := collect(audit.Query{AfterSeq: 2, Limit: 3}); !slices.Equal(s, []int64{3, 4, 5}) {
		t.Fatalf("after/limit = %v", s)
	}
	if s := collect(audit.Query{Entity: "nobody"}); len(s) != 0 {
		t.Fatalf("entity filter = %v", s)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	if _, err := s.Audit.LastCheckpoint(ctx(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LastCheckpoint of none = %v", err)
	}
	cp := audit.Sign(priv, seq, head, time.Now(), nil)
	if err := s.Audit.AddCheckpoint(ctx(t), cp); err != nil {
		t.Fatalf("AddCheckpoint: %v", err)
	}
	// A second signer of the same head, or one that did not see the
	// latest checkpoint, stores nothing.
	if err := s.Audit.AddCheckpoint(ctx(t), cp); !errors.Is(err, store.ErrCheckpointConflict) {
		t.Fatalf("AddCheckpoint twice = %v, want ErrCheckpointConflict", err)
	}
	cps, err := s.Audit.Checkpoints(ctx(t))
	if err != nil || len(cps) != 1 || cps[0].Hash != head || !cps[0].Time.Equal(cp.Time) || cps[0].Digest() != cp.Digest() {
		t.Fatalf("Checkpoints = %+v, %v", cps, err)
	}
	if last, err := s.Audit.LastCheckpoint(ctx(t)); err != nil || last.Digest() != cp.Digest() {
		t.Fatalf("LastCheckpoint = %+v, %v", last, err)
	}
	rep := verify(t, s, []ed25519.PublicKey{pub})
	if !rep.OK || rep.Records != 6 || rep.Checkpoints != 1 || rep.LastCheckpoint != 6 {
		t.Fatalf("Verify = %+v", rep)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if rep := verify(t, s, []ed25519.PublicKey{other}); rep.OK {
		t.Fatalf("Verify with the wrong key = %+v, want a problem", rep)
	}
}

// testAuditTamper edits, deletes, inserts and truncates records in the
// database directly; Verify must name the first broken record each time.
func testAuditTamper(t *testing.T, h Harness) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	keys := []ed25519.PublicKey{pub}
	setup := func(t *testing.T) gateway.Stores {
		s := h.Open(t)
		for range 8 {
			if err := s.Audit.AppendAudit(ctx(t), Rec("file.get", "m")); err != nil {
				t.Fatal(err)
			}
			if seq, head, _ := s.Audit.AuditHead(ctx(t)); seq == 6 {
				if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, seq, head, time.Now(), nil)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if rep := verify(t, s, keys); !rep.OK {
			t.Fatalf("untouched chain: %+v", rep)
		}
		return s
	}
	cases := []struct {
		name    string
		tamper  func(t *testing.T, s gateway.Stores)
		wantSeq int64
	}{
		{"edit field", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `UPDATE audit_records SET username = 'mallory' WHERE seq = 3`)
		}, 3},
		{"edit decision time", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `UPDATE audit_records SET decided_us = decided_us + 1 WHERE seq = 5`)
		}, 5},
		{"drop decision time", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `UPDATE audit_records SET decided_us = 0 WHERE seq = 6`)
		}, 6},
		{"edit bytes", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `UPDATE audit_records SET bytes = bytes + 1 WHERE seq = 7`)
		}, 7},
		{"delete middle", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `DELETE FROM audit_records WHERE seq = 4`)
		}, 4},
		{"insert forged", func(t *testing.T, s gateway.Stores) {
			// Shift 3.. up by one, then insert a well-formed record at 3
			// linked to record 2: the old record 3 no longer links.
			h.Exec(t, s, `UPDATE audit_records SET seq = -(seq + 1) WHERE seq >= 3`)
			h.Exec(t, s, `UPDATE audit_records SET seq = -seq WHERE seq < 0`)
			var prev audit.Record
			s.Audit.AuditRecords(ctx(t), audit.Query{AfterSeq: 1, Limit: 1}, func(r *audit.Record) error { prev = *r; return nil })
			forged := Rec("file.get", "m")
			forged.User = "cover-story"
			forged.Decided = time.Now()
			forged.Link(prev.Seq, prev.Hash)
			h.Exec(t, s, `INSERT INTO audit_records (seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				forged.Seq, forged.Time.UnixMicro(), forged.Entity, forged.User, forged.Device, forged.Source, forged.Matter, forged.Action, forged.Object, forged.Result, forged.Status, forged.Bytes, forged.RequestID, forged.PrevHash[:], forged.Hash[:], forged.Decided.UnixMicro())
		}, 4},
		{"truncate tail under checkpoint", func(t *testing.T, s gateway.Stores) {
			h.Exec(t, s, `DELETE FROM audit_records WHERE seq >= 5`)
		}, 5},
		{"rewrite chain", func(t *testing.T, s gateway.Stores) {
			// Re-link everything from record 2 on with a changed field: the
			// links are consistent again, the signed checkpoint is not.
			var recs []audit.Record
			s.Audit.AuditRecords(ctx(t), audit.Query{}, func(r *audit.Record) error { recs = append(recs, *r); return nil })
			h.Exec(t, s, `DELETE FROM audit_records WHERE seq >= 2`)
			for i := 1; i < len(recs); i++ {
				r := recs[i]
				if i == 1 {
					r.User = "mallory"
				}
				r.Link(recs[i-1].Seq, recs[i-1].Hash)
				recs[i] = r
				h.Exec(t, s, `INSERT INTO audit_records (seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
					r.Seq, r.Time.UnixMicro(), r.Entity, r.User, r.Device, r.Source, r.Matter, r.Action, r.Object, r.Result, r.Status, r.Bytes, r.RequestID, r.PrevHash[:], r.Hash[:], r.Decided.UnixMicro())
			}
		}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			tc.tamper(t, s)
			rep := verify(t, s, keys)
			if rep.OK || rep.Problem == nil || rep.Problem.Seq != tc.wantSeq {
				t.Fatalf("Verify = %+v (problem %+v), want first problem at record %d", rep, rep.Problem, tc.wantSeq)
			}
		})
	}
}

// appendN appends n records whose times are step apart, starting at t0,
// and returns their hashes by seq.
func appendN(t *testing.T, s gateway.Stores, n int, t0 time.Time, step time.Duration) map[int64]audit.Hash {
	t.Helper()
	out := map[int64]audit.Hash{}
	for i := range n {
		r := Rec("file.get", "m")
		r.Time = t0.Add(time.Duration(i) * step)
		if err := s.Audit.AppendAudit(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		out[r.Seq] = r.Hash
	}
	return out
}

// testAuditCheckpointChain: checkpoints sign their predecessor, so one
// deleted from the middle is named by verify; deleting the newest is caught
// by an expected checkpoint (the SIEM's copy); the store refuses a
// checkpoint that does not follow the latest.
func testAuditCheckpointChain(t *testing.T, h Harness) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	keys := []ed25519.PublicKey{pub}
	setup := func(t *testing.T) (gateway.Stores, []audit.Checkpoint) {
		s := h.Open(t)
		hashes := appendN(t, s, 8, time.Now(), time.Millisecond)
		var cps []audit.Checkpoint
		var prev *audit.Checkpoint
		for _, seq := range []int64{2, 4, 6} {
			c := audit.Sign(priv, seq, hashes[seq], time.Now(), prev)
			if err := s.Audit.AddCheckpoint(ctx(t), c); err != nil {
				t.Fatalf("AddCheckpoint %d: %v", seq, err)
			}
			cps = append(cps, c)
			prev = &cps[len(cps)-1]
		}
		if rep := verify(t, s, keys); !rep.OK || rep.Checkpoints != 3 || rep.LastCheckpoint != 6 {
			t.Fatalf("untouched: %+v", rep)
		}
		return s, cps
	}
	t.Run("store refuses a fork", func(t *testing.T) {
		s, cps := setup(t)
		seq, head, _ := s.Audit.AuditHead(ctx(t))
		// Follows checkpoint 4, but 6 is the latest.
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, seq, head, time.Now(), &cps[1])); !errors.Is(err, store.ErrCheckpointConflict) {
			t.Fatalf("forked checkpoint: %v", err)
		}
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, seq, head, time.Now(), &cps[2])); err != nil {
			t.Fatalf("chained checkpoint: %v", err)
		}
		if last, err := s.Audit.LastCheckpoint(ctx(t)); err != nil || last.Seq != seq || last.PrevSeq != 6 {
			t.Fatalf("LastCheckpoint = %+v, %v", last, err)
		}
	})
	t.Run("delete middle checkpoint", func(t *testing.T) {
		s, _ := setup(t)
		h.Exec(t, s, `DELETE FROM audit_checkpoints WHERE seq = 4`)
		rep := verify(t, s, keys)
		if rep.OK || rep.Problem.Seq != 4 || !strings.Contains(rep.Problem.Reason, "checkpoints were deleted") {
			t.Fatalf("verify = %+v %+v, want the checkpoint at 4 named", rep, rep.Problem)
		}
	})
	t.Run("alter checkpoint", func(t *testing.T) {
		s, _ := setup(t)
		h.Exec(t, s, `UPDATE audit_checkpoints SET time_us = time_us + 1 WHERE seq = 2`)
		if rep := verify(t, s, keys); rep.OK || rep.Problem.Seq != 2 {
			t.Fatalf("verify = %+v %+v, want record 2", rep, rep.Problem)
		}
	})
	t.Run("delete newest checkpoint", func(t *testing.T) {
		s, cps := setup(t)
		h.Exec(t, s, `DELETE FROM audit_checkpoints WHERE seq = 6`)
		// The chain alone cannot tell: the SIEM's copy can.
		if rep := verify(t, s, keys); !rep.OK || rep.LastCheckpoint != 4 {
			t.Fatalf("verify = %+v", rep)
		}
		want := audit.Anchor{Seq: 6, Hash: cps[2].Hash}
		rep := verify(t, s, keys, audit.VerifyOptions{Expect: []audit.Anchor{want}})
		if rep.OK || rep.Problem.Seq != 6 || !strings.Contains(rep.Problem.Reason, "expected checkpoint") {
			t.Fatalf("verify with expected checkpoint = %+v %+v", rep, rep.Problem)
		}
		// A wrong expectation for a record that exists.
		bad := audit.Anchor{Seq: 2, Hash: cps[2].Hash}
		if rep := verify(t, s, keys, audit.VerifyOptions{Expect: []audit.Anchor{bad}}); rep.OK || rep.Problem.Seq != 2 {
			t.Fatalf("verify with a wrong expectation = %+v %+v", rep, rep.Problem)
		}
		good := audit.Anchor{Seq: 4, Hash: cps[1].Hash}
		if rep := verify(t, s, keys, audit.VerifyOptions{Expect: []audit.Anchor{good}}); !rep.OK {
			t.Fatalf("verify with a right expectation = %+v %+v", rep, rep.Problem)
		}
	})
	t.Run("new chain after deleted checkpoints", func(t *testing.T) {
		s, _ := setup(t)
		h.Exec(t, s, `DELETE FROM audit_checkpoints WHERE seq > 2`)
		h.Exec(t, s, `UPDATE audit_checkpoints SET seq = 0 WHERE seq = 2`) // hide it from max(seq)
		seq, head, _ := s.Audit.AuditHead(ctx(t))
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, seq, head, time.Now(), nil)); err != nil {
			t.Fatal(err)
		}
		h.Exec(t, s, `UPDATE audit_checkpoints SET seq = 2 WHERE seq = 0`)
		if rep := verify(t, s, keys); rep.OK || rep.Problem.Seq != seq || !strings.Contains(rep.Problem.Reason, "new checkpoint chain") {
			t.Fatalf("verify = %+v %+v", rep, rep.Problem)
		}
	})
	t.Run("version 1 checkpoints still verify", func(t *testing.T) {
		s := h.Open(t)
		hashes := appendN(t, s, 4, time.Now(), time.Millisecond)
		v1 := audit.SignV1(priv, 2, hashes[2], time.Now())
		if err := s.Audit.AddCheckpoint(ctx(t), v1); err != nil {
			t.Fatal(err)
		}
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, 4, hashes[4], time.Now(), &v1)); err != nil {
			t.Fatal(err)
		}
		if rep := verify(t, s, keys); !rep.OK || rep.LastCheckpoint != 4 {
			t.Fatalf("verify = %+v %+v", rep, rep.Problem)
		}
	})
}

// testAuditCheckpointFreshness: with the checkpoint interval known, verify
// fails where a signing gateway would have left checkpoints and there are
// none.
func testAuditCheckpointFreshness(t *testing.T, h Harness) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	keys := []ed25519.PublicKey{pub}
	minute := audit.VerifyOptions{CheckpointInterval: time.Minute}
	t0 := time.Now().Add(-time.Hour)
	t.Run("no checkpoints", func(t *testing.T) {
		s := h.Open(t)
		appendN(t, s, 4, t0, time.Minute) // spans 3 minutes
		if rep := verify(t, s, keys); !rep.OK {
			t.Fatalf("without the interval: %+v", rep)
		}
		rep := verify(t, s, keys, minute)
		if rep.OK || rep.Problem.Seq != 1 || !strings.Contains(rep.Problem.Reason, "no signed checkpoint") {
			t.Fatalf("verify = %+v %+v", rep, rep.Problem)
		}
		if rep := verify(t, s, keys, audit.VerifyOptions{CheckpointInterval: 2 * time.Minute}); !rep.OK {
			t.Fatalf("span within 2 intervals: %+v %+v", rep, rep.Problem)
		}
	})
	t.Run("stale newest checkpoint", func(t *testing.T) {
		s := h.Open(t)
		hashes := appendN(t, s, 12, t0, time.Minute) // records 3..12 span 9 minutes
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, 2, hashes[2], t0.Add(time.Minute), nil)); err != nil {
			t.Fatal(err)
		}
		rep := verify(t, s, keys, minute)
		if rep.OK || rep.Problem.Seq != 3 || !strings.Contains(rep.Problem.Reason, "not covered by a signed checkpoint") {
			t.Fatalf("verify = %+v %+v", rep, rep.Problem)
		}
		if rep := verify(t, s, keys, audit.VerifyOptions{CheckpointInterval: time.Minute, MaxCheckpointAge: 10 * time.Minute}); !rep.OK {
			t.Fatalf("within --max-checkpoint-age: %+v %+v", rep, rep.Problem)
		}
		last, _ := s.Audit.LastCheckpoint(ctx(t))
		if err := s.Audit.AddCheckpoint(ctx(t), audit.Sign(priv, 10, hashes[10], t0.Add(10*time.Minute), &last)); err != nil {
			t.Fatal(err)
		}
		if rep := verify(t, s, keys, minute); !rep.OK || rep.LastCheckpoint != 10 {
			t.Fatalf("fresh checkpoint: %+v %+v", rep, rep.Problem)
		}
	})
}

// testAuditFailure: with audit appends failing, every mutation fails and
// leaves the store as it was.
func testAuditFailure(t *testing.T, h Harness) {
	s := h.Open(t)
	f, c := RandomID(t), RandomID(t)
	putChunk(t, s, "m", c, 1)
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Chunks: []format.ID{c}})
	u0, _ := s.Usage.Usage(ctx(t), "m")
	c0, _ := s.Deny.Counters(ctx(t))
	h.BreakAudit(t, s)
	if err := s.Audit.AppendAudit(ctx(t), Rec("file.get", "m")); err == nil {
		t.Fatal("AppendAudit succeeded with audit broken")
	}
	c2 := RandomID(t)
	if _, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m", ID: c2, Size: 1, Time: time.Now()}, Rec("chunk.put", "m")); err == nil {
		t.Fatal("PutChunk succeeded with audit broken")
	}
	if _, err := s.Chunks.Chunk(ctx(t), "m", c2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("chunk recorded despite failed audit: %v", err)
	}
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Chunks: []format.ID{c}}); err == nil {
		t.Fatal("Commit succeeded with audit broken")
	}
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Deleted: true}); err == nil {
		t.Fatal("delete succeeded with audit broken")
	}
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: true, Time: time.Now()}, Rec("hold.on", "m")); err == nil {
		t.Fatal("SetHold succeeded with audit broken")
	}
	if _, _, err := s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "e", Time: time.Now()}, Rec("deny.add", "")); err == nil {
		t.Fatal("AddDeny succeeded with audit broken")
	}
	e0 := epochOf(t, s, "m")
	if _, err := s.Epochs.SetEpoch(ctx(t), "m", e0+5, Rec("epoch.set", "m")); err == nil {
		t.Fatal("SetEpoch succeeded with audit broken")
	}
	if e := epochOf(t, s, "m"); e != e0 {
		t.Fatalf("epoch changed to %d despite failed audit", e)
	}
	u1, _ := s.Usage.Usage(ctx(t), "m")
	c1, _ := s.Deny.Counters(ctx(t))
	hold, _ := s.Holds.Hold(ctx(t), "m")
	list, _, _ := s.Deny.DenyList(ctx(t))
	if u1 != u0 || c1 != c0 || hold.On || len(list) != 0 {
		t.Fatalf("store changed: usage %+v -> %+v, counters %+v -> %+v, hold %v, deny %v", u0, u1, c0, c1, hold.On, list)
	}
}

// testChunkReplacement: a chunk's object is replaced only while it is the
// one the replacer checked, with its record and audit record in one
// transaction; the history keeps every replacement.
func testChunkReplacement(t *testing.T, h Harness) {
	s := h.Open(t)
	a := RandomID(t)
	repl := func(oldKey, newKey string, size int64) store.ChunkReplacement {
		return store.ChunkReplacement{Matter: "m1", ID: a, OldKey: oldKey, NewKey: newKey, OldSize: 100, NewSize: size,
			OldSum: [32]byte{1}, NewSum: [32]byte{2}, Entity: "e-1", Device: "PC", Time: time.Now()}
	}
	if err := s.Chunks.ReplaceChunk(ctx(t), repl("", "k1", 120), Rec("chunk.replace", "m1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceChunk of an unknown chunk = %v, want ErrNotFound", err)
	}
	putChunk(t, s, "m1", a, 100)
	before := auditCount(t, s)
	if err := s.Chunks.ReplaceChunk(ctx(t), repl("", "k1", 120), Rec("chunk.replace", "m1")); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Chunks.Chunk(ctx(t), "m1", a); err != nil || c.Key != "k1" || c.Size != 120 {
		t.Fatalf("Chunk after replacement = %+v, %v; want key k1, size 120", c, err)
	}
	// A second replacer that checked the first object lost the race.
	if err := s.Chunks.ReplaceChunk(ctx(t), repl("", "k2", 130), Rec("chunk.replace", "m1")); !errors.Is(err, store.ErrChunkChanged) {
		t.Fatalf("ReplaceChunk of a replaced object = %v, want ErrChunkChanged", err)
	}
	if err := s.Chunks.ReplaceChunk(ctx(t), repl("k1", "k2", 130), Rec("chunk.replace", "m1")); err != nil {
		t.Fatal(err)
	}
	if got := auditCount(t, s); got != before+2 {
		t.Fatalf("audit records = %d, want %d (one per replacement)", got, before+2)
	}
	hist, ok := s.Chunks.(interface {
		ChunkReplacements(context.Context, string, format.ID) ([]store.ChunkReplacement, error)
	})
	if !ok {
		t.Fatal("the store keeps no replacement history (ChunkReplacements)")
	}
	rs, err := hist.ChunkReplacements(ctx(t), "m1", a)
	if err != nil || len(rs) != 2 || rs[0].OldKey != "" || rs[0].NewKey != "k1" || rs[1].OldKey != "k1" || rs[1].NewKey != "k2" ||
		rs[1].NewSum != [32]byte{2} || rs[1].Entity != "e-1" || rs[1].NewSize != 130 {
		t.Fatalf("ChunkReplacements = %+v, %v", rs, err)
	}
	// Replacements are per matter.
	if err := s.Chunks.ReplaceChunk(ctx(t), store.ChunkReplacement{Matter: "m2", ID: a, NewKey: "k3", Time: time.Now()}, Rec("chunk.replace", "m2")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceChunk in another matter = %v, want ErrNotFound", err)
	}
}

// testChunkListSum: a version keeps the SHA-256 of its chunk list exactly
// as committed (order and repeats), which readers compare with the
// manifest; a tombstone's is the empty list's.
func testChunkListSum(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b, f := RandomID(t), RandomID(t), RandomID(t)
	putChunk(t, s, "m", a, 10)
	putChunk(t, s, "m", b, 10)
	list := []format.ID{b, a, b}
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Chunks: list, Size: 1, Entity: "e", Device: "d", Time: time.Now()})
	want := api.ChunkListSum(list)
	v, err := s.Files.Version(ctx(t), "m", f, 1)
	if err != nil || !slices.Equal(v.ChunkListSum, want[:]) {
		t.Fatalf("Version(1).ChunkListSum = %x, %v; want %x", v.ChunkListSum, err, want)
	}
	mustCommit(t, s, store.Commit{Matter: "m", File: f, Base: 1, Deleted: true, Size: 1, Entity: "e", Device: "d", Time: time.Now()})
	empty := api.ChunkListSum(nil)
	vs, err := s.Files.Versions(ctx(t), "m", f, 0, 10)
	if err != nil || len(vs) != 2 || !slices.Equal(vs[0].ChunkListSum, empty[:]) || !slices.Equal(vs[1].ChunkListSum, want[:]) {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
}

// testHoldHistory: every hold change is kept, in order, with its reason
// and case; Holds lists the matters on hold now.
func testHoldHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	for i, hd := range []store.Hold{
		{Matter: "m1", On: true, Reason: "Smith v. Jones", Case: "CV-1", ChangedBy: "it", Time: t0},
		{Matter: "m2", On: true, Reason: "audit", ChangedBy: "it", Time: t0},
		{Matter: "m1", On: false, Reason: "settled", Case: "CV-1", ChangedBy: "it2", Time: t0.Add(time.Second)},
		{Matter: "m1", On: true, Reason: "appeal", ChangedBy: "it", Time: t0.Add(2 * time.Second)},
	} {
		if err := s.Holds.SetHold(ctx(t), hd, Rec("admin.hold", hd.Matter)); err != nil {
			t.Fatalf("SetHold %d: %v", i, err)
		}
	}
	hs, err := s.Holds.HoldHistory(ctx(t), "m1")
	if err != nil || len(hs) != 3 || hs[0].Reason != "Smith v. Jones" || hs[0].Case != "CV-1" || !hs[0].On ||
		hs[1].On || hs[1].Reason != "settled" || hs[1].ChangedBy != "it2" || !hs[1].Time.Equal(t0.Add(time.Second)) || hs[2].Reason != "appeal" {
		t.Fatalf("HoldHistory(m1) = %+v, %v", hs, err)
	}
	if hs, err := s.Holds.HoldHistory(ctx(t), "m3"); err != nil || len(hs) != 0 {
		t.Fatalf("HoldHistory of a matter never held = %+v, %v", hs, err)
	}
	all, err := s.Holds.Holds(ctx(t))
	if err != nil || len(all) != 2 || all[0].Matter != "m1" || all[0].Reason != "appeal" || all[1].Matter != "m2" || !all[1].On {
		t.Fatalf("Holds = %+v, %v", all, err)
	}
	if h, err := s.Holds.Hold(ctx(t), "m1"); err != nil || h.Case != "" || h.Reason != "appeal" {
		t.Fatalf("Hold(m1) = %+v, %v", h, err)
	}
}
