package agent_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// world is one matter on real Vault (kmstest), a real in-process gateway
// on SQLite and real MinIO, and agents driven one pass at a time: the
// harness for the agent's integration tests, which can also play the
// attacker (a member calling the API directly, a local user planting
// links).
type world struct {
	t       *testing.T
	vault   *kmstest.Env
	matter  string
	gateway string // URL
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	v := kmstest.Setup(t)
	w := &world{t: t, vault: v, matter: v.Matter(t)}
	m := testenv.MinIO(t)
	ctx, cancel := context.WithCancel(context.Background())
	tc := v.TokenConfig(t)
	verifier, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: tc.JWKSURL, Issuer: tc.Issuer, Audience: tc.Audience})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: m.Bucket(t), AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg := gateway.DefaultConfig()
	cfg.Listen, cfg.InsecureDev = "127.0.0.1:0", true
	cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e6, 1e6
	cfg.Limits.PollInterval = 50 * time.Millisecond
	srv, err := gateway.New(ctx, cfg, gateway.Deps{Store: st, Blobs: blobs, Verifier: verifier, SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	w.gateway = hs.URL
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return w
}

// member creates a user with role in the world's matter.
func (w *world) member(role kms.Role) kmstest.User {
	u := w.vault.User(w.t, false)
	w.vault.Grant(w.t, w.matter, u, role)
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
	cfg.Vault.Address, cfg.Vault.Username, cfg.Vault.Layout = w.vault.Config.Address, u.Name, w.vault.Config.Layout
	cfg.Root, cfg.DataDir, cfg.DeviceName = root, dataDir, u.Name+"-laptop"
	return cfg
}

// agentWith starts an agent for u with cfg, without syncing.
func (w *world) agentWith(u kmstest.User, cfg agent.Config) *testAgent {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kr := w.vault.Login(t, u)
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
	admin := w.vault.User(t, true)
	kr := w.vault.Login(t, admin)
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
	if _, err := w.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		w.t.Fatal(err)
	}
}
