package devstack

import (
	"testing"

	"github.com/mattersync/mattersync/gateway"
)

// TestGatewayConfig: the gateway `make run` starts takes its config (a
// strict parse), serves the operational endpoints on their own port and
// believes no X-Forwarded-For (there is no load balancer).
func TestGatewayConfig(t *testing.T) {
	s := &Stack{st: state{Ports: Ports{Vault: 8200, MinIO: 9000, Gateway: 8443, GatewayOps: 9443}}}
	cfg, err := gateway.ParseConfig([]byte(s.gatewayConfig("/tmp/gw.db", "/tmp/key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8443" || cfg.OpsListen != "127.0.0.1:9443" || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("listen %s, ops_listen %s, trusted_proxies %v", cfg.Listen, cfg.OpsListen, cfg.TrustedProxies)
	}
	if got := s.GatewayOpsURL(); got != "http://127.0.0.1:9443" {
		t.Fatalf("GatewayOpsURL = %s", got)
	}
}
