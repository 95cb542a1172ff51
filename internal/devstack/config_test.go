package devstack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestGatewayConfig: the gateway `make run` starts takes its config (a
// strict parse), serves the operational endpoints on their own port and
// believes no X-Forwarded-For (there is no load balancer).
func TestGatewayConfig(t *testing.T) {
	s := &Stack{st: state{Ports: Ports{Vault: 8200, MinIO: 9000, Gateway: 8443, GatewayOps: 9443}}}
	cfg, err := gateway.ParseConfig([]byte(s.singleConfig("/tmp/gw.db", "/tmp/key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8443" || cfg.OpsListen != "127.0.0.1:9443" || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("listen %s, ops_listen %s, trusted_proxies %v", cfg.Listen, cfg.OpsListen, cfg.TrustedProxies)
	}
	if got := s.GatewayOpsURL(); got != "http://127.0.0.1:9443" {
		t.Fatalf("GatewayOpsURL = %s", got)
	}
	if cfg.Sharing != nil {
		t.Fatal("a sharing: section without Mailpit")
	}
	// With Mailpit, share links are on and mail their codes to it.
	s.mailpit = &testenv.MailpitServer{SMTPAddr: "127.0.0.1:2525", APIURL: "http://127.0.0.1:8025"}
	cfg, err = gateway.ParseConfig([]byte(s.singleConfig("/tmp/gw.db", "/tmp/key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if sh := cfg.Sharing; sh == nil || sh.PublicURL != "http://127.0.0.1:8443" || sh.SMTP.Host != "127.0.0.1" || sh.SMTP.Port != 2525 || sh.Default != "on" {
		t.Fatalf("sharing: %+v", cfg.Sharing)
	}
}

// Each replica of the production shape has its own ports, the shared
// PostgreSQL database, and believes HAProxy's X-Forwarded-For; HAProxy's
// config checks each replica's /readyz on its ops port.
func TestReplicaConfig(t *testing.T) {
	s := &Stack{opts: Options{Replicas: 2}, st: state{Ports: Ports{Vault: 8200, MinIO: 9000, Gateway: 8443, Replica: []int{8001, 8002}, ReplicaOps: []int{9001, 9002}}}}
	for i := range 2 {
		cfg, err := gateway.ParseConfig([]byte(s.replicaConfig(i, "postgres://postgres@127.0.0.1:5432/db?sslmode=disable", "/tmp/key.pem", 24)))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != fmt.Sprintf("127.0.0.1:%d", 8001+i) || cfg.OpsListen != fmt.Sprintf("127.0.0.1:%d", 9001+i) ||
			cfg.Store.Driver != "postgres" || cfg.Store.MaxConns != 24 || len(cfg.TrustedProxies) != 1 {
			t.Fatalf("replica %d: listen %s, ops %s, store %s (%d conns), trusted_proxies %v", i, cfg.Listen, cfg.OpsListen, cfg.Store.Driver, cfg.Store.MaxConns, cfg.TrustedProxies)
		}
	}
	hc := s.haproxyConfig()
	for _, want := range []string{"bind 127.0.0.1:8443", "option httpchk GET /readyz", "server gateway-1 127.0.0.1:8001 check port 9001", "server gateway-2 127.0.0.1:8002 check port 9002", "retry-on conn-failure"} {
		if !strings.Contains(hc, want) {
			t.Errorf("haproxy config lacks %q:\n%s", want, hc)
		}
	}
}

// The demo agents' config parses strictly, with userpass or (SSO=1) the
// identity provider's sign-in.
func TestAgentConfig(t *testing.T) {
	for _, sso := range []bool{false, true} {
		s := &Stack{opts: Options{SSO: sso, Debounce: 200 * time.Millisecond}, st: state{Ports: Ports{Vault: 8200, Gateway: 8443}}}
		cfg, err := agent.ParseConfig([]byte(s.agentConfig(&Agent{User: "alice", Root: "/tmp/run/alice/Matters", DataDir: "/tmp/run/alice/state"})))
		if err != nil {
			t.Fatalf("sso %v: %v", sso, err)
		}
		if want := map[bool]string{false: "userpass", true: "oidc"}[sso]; cfg.Vault.Auth != want {
			t.Errorf("sso %v: vault.auth %q, want %q", sso, cfg.Vault.Auth, want)
		}
	}
}
