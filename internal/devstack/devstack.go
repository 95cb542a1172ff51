// Package devstack runs mattersync's whole local stack on one machine: a
// persistent Vault server, MinIO, the gateway on SQLite, and one agent per
// demo user. `make run` and the end-to-end tests drive the same code, so
// what a newcomer sees is what the tests check.
//
// Everything lives under one folder (.run/ for `make run`): data, logs, and
// the dev-only secrets (Vault's unseal key and root token, the demo users'
// passwords) in files readable by the owner only. A second Start on the same
// folder reuses all of it. This is a developer's stack, never a deployment:
// production keeps unseal keys and passwords out of files (docs/OPERATIONS.md).
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/internal/proc"
	"github.com/mattersync/mattersync/internal/testenv"
)

// Options configure a stack.
type Options struct {
	Dir   string   // state folder, e.g. .run
	Bin   string   // folder with mattersync, mattersync-gateway, mattersync-admin
	Tools string   // folder with vault and minio ("" = find them on PATH)
	Users []string // demo users, each with an agent; default alice, bob
	// Roles gives a user's role in the demo matter: "rw" (the default),
	// "ro", or "none" (a firm user who is not a member).
	Roles    map[string]string
	Matter   string // demo matter ID; default 2026-0001
	Name     string // its display name; default "Demo v. Example"
	Ports    Ports  // 0 = pick a free port (on first start; then kept)
	Progress io.Writer
	// AgentEnv is added to every agent's environment (tests tune logging).
	AgentEnv []string
	// Debounce for the agents (default 200ms).
	Debounce time.Duration
	// SSO puts an identity provider (ORY Hydra) in front of Vault, with
	// TOTP MFA, and the agents sign in through it (make run SSO=1; sso.go).
	SSO bool
	// Replicas > 1 runs that many gateways on PostgreSQL behind HAProxy,
	// and MinIO on four drives: the production shape (cluster.go).
	Replicas int
	// Mail runs Mailpit and turns share links on, their one-time codes
	// mailed to it (make run; the tests that share start their own).
	Mail bool
	// PostgresDSN is the replicas' database (default: mattersync_devstack
	// on the local server).
	PostgresDSN string
}

// Ports are the loopback ports of the servers. GatewayOps serves the
// gateway's /healthz, /readyz and /metrics (its ops_listen).
type Ports struct {
	Vault, MinIO, MinIOConsole, Gateway, GatewayOps int
	// Replica and ReplicaOps are the replicas' own ports (Replicas > 1;
	// Gateway is then HAProxy's).
	Replica, ReplicaOps []int `json:",omitempty"`
}

// state is what the stack remembers between starts (state.json, 0600).
type state struct {
	Ports      Ports              `json:"ports"`
	UnsealKey  string             `json:"unseal_key"`
	RootToken  string             `json:"root_token"`
	S3Access   string             `json:"s3_access_key"`
	S3Secret   string             `json:"s3_secret_key"`
	Passwords  map[string]string  `json:"passwords"`
	Admin      string             `json:"admin_user"`
	MatterDone bool               `json:"matter_created"`
	SSO        map[string]ssoUser `json:"sso,omitempty"`
}

// Stack is a running local stack.
type Stack struct {
	opts   Options
	st     state
	procs  map[string]*proc.Process
	Agents map[string]*Agent
	unlock func() // releases the state folder (lockDir)
	hydra  *testenv.HydraServer
	// mailpit receives the share links' one-time codes (docs/SHARING.md):
	// the gateways mail them to it, the developer reads them in its web UI.
	mailpit *testenv.MailpitServer
}

// Agent is one demo user's agent.
type Agent struct {
	User    string
	Root    string // the user's Matters folder
	DataDir string
	Config  string
	Folder  string // the demo matter's folder below Root
	proc    *proc.Process
	stack   *Stack
}

// VaultAddr, GatewayURL and the rest describe the running stack.
func (s *Stack) VaultAddr() string  { return fmt.Sprintf("http://127.0.0.1:%d", s.st.Ports.Vault) }
func (s *Stack) GatewayURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.st.Ports.Gateway) }

