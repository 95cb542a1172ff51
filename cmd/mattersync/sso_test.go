package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// ssoConfig writes u's agent config the way the installers do, with
// `mattersync config init` and its defaults (vault.auth oidc), then adds
// what only a test needs (Vault's mount layout of this test, a data dir).
func ssoConfig(t *testing.T, v *kmstest.Env, u kmstest.User, gwURL string) (agent.Config, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if out, err := run(t, "", "config", "init", "--config", path, "--gateway-url", gwURL, "--vault-addr", v.Config.Address,
		"--root", t.TempDir(), "--device", u.Name+"-laptop"); err != nil {
		t.Fatalf("config init: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if vault, _ := doc["vault"].(map[string]any); vault["auth"] != "oidc" {
		t.Fatalf("config init's default is not vault.auth oidc:\n%s", b)
	} else {
		vault["layout"] = v.Config.Layout
	}
	doc["data_dir"] = t.TempDir()
	if b, err = yaml.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// signInWriter is the terminal of `mattersync login`: when the command
// prints the identity provider's URL (no browser here), the person signs
// in there (a scripted browser).
type signInWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	once   sync.Once
	browse func(string) error
}

var authURLRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/oauth2/auth\?\S+`)

func (w *signInWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if u := authURLRE.FindString(w.buf.String()); u != "" {
		w.once.Do(func() { w.browse(u) })
	}
	return n, err
}

func (w *signInWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// ssoLoginCmd runs `mattersync login` for u, answering the code prompt
// with code.
func ssoLoginCmd(t *testing.T, sso *kmstest.SSO, u kmstest.SSOUser, code string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("MATTERSYNC_NO_BROWSER", "1")
	cmd := newRootCmd()
	w := &signInWriter{browse: sso.Browser(u, nil, nil)}
	cmd.SetArgs(append([]string{"login"}, args...))
	cmd.SetIn(strings.NewReader(code + "\n"))
	cmd.SetOut(w)
	cmd.SetErr(w)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return w.String(), err
}

// The end-to-end sign-in: `mattersync login` with vault.auth oidc sends
// the lawyer to the identity provider (real Hydra), asks for the code of
// the authenticator app (Vault's TOTP MFA), keeps the Vault token in the
// credential store, and the agent syncs with it. When Vault stops
// accepting the token (expired, here revoked), the agent stops syncing and
// asks to sign in again; what the lawyer saved meanwhile goes up after the
// next `mattersync login`, without restarting the agent, nothing lost or
// sent twice.
func TestSSOLoginAndSync(t *testing.T) {
	keyring.MockInit()
	v := kmstest.Setup(t)
	sso := v.SSO(t, testenv.Hydra(t))
	alice := sso.User(t)
	m := v.Matter(t)
	v.Grant(t, m, alice.User, kms.RoleRW)
	gw := gatewaytest.Start(t, gatewaytest.Options{Vault: v})
	cfg, path := ssoConfig(t, v, alice.User, gw.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	out, err := ssoLoginCmd(t, sso, alice, alice.Code(t), "--config", path)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	for _, want := range []string{"Sign in with your firm's account", "logged in to", "as " + alice.Name, m} {
		if !strings.Contains(out, want) {
			t.Errorf("login output does not say %q:\n%s", want, out)
		}
	}
	tok, err := keyring.Get(keychainService, cfg.TokenKey())
	if err != nil || tok == "" {
		t.Fatalf("no token in the credential store: %v", err)
	}

	// The agent syncs with the stored sign-in.
	done := make(chan error, 1)
	actx, stop := context.WithCancel(ctx)
	defer func() { stop(); <-done }()
	shown := &notes{}
	go func() { done <- runAgent(actx, &options{configPath: path, notify: shown}, false) }()
	folder := waitFolder(t, ctx, cfg.Root)
	write(t, filepath.Join(folder, "before.txt"), "saved while signed in")
	waitUsage(t, ctx, gw, m, 1)

	// The sign-in ends (Vault refuses the token): the agent stops syncing
	// and says to sign in again.
	if err := kms.RevokeToken(ctx, v.Config, tok); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, ctx, path, func(s agent.Status) bool { return strings.Contains(s.Message, "mattersync login") })
	if st.State == "idle" || st.State == "syncing" {
		t.Fatalf("status after the login ended: %+v", st)
	}
	// and tells the lawyer on the desktop, once.
	deadline := time.Now().Add(30 * time.Second)
	for len(shown.list()) == 0 && time.Now().Before(deadline) {
		sleep(t, ctx, "the sign-in notification")
	}
	if got := shown.list(); len(got) != 1 || !strings.Contains(got[0], "sign in again") || !strings.Contains(got[0], "mattersync login") {
		t.Fatalf("desktop notifications after the sign-in ended: %q; want one saying to run mattersync login", got)
	}
	write(t, filepath.Join(folder, "during.txt"), "saved while signed out")
	write(t, filepath.Join(folder, "before.txt"), "edited while signed out")

	// Signing in again (a new code: the first one is used) resumes.
	out, err = ssoLoginCmd(t, sso, alice, nextCode(t, alice), "--config", path)
	if err != nil {
		t.Fatalf("login again: %v\n%s", err, out)
	}
	u := waitUsage(t, ctx, gw, m, 2)
	waitVersions(t, ctx, gw, m, 3)
	select {
	case err := <-done:
		t.Fatalf("the agent exited: %v", err)
	default:
	}
	if u.Files != 2 {
		t.Fatalf("usage %+v: want 2 files", u)
	}
	if got := shown.list(); len(got) != 1 {
		t.Fatalf("desktop notifications: %q; want only the one when the sign-in ended", got)
	}
}

// A refused sign-in (here a wrong code) stores nothing, says why, and the
// agent keeps saying to sign in.
func TestSSOLoginRefused(t *testing.T) {
	keyring.MockInit()
	v := kmstest.Setup(t)
	sso := v.SSO(t, testenv.Hydra(t))
	alice := sso.User(t)
	cfg, path := ssoConfig(t, v, alice.User, "https://gw.invalid")
	out, err := ssoLoginCmd(t, sso, alice, "000000", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "code is wrong") {
		t.Fatalf("wrong code: %v\n%s", err, out)
	}
	if _, err := keyring.Get(keychainService, cfg.TokenKey()); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("a refused sign-in stored something: %v", err)
	}
	// An enrolled user with no login yet: the agent's login is the stored
	// token, and there is none.
	auth, err := cfg.Authenticator(credentials{dataDir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kms.Login(context.Background(), vaultConfig(cfg), auth); kms.KindOf(err) != kms.Denied || !strings.Contains(err.Error(), "mattersync login") {
		t.Fatalf("agent login without a sign-in: %v", err)
	}
}

// nextCode returns the code of the next 30-second period: the current one
// was used by the last sign-in, and Vault refuses a code twice (it
// accepts one period of skew).
func nextCode(t *testing.T, u kmstest.SSOUser) string {
	t.Helper()
	return u.CodeAt(t, time.Now().Add(30*time.Second))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFolder waits for the one matter folder under root.
func waitFolder(t *testing.T, ctx context.Context, root string) string {
	t.Helper()
	for {
		if es, err := os.ReadDir(root); err == nil && len(es) == 1 {
			return filepath.Join(root, es[0].Name())
		}
		sleep(t, ctx, "the matter folder")
	}
}

// waitUsage waits until the gateway holds files files of matter.
func waitUsage(t *testing.T, ctx context.Context, gw *gatewaytest.Gateway, matter string, files int64) store.Usage {
	t.Helper()
	for {
		u, err := gw.Stores.Usage.Usage(ctx, matter)
		if err == nil && u.Files >= files {
			return u
		}
		sleep(t, ctx, "files at the gateway")
	}
}

// waitVersions waits until the gateway holds n versions of matter's files.
func waitVersions(t *testing.T, ctx context.Context, gw *gatewaytest.Gateway, matter string, n int64) {
	t.Helper()
	for {
		u, err := gw.Stores.Usage.Usage(ctx, matter)
		if err == nil && u.Versions >= n {
			if u.Versions > n {
				t.Fatalf("usage %+v: more than %d versions (sent twice?)", u, n)
			}
			return
		}
		sleep(t, ctx, "versions at the gateway")
	}
}

// waitStatus waits until the running agent's status (mattersync status
// --json) satisfies ok.
func waitStatus(t *testing.T, ctx context.Context, cfgPath string, ok func(agent.Status) bool) agent.Status {
	t.Helper()
	var last string
	for {
		out, err := run(t, "", "status", "--json", "--config", cfgPath)
		var st agent.Status
		if err == nil && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return st
		}
		last = out
		if ctx.Err() != nil {
			t.Fatalf("status never became what the test waits for; last: %s", last)
		}
		sleep(t, ctx, "the status")
	}
}

func sleep(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatalf("gave up waiting for %s", what)
	case <-time.After(200 * time.Millisecond):
	}
}
