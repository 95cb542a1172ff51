package devstack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/internal/proc"
	"github.com/mattersync/mattersync/internal/testenv"
)

// The production shape (Options.Replicas > 1, `make run REPLICAS=3`):
// several gateway replicas on one PostgreSQL database, HAProxy in front
// checking each replica's /readyz, and MinIO on four drives (erasure
// coded, versioning and Object Lock as in production). Agents and the
// admin tool reach the gateway only through HAProxy, so killing a replica
// is what a laptop sees when a server dies.

// replicaName is the process name of replica i (0-based).
func replicaName(i int) string { return fmt.Sprintf("gateway-%d", i+1) }

// replicaIndex is the index of the replica named name.
func (s *Stack) replicaIndex(name string) (int, bool) {
	for i := range s.opts.Replicas {
		if replicaName(i) == name {
			return i, true
		}
	}
	return 0, false
}

// Replicas is the number of gateway processes of the stack.
func (s *Stack) Replicas() int { return max(1, s.opts.Replicas) }

// ReplicaOpsURL serves replica i's /healthz, /readyz and /metrics.
func (s *Stack) ReplicaOpsURL(i int) string {
	if s.opts.Replicas <= 1 {
		return s.GatewayOpsURL()
	}
	return fmt.Sprintf("http://127.0.0.1:%d", s.st.Ports.ReplicaOps[i])
}

// pickReplicaPorts gives every replica a listener and an ops port.
func (s *Stack) pickReplicaPorts() error {
	for len(s.st.Ports.Replica) < s.opts.Replicas {
		s.st.Ports.Replica = append(s.st.Ports.Replica, 0)
		s.st.Ports.ReplicaOps = append(s.st.Ports.ReplicaOps, 0)
	}
	for i := range s.opts.Replicas {
		for _, p := range []*int{&s.st.Ports.Replica[i], &s.st.Ports.ReplicaOps[i]} {
			if *p == 0 {
				port, err := freePort()
				if err != nil {
					return err
				}
				*p = port
			}
		}
	}
	return nil
}

// postgresDSN is the replicas' database: Options.PostgresDSN, else
// mattersync_devstack on the local server (trust auth, as on a developer's
// machine), created when missing.
func (s *Stack) postgresDSN(ctx context.Context) (string, error) {
	if s.opts.PostgresDSN != "" {
		return s.opts.PostgresDSN, nil
	}
	const name = "mattersync_devstack"
	conn, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN)
	if err != nil {
		return "", fmt.Errorf("devstack: replicas need PostgreSQL (start it, or pass --postgres-dsn): %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("devstack: create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(testenv.DefaultPostgresDSN)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// startCluster starts the replicas and HAProxy in front of them.
func (s *Stack) startCluster(ctx context.Context) error {
	dsn, err := s.postgresDSN(ctx)
	if err != nil {
		return err
	}
	conns, err := replicaConns(ctx, dsn, s.opts.Replicas)
	if err != nil {
		return err
	}
	dir, key, err := s.gatewayDir(ctx)
	if err != nil {
		return err
	}
	for i := range s.opts.Replicas {
		cfg := s.replicaConfig(i, dsn, key, conns)
		path := filepath.Join(dir, replicaName(i)+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return err
		}
		if err := s.StartReplica(i); err != nil {
			return err
		}
	}
	return s.startHAProxy(ctx)
}

// replicaConns is each replica's store.max_conns: the gateway's default
// (32) unless the replicas, each with three connections more of its own
// (two for the store poll and /readyz, one listening for pushes),
// would take more than the server's max_connections less 20 for
// everything else (tests, bench/load's checks, psql). A developer's
// PostgreSQL allows 100: three replicas of 34 were refused ("too many
// clients") in the middle of a run.
func replicaConns(ctx context.Context, dsn string, replicas int) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("devstack: %w", err)
	}
	defer conn.Close(ctx)
	var limit int
	if err := conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&limit); err != nil {
		return 0, fmt.Errorf("devstack: max_connections: %w", err)
	}
	n := min(32, (limit-20)/replicas-3)
	if n < 4 {
		return 0, fmt.Errorf("devstack: PostgreSQL's max_connections (%d) leaves fewer than 4 connections for each of %d replicas", limit, replicas)
	}
	return n, nil
}

