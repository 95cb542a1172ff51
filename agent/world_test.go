package agent_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/agenttest"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// world is one matter on a Vault, an in-process gateway (gatewaytest) and
// agents driven one pass at a time: the harness for the agent's
// integration tests, which can also play the attacker (a member calling the
// API directly, a local user planting links).
//
// A real world (newWorld) is a real Vault (kmstest) and a gateway on SQLite
// and MinIO; a fake world (newFakeWorld) is agenttest.Fake and a gateway on
// SQLite and in-memory blobs, with no service at all. Scenarios written for
// both run through eachWorld.
type world struct {
	t      *testing.T
	v      agenttest.Vault // matters, members and logins, real or fake
	vault  *kmstest.Env    // the real Vault; nil in a fake world
	gw     *gatewaytest.Gateway
	matter string
	// gateway is gw.URL.
	gateway string
	// logTo, if set, gets the INFO log of the agents started after.
	logTo io.Writer
}

// newWorld returns a real world.
func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: real Vault and MinIO")
	}
	v := kmstest.Setup(t)
	return setupWorld(t, agenttest.Real(v), v, gatewaytest.Options{MinIO: true})
}

// newFakeWorld returns a world of fakes: seconds, no services.
func newFakeWorld(t *testing.T) *world {
	t.Helper()
	return setupWorld(t, agenttest.NewFake(t), nil, gatewaytest.Options{})
}

func setupWorld(t *testing.T, v agenttest.Vault, env *kmstest.Env, o gatewaytest.Options) *world {
	t.Helper()
	w := &world{t: t, v: v, vault: env, matter: v.Matter(t)}
	w.gw = v.Gateway(t, o)
	w.gateway = w.gw.URL
	return w
}

// eachWorld runs f in a fake world and, unless -short, in a real one: the
// same scenario on both.
func eachWorld(t *testing.T, f func(w *world)) {
	t.Run("fake", func(t *testing.T) { f(newFakeWorld(t)) })
	t.Run("real", func(t *testing.T) { f(newWorld(t)) })
}

// member creates a user with role in the world's matter.
func (w *world) member(role kms.Role) kmstest.User {
	u := w.v.User(w.t, false)
	w.v.Grant(w.t, w.matter, u, role)
	return u
}

// testAgent is one user's agent with its folder.
type testAgent struct {
	*agent.Agent
	w      *world
	user   kmstest.User
	cfg    agent.Config
	folder string // the matter's folder
}

func (w *world) agent(u kmstest.User) *testAgent {
	w.t.Helper()
	a := w.agentAt(u, w.t.TempDir(), w.t.TempDir())
	a.sync() // creates the matter folder
	return a
}

// agentAt starts an agent for u on the given matters root and data dir
// (a restarted laptop, a laptop whose index was deleted), without syncing.
func (w *world) agentAt(u kmstest.User, root, dataDir string) *testAgent {
	return w.agentWith(u, w.config(u, root, dataDir))
}

// config is an agent config for u in this world.
func (w *world) config(u kmstest.User, root, dataDir string) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.Gateway.URL = w.gateway
	cfg.Vault.Address, cfg.Vault.Username = "http://vault.invalid:8200", u.Name // the agent gets its keys from w.v
	if w.vault != nil {
		cfg.Vault.Address, cfg.Vault.Layout = w.vault.Config.Address, w.vault.Config.Layout
	}
	cfg.Root, cfg.DataDir, cfg.DeviceName = root, dataDir, u.Name+"-laptop"
	return cfg
}

// agentWith starts an agent for u with cfg, without syncing.
// runningAgent is u's agent running in the background (no status
// listener, a short debounce) until the test ends, when Run must return
// without error.
func (w *world) runningAgent(u kmstest.User) *testAgent {
	w.t.Helper()
	cfg := w.config(u, w.t.TempDir(), w.t.TempDir())
	cfg.StatusAddr, cfg.Debounce = "", 20*time.Millisecond
	a := w.agentWith(u, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	})
	return a
}

func (w *world) agentWith(u kmstest.User, cfg agent.Config) *testAgent {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kr := w.v.Login(t, u)
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
	if w.logTo != nil {
		log = slog.New(slog.NewTextHandler(w.logTo, nil))
	} else if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := agent.New(cfg, idx, kr, gw, u.Name, u.EntityID, log)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{Agent: a, w: w, user: u, cfg: cfg}
	ms, err := kr.Matters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == w.matter {
			ta.folder = filepath.Join(cfg.Root, agent.MatterFolder(m.ID, m.Name))
		}
	}
	return ta
}

// sync runs one full pass both ways and returns its summary.
func (a *testAgent) sync() agent.Summary {
	a.w.t.Helper()
	sum, err := a.SyncOnce(context.Background())
	if err != nil {
		a.w.t.Fatalf("%s: sync: %v", a.user.Name, err)
	}
	return sum
}

func (a *testAgent) path(rel string) string { return filepath.Join(a.folder, filepath.FromSlash(rel)) }

func (a *testAgent) write(rel string, data []byte) {
	a.w.t.Helper()
	p := a.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		a.w.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		a.w.t.Fatal(err)
	}
}

func (a *testAgent) read(rel string) ([]byte, error) { return os.ReadFile(a.path(rel)) }

// deny puts u on the gateway's deny list, as `user revoke` does.
func (w *world) deny(u kmstest.User) {
	t := w.t
	t.Helper()
	admin := w.v.User(t, true)
	kr := w.v.Login(t, admin)
	gw, err := client.New(w.gateway, kr, client.Options{Device: "it"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Deny(context.Background(), u.EntityID, u.Name, "left the firm"); err != nil {
		t.Fatal(err)
	}
}

// disable revokes u in Vault (disabled entity, tokens revoked, groups
// removed, matters rotated), as the Vault half of `user revoke` does.
func (w *world) disable(u kmstest.User) {
	w.t.Helper()
	w.v.Disable(w.t, u)
}

// objects returns every object in the world's storage, by key.
func (w *world) objects() map[string][]byte {
	t := w.t
	t.Helper()
	ctx := context.Background()
	var keys []string
	if w.gw.Mem != nil {
		keys = w.gw.Mem.Keys("")
	} else {
		for o := range w.gw.MinIO.Client(t).ListObjects(ctx, w.gw.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, o.Key)
		}
	}
	out := map[string][]byte{}
	for _, k := range keys {
		rc, _, err := w.gw.Blobs.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// auditCount counts the world's audit records of action in its matter.
func (w *world) auditCount(action string) int {
	w.t.Helper()
	n := 0
	err := w.gw.Stores.Audit.AuditRecords(context.Background(), audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		if r.Action == action {
			n++
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}
