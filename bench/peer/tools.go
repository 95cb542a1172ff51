package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/devstack"
)

// measure is one timed run of a tool's process.
type measure struct {
	d   time.Duration
	rss int64 // peak resident set of the process, bytes
	// cpu is the CPU time of the process and of the stack's servers
	// (gateway, MinIO, Vault) during the run: on a shared machine a
	// tool's wall time is mostly its share of the cores, and the CPU it
	// spends is the steadier measure of the work it makes.
	cpu time.Duration
}

// peer is one tool under test. upload stores a corpus under name (a name
// never used before: every upload is a first upload); download brings what
// upload stored under name to an empty folder on a "new device" and
// returns that folder.
type peer interface {
	name() string
	upload(ctx context.Context, name string, c corpus) (measure, error)
	download(ctx context.Context, name, dst string) (measure, string, error)
}

// timed runs cmd and measures it; out collects its output for errors.
func timed(cmd *exec.Cmd) (measure, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	m := measure{d: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		m.rss = peakRSS(ps)
		m.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		tail := out.String()
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		return m, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, tail)
	}
	return m, nil
}

// mattersync is the agent (`mattersync sync --once`, Vault login
// included) through the stack's gateway. Each upload gets a user and a
// matter of its own, so it is a first sync that nothing dedupes against,
// and a new device downloads that matter alone.
type mattersync struct {
	label  string
	s      *devstack.Stack
	bin    string // folder with the three binaries
	agent  string // the agent binary (another build, to compare two)
	work   string
	prefix string            // of its matters and users
	n      *int              // devices made (shared by the builds compared)
	pw     map[string]string // user -> password
}

func (m *mattersync) name() string { return m.label }

// root runs mattersync-admin as Vault's root token, as `make run` does to
// bootstrap.
func (m *mattersync) root(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(m.bin, "mattersync-admin"), args...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+m.s.VaultAddr(), "VAULT_TOKEN="+m.s.RootToken(), "MATTERSYNC_GATEWAY_URL=", "HOME="+m.work)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mattersync-admin %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// device writes the config of a new laptop of user and returns its path
// and Matters folder.
func (m *mattersync) device(user string) (string, string, error) {
	*m.n++
	home := filepath.Join(m.work, fmt.Sprintf("device-%03d", *m.n))
	rootDir := filepath.Join(home, "Matters")
	if err := os.MkdirAll(rootDir, 0o700); err != nil {
		return "", "", err
	}
	cfg := fmt.Sprintf(`gateway: {url: %q}
vault:
  address: %q
  auth: userpass
  auth_mount: userpass
  username: %s
  password_env: MATTERSYNC_VAULT_PASSWORD
root: %q
data_dir: %q
device_name: bench-%03d
status_addr: "127.0.0.1:0"
log_level: warn
insecure_http: true
`, m.s.GatewayURL(), m.s.VaultAddr(), user, rootDir, filepath.Join(home, "state"), *m.n)
	p := filepath.Join(home, "agent.yaml")
	return p, rootDir, os.WriteFile(p, []byte(cfg), 0o600)
}

func (m *mattersync) sync(ctx context.Context, cfg, user string) (measure, error) {
	cmd := exec.CommandContext(ctx, m.agent, "sync", "--once", "--config", cfg)
	cmd.Env = append(os.Environ(), "MATTERSYNC_VAULT_PASSWORD="+m.pw[user])
	return timed(cmd)
}

// matterOf is the matter (and its user) an upload name gets.
func (m *mattersync) matterOf(name string) (id, user string) {
	name = m.prefix + name
	return "bench-" + name, "b" + strings.ReplaceAll(name, "-", "")
}

func (m *mattersync) upload(ctx context.Context, name string, c corpus) (measure, error) {
	id, user := m.matterOf(name)
	pw := fmt.Sprintf("bench-%d-%s", time.Now().UnixNano(), name)
	if err := m.root(ctx, pw+"\n", "user", "create", user, "--password-stdin"); err != nil {
		return measure{}, err
	}
	m.pw[user] = pw
	if err := m.root(ctx, "", "matter", "create", id, "--name", "Bench "+name); err != nil {
		return measure{}, err
	}
	if err := m.root(ctx, "", "matter", "grant", id, user, "--role", "rw"); err != nil {
		return measure{}, err
	}
	cfg, rootDir, err := m.device(user)
	if err != nil {
		return measure{}, err
	}
	// The corpus is copied into the matter folder before the clock
	// starts (rclone reads it where it is; both find it in the page cache).
	if err := os.CopyFS(filepath.Join(rootDir, agent.MatterFolder(id, "Bench "+name)), os.DirFS(c.dir)); err != nil {
		return measure{}, err
	}
	return m.sync(ctx, cfg, user)
}

func (m *mattersync) download(ctx context.Context, name, dst string) (measure, string, error) {
	id, user := m.matterOf(name)
	cfg, rootDir, err := m.device(user)
	if err != nil {
		return measure{}, "", err
	}
	ms, err := m.sync(ctx, cfg, user)
	return ms, filepath.Join(rootDir, agent.MatterFolder(id, "Bench "+name)), err
}

// rclone is `rclone copy` (default flags) to and from a crypt remote over
// an S3 remote on the same MinIO, in a bucket of its own.
type rclone struct {
	bin, config string
}

const rcloneBucket = "rclone-peer"

// newRclone writes rclone's config for the stack's MinIO (the crypt
// password obscured by rclone itself) and makes its bucket.
func newRclone(ctx context.Context, bin, work string, s *devstack.Stack) (*rclone, error) {
	ak, sk := s.S3Keys()
	mc, err := minio.New(s.MinIOEndpoint(), &minio.Options{Creds: credentials.NewStaticV4(ak, sk, "")})
	if err != nil {
		return nil, err
	}
	if err := mc.MakeBucket(ctx, rcloneBucket, minio.MakeBucketOptions{}); err != nil {
		return nil, err
	}
	obscure := func(pw string) (string, error) {
		out, err := exec.CommandContext(ctx, bin, "obscure", pw).Output()
		return strings.TrimSpace(string(out)), err
	}
	pw, err := obscure(fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("rclone obscure: %w", err)
	}
	salt, err := obscure(fmt.Sprintf("salt-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("rclone obscure: %w", err)
	}
	cfg := fmt.Sprintf(`[s3]
type = s3
provider = Minio
access_key_id = %s
secret_access_key = %s
endpoint = http://%s
region = us-east-1

[crypt]
type = crypt
remote = s3:%s
password = %s
password2 = %s
`, ak, sk, s.MinIOEndpoint(), rcloneBucket, pw, salt)
	p := filepath.Join(work, "rclone.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return &rclone{bin: bin, config: p}, nil
}

func (r *rclone) name() string { return "rclone crypt" }

func (r *rclone) run(ctx context.Context, args ...string) (measure, error) {
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--config", r.config}, args...)...)
	return timed(cmd)
}

func (r *rclone) upload(ctx context.Context, name string, c corpus) (measure, error) {
	return r.run(ctx, "copy", c.dir, "crypt:"+name)
}

func (r *rclone) download(ctx context.Context, name, dst string) (measure, string, error) {
	ms, err := r.run(ctx, "copy", "crypt:"+name, dst)
	return ms, dst, err
}
