package hostile

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is one matter in a real Vault, served by a fake malicious gateway.
type env struct {
	t      *testing.T
	vault  *kmstest.Env
	matter string
	gw     *fakeGateway
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Vault")
	}
	v := kmstest.Setup(t)
	e := &env{t: t, vault: v, matter: v.Matter(t), gw: newFakeGateway(t)}
	e.gw.setMatters(api.Matter{ID: e.matter, Role: api.RoleWrite})
	return e
}

// member creates a user with role in the matter.
func (e *env) member(role kms.Role) kmstest.User {
	u := e.vault.User(e.t, false)
	e.vault.Grant(e.t, e.matter, u, role)
	return u
}

// forger is a member sealing objects with the matter's keys and publishing
// them through the fake gateway: whatever a malicious member, or a gateway
// holding a removed member's keys, can make agents read.
type forger struct {
	e     *env
	keys  *format.Keys
	codec *format.Codec
}

func (e *env) forger(u kmstest.User) *forger {
	t := e.t
	ctx := context.Background()
	kr := e.vault.Login(t, u)
	e1, err := kr.EpochKey(ctx, e.matter, 1)
	if err != nil {
		t.Fatal(err)
	}
	fids, err := format.DeriveFileIDKey(e.matter, e1)
	if err != nil {
		t.Fatal(err)
	}
	n, cur, err := kr.CurrentKey(ctx, e.matter)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := format.DeriveKeys(fids, n, cur)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	return &forger{e: e, keys: keys, codec: codec}
}

// chunk seals plain and stores it at the gateway.
func (f *forger) chunk(plain []byte) format.ChunkRef {
	f.e.t.Helper()
	id := f.keys.ChunkID(plain)
	sealed, err := f.codec.SealChunk(nil, f.keys, id, plain)
	if err != nil {
		f.e.t.Fatal(err)
	}
	f.e.gw.putChunk(id, sealed)
	return format.ChunkRef{ID: id, Size: uint32(len(plain))}
}

// file publishes content at path as the file's next version; edit may
// change the manifest before it is sealed.
func (f *forger) file(path string, content []byte, version uint64, edit func(*format.Manifest)) format.ID {
	f.e.t.Helper()
	man := &format.Manifest{Path: path, Version: version, Size: uint64(len(content)), ModTime: time.Now().Add(-time.Hour),
		Mode: 0o644, ContentHash: sum(content), Author: "entity-of-the-author", Device: "LAPTOP-1", Created: time.Now()}
	if len(content) > 0 {
		man.Chunks = []format.ChunkRef{f.chunk(content)}
	}
	if edit != nil {
		edit(man)
	}
	return f.publish(man)
}

// publish seals man and commits it at the gateway.
func (f *forger) publish(man *format.Manifest) format.ID {
	f.e.t.Helper()
	sealed, fid, err := f.keys.SealManifest(nil, man)
	if err != nil {
		f.e.t.Fatal(err)
	}
	f.e.gw.commit(f.e.matter, fid, sealed, man.Deleted)
	return fid
}

// delete publishes a tombstone for path as its version.
func (f *forger) delete(path string, version uint64) format.ID {
	return f.publish(&format.Manifest{Path: path, Version: version, Deleted: true, ModTime: time.Now(),
		Author: "entity-of-the-author", Device: "LAPTOP-1", Created: time.Now()})
}

// testAgent is one user's agent talking to the fake gateway.
type testAgent struct {
	*agent.Agent
	e      *env
	cfg    agent.Config
	idx    *index.DB
	folder string
}

// agent starts an agent for u; edit may change its config first.
func (e *env) agent(u kmstest.User, edit func(*agent.Config)) *testAgent {
	e.t.Helper()
	return e.agentWith(u, e.vault.Login(e.t, u), edit)
}

// agentWith starts an agent for u with the Vault session kr.
func (e *env) agentWith(u kmstest.User, kr *kms.Keyring, edit func(*agent.Config)) *testAgent {
	t := e.t
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Gateway.URL, cfg.InsecureHTTP = e.gw.URL(), true
	cfg.Vault.Address, cfg.Vault.Username, cfg.Vault.Layout = e.vault.Config.Address, u.Name, e.vault.Config.Layout
	cfg.Root, cfg.DataDir, cfg.DeviceName = filepath.Join(t.TempDir(), "Matters"), filepath.Join(t.TempDir(), "state"), u.Name+"-laptop"
	if edit != nil {
		edit(&cfg)
	}
	ctx := context.Background()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	idx, err := index.Open(ctx, filepath.Join(cfg.DataDir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	gw, err := client.New(cfg.Gateway.URL, kr, client.Options{Device: cfg.DeviceName})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := agent.New(cfg, idx, kr, gw, u.Name, u.EntityID, log)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := kr.Matters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{Agent: a, e: e, cfg: cfg, idx: idx}
	for _, m := range ms {
		if m.ID == e.matter {
			ta.folder = filepath.Join(cfg.Root, agent.MatterFolder(m.ID, m.Name))
		}
	}
	return ta
}

// sync runs one full pass and fails the test on an error.
func (a *testAgent) sync() agent.Summary {
	a.e.t.Helper()
	sum, err := a.SyncOnce(context.Background())
	if err != nil {
		a.e.t.Fatalf("sync: %v", err)
	}
	return sum
}

func (a *testAgent) path(rel string) string { return filepath.Join(a.folder, filepath.FromSlash(rel)) }

func (a *testAgent) write(rel string, data []byte) {
	a.e.t.Helper()
	p := a.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		a.e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		a.e.t.Fatal(err)
	}
}

func (a *testAgent) read(rel string) ([]byte, error) { return os.ReadFile(a.path(rel)) }

// errors returns the problems status shows for the matter.
func (a *testAgent) errors() []string {
	for _, m := range a.Status().Matters {
		if m.ID == a.e.matter {
			return m.Errors
		}
	}
	return nil
}

func hasProblem(list []string, sub string) bool {
	for _, p := range list {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}