// replicaConfig is replica i's config: the shared PostgreSQL database
// with conns connections, HAProxy's forwarded addresses believed.
func (s *Stack) replicaConfig(i int, dsn, key string, conns int) string {
	store := fmt.Sprintf("  driver: postgres\n  postgres_dsn: %q\n  postgres_password_env: \"\"\n  max_conns: %d\n", dsn, conns)
	return s.gatewayConfig(s.st.Ports.Replica[i], s.st.Ports.ReplicaOps[i], store, key,
		"# HAProxy on this machine forwards the agents' addresses.\ntrusted_proxies: [\"127.0.0.1/32\"]\n")
}

// StartReplica starts (or restarts) replica i.
func (s *Stack) StartReplica(i int) error {
	dir := filepath.Join(s.opts.Dir, "gateway")
	s.say("starting gateway replica %d at 127.0.0.1:%d", i+1, s.st.Ports.Replica[i])
	return s.start(replicaName(i), proc.Spec{Bin: s.bin("mattersync-gateway"), Args: []string{"--config", filepath.Join(dir, replicaName(i)+".yaml")},
		Env: []string{"MATTERSYNC_S3_ACCESS_KEY=" + s.st.S3Access, "MATTERSYNC_S3_SECRET_KEY=" + s.st.S3Secret},
		Dir: dir, Ready: s.ReplicaOpsURL(i) + "/readyz"})
}

// KillReplica ends replica i with SIGKILL, as a crashed server would.
func (s *Stack) KillReplica(i int) { s.endProc(replicaName(i), (*proc.Process).Kill) }

// StopReplica ends replica i gracefully (a rolling restart's first half).
func (s *Stack) StopReplica(i int) { s.endProc(replicaName(i), (*proc.Process).Stop) }

func (s *Stack) endProc(name string, end func(*proc.Process)) {
	if p := s.procs[name]; p != nil {
		end(p)
		delete(s.procs, name)
	}
}

// haproxyConfig routes the gateway port to the replicas: round robin,
// health from each replica's /readyz (a draining or store-less replica
// leaves the pool within a second), and a request retried on another
// replica only when it never reached the first (a commit is never sent
// twice by the balancer; the agent decides what to retry).
func (s *Stack) haproxyConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# written by devstack: the load balancer in front of the gateway replicas
global
  # Two descriptors per connection: 8000 fits a 20000 descriptor limit
  # (HAProxy refuses to start when it cannot raise the limit it needs).
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  timeout http-request 30s
  # /readyz bounds its checks by 3 s; without this a check gets only
  # "inter" (500 ms), and on a loaded machine every replica could be
  # taken out at once (HAProxy then answers 503 itself).
  timeout check 3s
  retries 2
  option redispatch
  retry-on conn-failure
frontend gateway
  bind 127.0.0.1:%d
  option forwardfor
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
`, s.st.Ports.Gateway)
	for i := range s.opts.Replicas {
		fmt.Fprintf(&b, "  server %s 127.0.0.1:%d check port %d\n", replicaName(i), s.st.Ports.Replica[i], s.st.Ports.ReplicaOps[i])
	}
	return b.String()
}

func (s *Stack) startHAProxy(ctx context.Context) error {
	bin, err := testenv.FindBinary("haproxy")
	if err != nil {
		return fmt.Errorf("devstack: %w (Debian: apt-get install haproxy, or installer/ensure-tools.sh haproxy)", err)
	}
	path := filepath.Join(s.opts.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(s.haproxyConfig()), 0o600); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		return fmt.Errorf("devstack: haproxy config: %w: %s", err, out)
	}
	s.say("starting HAProxy at %s in front of %d replicas", s.GatewayURL(), s.opts.Replicas)
	// -db: stay in the foreground, so the stack supervises it.
	if err := s.start("haproxy", proc.Spec{Bin: bin, Args: []string{"-db", "-f", path}, Dir: s.opts.Dir}); err != nil {
		return err
	}
	// Through HAProxy, any answer from a replica (here 401: no token)
	// means the path works.
	return waitHTTPStatus(ctx, s.GatewayURL()+"/v1/matters", http.StatusUnauthorized, 30*time.Second)
}