// GatewayOpsURL serves the gateway's /healthz, /readyz and /metrics.
func (s *Stack) GatewayOpsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.st.Ports.GatewayOps)
}
func (s *Stack) MinIOEndpoint() string {
	return fmt.Sprintf("127.0.0.1:%d", s.st.Ports.MinIO)
}
func (s *Stack) MinIODataDir() string        { return filepath.Join(s.opts.Dir, "minio") }
func (s *Stack) RootToken() string           { return s.st.RootToken }
func (s *Stack) S3Keys() (string, string)    { return s.st.S3Access, s.st.S3Secret }
func (s *Stack) Password(user string) string { return s.st.Passwords[user] }
func (s *Stack) AdminUser() string           { return s.st.Admin }
func (s *Stack) Bucket() string              { return "mattersync" }
func (s *Stack) MatterFolderName() string    { return s.opts.Name + " [" + s.opts.Matter + "]" }

func (s *Stack) say(format string, args ...any) {
	if s.opts.Progress != nil {
		fmt.Fprintf(s.opts.Progress, "devstack: "+format+"\n", args...)
	}
}

// Start brings the stack up (or back up) and returns when every agent runs.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if len(o.Users) == 0 {
		o.Users = []string{"alice", "bob"}
	}
	if o.Matter == "" {
		o.Matter, o.Name = "2026-0001", "Demo v. Example"
	}
	if o.Debounce == 0 {
		o.Debounce = 200 * time.Millisecond
	}
	for _, p := range []*string{&o.Dir, &o.Bin, &o.Tools} {
		if *p == "" {
			continue
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	s := &Stack{opts: o, procs: map[string]*proc.Process{}, Agents: map[string]*Agent{}, unlock: unlock}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.loadState(); err != nil {
		return nil, err
	}
	if err := s.startVault(ctx); err != nil {
		return nil, err
	}
	if err := s.startMinIO(ctx); err != nil {
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		return nil, err
	}
	if o.SSO {
		if err := s.startSSO(ctx); err != nil {
			return nil, err
		}
	}
	if o.Mail {
		if err := s.startMailpit(); err != nil {
			return nil, err
		}
	}
	start := s.startGateway
	if o.Replicas > 1 {
		start = s.startCluster
	}
	if err := start(ctx); err != nil {
		return nil, err
	}
	for _, u := range o.Users {
		if err := s.StartAgent(u); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) statePath() string { return filepath.Join(s.opts.Dir, "state.json") }

func (s *Stack) loadState() error {
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		s.st.Ports = s.opts.Ports
		s.st.Passwords = map[string]string{}
		s.st.S3Access, s.st.S3Secret = "dev"+randomHex(6), randomHex(20)
		return s.pickPorts()
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &s.st); err != nil {
		return fmt.Errorf("devstack: %s: %w (remove the folder to start over)", s.statePath(), err)
	}
	// A folder from before a port was added gets one now, kept from then on.
	return s.pickPorts()
}

func (s *Stack) saveState() error {
	b, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.statePath())
}

func (s *Stack) pickPorts() error {
	for _, p := range []*int{&s.st.Ports.Vault, &s.st.Ports.MinIO, &s.st.Ports.MinIOConsole, &s.st.Ports.Gateway, &s.st.Ports.GatewayOps} {
		if *p != 0 {
			continue
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		*p = port
	}
	return s.pickReplicaPorts()
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Stack) tool(name string) string {
	if s.opts.Tools != "" {
		if p := filepath.Join(s.opts.Tools, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func (s *Stack) bin(name string) string { return filepath.Join(s.opts.Bin, name) }

func (s *Stack) logPath(name string) string { return filepath.Join(s.opts.Dir, "logs", name+".log") }

func (s *Stack) start(name string, spec proc.Spec) error {
	spec.Name = name
	if spec.Log == "" {
		spec.Log = s.logPath(name)
	}
	p, err := proc.Start(spec)
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.procs[name] = p
	return nil
}

func (s *Stack) startVault(ctx context.Context) error {
	dir := filepath.Join(s.opts.Dir, "vault")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	hcl := fmt.Sprintf(`storage "file" { path = %q }
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr      = %q
disable_mlock = true
ui            = false
`, filepath.Join(dir, "data"), s.st.Ports.Vault, s.VaultAddr())
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(hcl), 0o600); err != nil {
		return err
	}
	s.say("starting Vault at %s", s.VaultAddr())
	// sys/health answers 501/503 until initialized and unsealed: probe
	// with standbyok/uninitcode so "up" is enough here.
	err := s.start("vault", proc.Spec{Bin: s.tool("vault"), Args: []string{"server", "-config", filepath.Join(dir, "vault.hcl")},
		Env: []string{"HOME=" + dir, "VAULT_LOG_LEVEL=warn"}, Dir: dir,
		Ready: s.VaultAddr() + "/v1/sys/health?uninitcode=200&sealedcode=200&standbyok=true"})
	if err != nil {
		return err
	}
	if s.st.RootToken == "" {
		s.say("initializing Vault (one unseal key, kept in %s: dev only)", s.statePath())
		out, err := s.vaultCLI(ctx, "", "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json")
		if err != nil {
			return err
		}
		var init struct {
			Keys      []string `json:"unseal_keys_b64"`
			RootToken string   `json:"root_token"`
		}
		if err := json.Unmarshal([]byte(out), &init); err != nil || len(init.Keys) != 1 {
			return fmt.Errorf("devstack: vault operator init: unexpected output (%v)", err)
		}
		s.st.UnsealKey, s.st.RootToken = init.Keys[0], init.RootToken
		if err := s.saveState(); err != nil {
			return err
		}
	}
	if _, err := s.vaultCLI(ctx, "", "operator", "unseal", s.st.UnsealKey); err != nil {
		return err
	}
	return waitHTTP(ctx, s.VaultAddr()+"/v1/sys/health", 30*time.Second)
}

// vaultCLI runs the vault binary against the stack's Vault.
func (s *Stack) vaultCLI(ctx context.Context, token string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.tool("vault"), args...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+s.VaultAddr(), "VAULT_TOKEN="+token, "HOME="+filepath.Join(s.opts.Dir, "vault"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("devstack: vault %s: %w: %s", args[0]+" "+args[1], err, redactOut(out))
	}
	return string(out), nil
}

func (s *Stack) startMinIO(ctx context.Context) error {
	dir := s.MinIODataDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	drives := dir
	env := []string{"MINIO_ROOT_USER=" + s.st.S3Access, "MINIO_ROOT_PASSWORD=" + s.st.S3Secret, "MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME=" + s.opts.Dir}
	if s.opts.Replicas > 1 {
		// Four drives, erasure coded, as a production deployment has
		// (MinIO expands the {1...4}). They share this machine's root
		// disk, which MinIO refuses ("drive not found") unless told it
		// is a test setup.
		drives = filepath.Join(dir, "drive{1...4}")
		env = append(env, "MINIO_CI_CD=on")
	}
	s.say("starting MinIO at %s (data in %s)", s.MinIOEndpoint(), drives)
	err := s.start("minio", proc.Spec{Bin: s.tool("minio"),
		Args: []string{"server", "--quiet", "--address", s.MinIOEndpoint(), "--console-address", fmt.Sprintf("127.0.0.1:%d", s.st.Ports.MinIOConsole), drives},
		Env:  env,
		Dir:  s.opts.Dir, Ready: "http://" + s.MinIOEndpoint() + "/minio/health/ready"})
	if err != nil {
		return err
	}
	return s.makeBucket(ctx)
}

// admin runs mattersync-admin as root against the stack.
func (s *Stack) admin(ctx context.Context, stdin string, args ...string) (string, error) {
	return s.adminEnv(ctx, nil, stdin, args...)
}

// adminEnv is admin with env added to its environment.
func (s *Stack) adminEnv(ctx context.Context, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin("mattersync-admin"), args...)
	cmd.Env = append(append(os.Environ(), "VAULT_ADDR="+s.VaultAddr(), "VAULT_TOKEN="+s.st.RootToken, "MATTERSYNC_GATEWAY_URL=", "HOME="+s.opts.Dir), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("devstack: mattersync-admin %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// bootstrap sets Vault up for mattersync, creates the demo users, the
// admin and the demo matter: each once.
func (s *Stack) bootstrap(ctx context.Context) error {
	s.say("mattersync-admin vault init")
	if _, err := s.admin(ctx, "", "vault", "init", "--userpass", "--issuer", s.VaultAddr()); err != nil {
		return err
	}
	if s.st.Admin == "" {
		s.st.Admin = "itadmin"
	}
	for _, u := range append([]string{s.st.Admin}, s.opts.Users...) {
		if s.st.Passwords[u] != "" {
			continue
		}
		pw := randomHex(16)
		args := []string{"user", "create", u, "--password-stdin"}
		if u == s.st.Admin {
			args = append(args, "--admin")
		}
		s.say("creating user %s", u)
		if _, err := s.admin(ctx, pw+"\n", args...); err != nil {
			return err
		}
		s.st.Passwords[u] = pw
		if err := s.saveState(); err != nil {
			return err
		}
	}
	if !s.st.MatterDone {
		s.say("creating matter %s %q with members %s", s.opts.Matter, s.opts.Name, strings.Join(s.opts.Users, ", "))
		if _, err := s.admin(ctx, "", "matter", "create", s.opts.Matter, "--name", s.opts.Name); err != nil {
			return err
		}
		for _, u := range s.opts.Users {
			role := s.opts.Roles[u]
			if role == "" {
				role = "rw"
			}
			if role == "none" {
				continue
			}
			if _, err := s.admin(ctx, "", "matter", "grant", s.opts.Matter, u, "--role", role); err != nil {
				return err
			}
		}
		s.st.MatterDone = true
		return s.saveState()
	}
	return nil
}

func (s *Stack) startGateway(ctx context.Context) error {
	dir, key, err := s.gatewayDir(ctx)
	if err != nil {
		return err
	}
	cfg := s.singleConfig(filepath.Join(dir, "gateway.db"), key)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	s.say("starting the gateway at %s", s.GatewayURL())
	return s.start("gateway", proc.Spec{Bin: s.bin("mattersync-gateway"), Args: []string{"--config", path},
		Env: []string{"MATTERSYNC_S3_ACCESS_KEY=" + s.st.S3Access, "MATTERSYNC_S3_SECRET_KEY=" + s.st.S3Secret},
		Dir: dir, Ready: s.GatewayOpsURL() + "/readyz"})
}

// singleConfig is the one gateway's config: SQLite, no load balancer.
func (s *Stack) singleConfig(db, key string) string {
	store := fmt.Sprintf("  driver: sqlite\n  sqlite_path: %q\n", db)
	return s.gatewayConfig(s.st.Ports.Gateway, s.st.Ports.GatewayOps, store, key, `# No load balancer: the agents connect directly, so the connection's
# address is the client's and no X-Forwarded-For is believed. (Every demo
# agent is 127.0.0.1, one source for the failed-login limit; a valid token
# is served whatever that source's failures.)
trusted_proxies: []
`)
}

// gatewayDir returns the gateways' folder and their audit signing key in
// it, both made on first use (every replica signs with the same key).
func (s *Stack) gatewayDir(ctx context.Context) (dir, key string, err error) {
	dir = filepath.Join(s.opts.Dir, "gateway")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key = filepath.Join(dir, "audit-signing-key.pem")
	if !fileExists(key) {
		out, err := exec.CommandContext(ctx, s.bin("mattersync-gateway"), "keygen", "--out", key).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("devstack: gateway keygen: %w: %s", err, out)
		}
	}
	return dir, key, nil
}

// gatewayConfig is the developer's gateway configuration: plain HTTP on
// loopback, the operational endpoints on their own port; store is the
// store section's body, proxies the trusted_proxies setting.
func (s *Stack) gatewayConfig(listen, ops int, store, key, proxies string) string {
	return fmt.Sprintf(`# written by devstack (make run): a developer's gateway, plain HTTP on loopback
listen: "127.0.0.1:%d"
ops_listen: "127.0.0.1:%d"   # /healthz, /readyz, /metrics
ops_pprof: true              # /debug/pprof/ on the ops port (bench/load profiles)
insecure_dev: true
s3:
  endpoint: %q
  bucket: %s
  insecure: true
  access_key_env: MATTERSYNC_S3_ACCESS_KEY
  secret_key_env: MATTERSYNC_S3_SECRET_KEY
store:
%svault:
  address: %q
  audience: mattersync
limits:
  requests_per_second: 1000   # one demo laptop's initial sync is thousands of small requests
  burst: 2000
audit:
  signing_key_file: %q
  checkpoint_interval: 1m
%s%s`, listen, ops, s.MinIOEndpoint(), s.Bucket(), store, s.VaultAddr(), key, proxies, s.sharingConfig())
}

// sharingConfig is the gateways' sharing: section: share links on by
// default, their codes mailed to the stack's Mailpit over plain SMTP
// (insecure_dev allows it), links starting at the gateway's URL.
func (s *Stack) sharingConfig() string {
	if s.mailpit == nil {
		return ""
	}
	host, port, _ := net.SplitHostPort(s.mailpit.SMTPAddr)
	return fmt.Sprintf(`sharing:
  default: "on"
  public_url: %q
  smtp:
    host: %q
    port: %s
    from: "Demo firm shares <shares@demo-firm.test>"
    tls: none                # Mailpit on loopback; a real relay needs starttls or tls
`, s.GatewayURL(), host, port)
}

// startMailpit starts Mailpit for the share links' codes (on fresh ports
// each start; the gateways' config is written after it).
func (s *Stack) startMailpit() error {
	bin := s.tool("mailpit")
	if bin == "mailpit" {
		bin = "" // not in Tools nor on PATH: FindBinary says where it looked
	}
	m, err := testenv.StartMailpit(bin)
	if err != nil {
		return fmt.Errorf("devstack: mailpit: %w", err)
	}
	s.mailpit = m
	s.say("mail of share codes goes to Mailpit at %s", m.APIURL)
	return nil
}

// MailpitURL is Mailpit's web UI and API ("" before Start).
func (s *Stack) MailpitURL() string {
	if s.mailpit == nil {
		return ""
	}
	return s.mailpit.APIURL
}

// agentConfig is the config of a demo user's agent: userpass with the
// password in its environment, or with SSO the identity provider's sign-in
// (`mattersync login`).
func (s *Stack) agentConfig(a *Agent) string {
	user := a.User
	auth := "auth: userpass\n  auth_mount: userpass"
	if s.opts.SSO {
		auth = "auth: oidc   # mattersync login: the identity provider in the browser, then the TOTP code"
	}
	return fmt.Sprintf(`# written by devstack (make run)
gateway: {url: %q}
vault:
  address: %q
  %s
  username: %s
  password_env: MATTERSYNC_VAULT_PASSWORD
root: %q
data_dir: %q
device_name: %s-laptop
debounce: %s
rescan_interval: 1m
status_addr: "127.0.0.1:0"
log_level: debug
insecure_http: true # the dev stack speaks http on loopback
`, s.GatewayURL(), s.VaultAddr(), auth, user, a.Root, a.DataDir, user, s.opts.Debounce)
}

// StartAgent starts (or restarts) a user's agent.
func (s *Stack) StartAgent(user string) error {
	a, ok := s.Agents[user]
	if !ok {
		home := filepath.Join(s.opts.Dir, user)
		a = &Agent{User: user, Root: filepath.Join(home, "Matters"), DataDir: filepath.Join(home, "state"),
			Config: filepath.Join(home, "agent.yaml"), stack: s}
		a.Folder = filepath.Join(a.Root, s.MatterFolderName())
		cfg := s.agentConfig(a)
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(a.Config, []byte(cfg), 0o600); err != nil {
			return err
		}
		s.Agents[user] = a
	}
	s.say("starting %s's agent on %s", user, a.Root)
	p, err := proc.Start(proc.Spec{Name: "agent-" + user, Bin: s.bin("mattersync"), Args: []string{"run", "--config", a.Config},
		Env: append([]string{"MATTERSYNC_VAULT_PASSWORD=" + s.st.Passwords[user]}, s.opts.AgentEnv...),
		Dir: s.opts.Dir, Log: s.logPath("agent-" + user)})
	if err != nil {
		return err
	}
	a.proc = p
	// Running means its status endpoint answers.
	deadline := time.Now().Add(60 * time.Second)
	for !fileExists(filepath.Join(a.DataDir, "status.addr")) || !a.statusUp() {
		select {
		case <-p.Done():
			return fmt.Errorf("devstack: %s's agent exited: %s", user, p.LogTail(2000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devstack: %s's agent did not come up: %s", user, p.LogTail(2000))
		}
	}
	return nil
}

func (a *Agent) statusUp() bool {
	b, err := os.ReadFile(filepath.Join(a.DataDir, "status.addr"))
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", strings.TrimSpace(string(b)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Path returns the local path of a matter-relative path in this agent's
// copy of the demo matter.
func (a *Agent) Path(rel string) string { return filepath.Join(a.Folder, filepath.FromSlash(rel)) }

// StopAgent stops a user's agent gracefully; KillAgent kills it (kill -9).
func (s *Stack) StopAgent(user string) { s.endAgent(user, (*proc.Process).Stop) }

// KillAgent kills a user's agent at once, like a crash or a power cut.
func (s *Stack) KillAgent(user string) { s.endAgent(user, (*proc.Process).Kill) }

func (s *Stack) endAgent(user string, end func(*proc.Process)) {
	if a := s.Agents[user]; a != nil && a.proc != nil {
		end(a.proc)
		os.Remove(filepath.Join(a.DataDir, "status.addr"))
		a.proc = nil
	}
}

// AgentPID returns the process ID of a user's running agent.
func (s *Stack) AgentPID(user string) (int, error) {
	a := s.Agents[user]
	if a == nil || a.proc == nil {
		return 0, fmt.Errorf("devstack: %s's agent is not running", user)
	}
	return a.proc.PID(), nil
}

// AgentDone is closed when a user's agent exits by itself.
func (s *Stack) AgentDone(user string) <-chan struct{} { return s.Agents[user].proc.Done() }

// Admin runs mattersync-admin against the stack, as the Vault root token
// and with the gateway configured.
func (s *Stack) Admin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin("mattersync-admin"), append([]string{"--login", s.st.Admin}, args...)...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+s.VaultAddr(), "VAULT_TOKEN=", "MATTERSYNC_GATEWAY_URL="+s.GatewayURL(), "HOME="+s.opts.Dir)
	cmd.Stdin = strings.NewReader(s.st.Passwords[s.st.Admin] + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Wait blocks until ctx ends or a server exits on its own.
func (s *Stack) Wait(ctx context.Context) error {
	type exit struct {
		name string
		p    *proc.Process
	}
	for {
		exits := make(chan exit, len(s.procs))
		for name, p := range s.procs {
			go func() { <-p.Done(); exits <- exit{name, p} }()
		}
		var e exit
		select {
		case <-ctx.Done():
			return nil
		case e = <-exits:
		}
		i, replica := s.replicaIndex(e.name)
		if !replica {
			return fmt.Errorf("devstack: %s exited: %s", e.name, e.p.LogTail(1500))
		}
		// A replica that dies is what the production shape is for: the
		// others serve, and it comes back as a service manager would
		// bring it back.
		s.say("%s exited (the other replicas serve meanwhile); restarting it in 2 s", e.name)
		delete(s.procs, e.name)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
		if err := s.StartReplica(i); err != nil {
			return err
		}
	}
}

// Stop stops the agents, then the gateway, MinIO and Vault.
func (s *Stack) Stop() {
	for u := range s.Agents {
		s.StopAgent(u)
	}
	s.stopSSO()
	if s.mailpit != nil {
		s.mailpit.Stop()
		s.mailpit = nil
	}
	names := []string{"haproxy", "gateway"}
	for i := range s.opts.Replicas {
		names = append(names, replicaName(i))
	}
	for _, name := range append(names, "minio", "vault") {
		s.endProc(name, (*proc.Process).Stop)
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// Guide is what `make run` prints once the stack is up.
func (s *Stack) Guide() string {
	var b strings.Builder
	folder := s.MatterFolderName()
	fmt.Fprintf(&b, "\nmattersync is running. Everything lives in %s; logs in %s.\n\n", s.opts.Dir, filepath.Join(s.opts.Dir, "logs"))
	if len(s.opts.Users) >= 2 {
		a, c := s.Agents[s.opts.Users[0]], s.Agents[s.opts.Users[1]]
		fmt.Fprintf(&b, "  Drop a file into   %s\n", filepath.Join(a.Root, folder))
		fmt.Fprintf(&b, "  and it appears in  %s\n", filepath.Join(c.Root, folder))
		fmt.Fprintf(&b, "  (and the other way round) within about a second.\n\n")
	}
	fmt.Fprintf(&b, "  Storage holds only ciphertext under opaque names:\n    find %s -path '*m/%s*' | head\n", s.MinIODataDir(), s.opts.Matter)
	if s.opts.Replicas > 1 {
		fmt.Fprintf(&b, "  Gateway:  %s (HAProxy) in front of %d replicas on PostgreSQL; /healthz, /readyz, /metrics at", s.GatewayURL(), s.opts.Replicas)
		for i := range s.opts.Replicas {
			fmt.Fprintf(&b, " %s", s.ReplicaOpsURL(i))
		}
		fmt.Fprintf(&b, "\n  Kill one (pkill -9 -f %s.yaml): the others serve, and it is restarted in 2 s.\n", replicaName(0))
		fmt.Fprintf(&b, "  Vault:    %s\n\n", s.VaultAddr())
	} else {
		fmt.Fprintf(&b, "  Gateway:  %s   (/healthz, /readyz, /metrics at %s)\n  Vault:    %s\n\n", s.GatewayURL(), s.GatewayOpsURL(), s.VaultAddr())
	}
	if s.mailpit != nil {
		fmt.Fprintf(&b, "  Mail:     %s   (Mailpit: the one-time codes of share links; docs/SHARING.md)\n\n", s.mailpit.APIURL)
	}
	b.WriteString(s.ssoGuide())
	fmt.Fprintf(&b, "  As IT, in another terminal (%s is the demo admin; its password is in %s):\n", s.st.Admin, s.statePath())
	fmt.Fprintf(&b, "    export VAULT_ADDR=%s MATTERSYNC_GATEWAY_URL=%s\n", s.VaultAddr(), s.GatewayURL())
	fmt.Fprintf(&b, "    admin() { sed -n 's/.*\"%s\": \"\\(.*\\)\".*/\\1/p' %s | bin/mattersync-admin --login %s \"$@\"; }\n", s.st.Admin, s.statePath(), s.st.Admin)
	fmt.Fprintf(&b, "    admin matter members %s\n", s.opts.Matter)
	fmt.Fprintf(&b, "    admin audit export --format jsonl | tail\n")
	fmt.Fprintf(&b, "    admin user revoke bob\n")
	fmt.Fprintf(&b, "    bin/mattersync --config %s status\n\n", s.Agents[s.opts.Users[0]].Config)
	if u := s.opts.Users[0]; s.Agents[u] != nil && !s.opts.SSO { // with SSO, the sign-in above serves them
		a := s.Agents[u]
		fmt.Fprintf(&b, "  As %s, old versions and restores need a login once in this terminal:\n", u)
		fmt.Fprintf(&b, "    sed -n 's/.*\"%s\": \"\\(.*\\)\".*/\\1/p' %s | bin/mattersync --config %s login --token-file\n", u, s.statePath(), a.Config)
		fmt.Fprintf(&b, "    bin/mattersync --config %s versions \"%s\"\n\n", a.Config, filepath.Join(a.Folder, "<file>"))
	}
	fmt.Fprintf(&b, "Ctrl-C stops everything; `make run` again picks up where it left off; `make clean-run` starts over.\n")
	return b.String()
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	return waitHTTPStatus(ctx, url, http.StatusOK, timeout)
}

// waitHTTPStatus polls url until it answers with status.
func waitHTTPStatus(ctx context.Context, url string, status int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == status {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devstack: %s not ready after %v", url, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// redactOut keeps Vault CLI output (which may hold keys) out of errors
// beyond its first line.
func redactOut(b []byte) string {
	first, _, _ := strings.Cut(string(b), "\n")
	if len(first) > 200 {
		first = first[:200]
	}
	return strconv.Quote(first)
}

// BuildBinaries builds the three mattersync binaries into dir (tests and
// benchmarks run the real binaries, like `make run`).
func BuildBinaries(moduleRoot, dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/mattersync", "./cmd/mattersync-gateway", "./cmd/mattersync-admin")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("devstack: build binaries: %w: %s", err, out)
	}
	return nil
}
