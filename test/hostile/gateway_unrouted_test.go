package hostile

import (
	"context"
	"net/http"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// The hostile review: unknown routes (404) and wrong methods (405) were
// answered after the token check but before the deny list and the per-user
// rate limit, each with a synchronous audit append, so a revoked or any
// token holder could append to the chain as fast as it takes writes. Now a
// revoked caller gets 403 revoked there too, and a flood is rate limited.
func TestUnroutedRequestsObeyDenyAndRateLimit(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) { c.Limits.RequestsPerSecond, c.Limits.Burst, c.Limits.MaxBatchItems = 1, 5, 2 }})
	admin := g.Token(t, "ent-admin", "mattersync-admins")
	flooder := g.Token(t, "ent-flooder")
	statuses := map[int]int{}
	for range 50 {
		res, _ := send(t, g, "GET", "/v1/nope", map[string]string{"Authorization": "Bearer " + flooder})
		statuses[res.StatusCode]++
		res, _ = send(t, g, "PATCH", "/v1/matters", map[string]string{"Authorization": "Bearer " + flooder})
		statuses[res.StatusCode]++
	}
	if statuses[http.StatusTooManyRequests] < 80 {
		t.Errorf("100 unrouted requests at 1/s (burst 5): statuses %v, want nearly all 429", statuses)
	}

	mallory := g.Token(t, "ent-mallory")
	if err := g.Client(t, admin, "IT").Deny(context.Background(), "ent-mallory", "mallory", "left the firm"); err != nil {
		t.Fatal(err)
	}
	for _, rq := range [][2]string{{"GET", "/v1/nope"}, {"PATCH", "/v1/matters"}, {"GET", "/v1//matters"}} {
		if res, body := send(t, g, rq[0], rq[1], map[string]string{"Authorization": "Bearer " + mallory}); res.StatusCode != http.StatusForbidden {
			t.Errorf("revoked caller, %s %s: %d %s, want 403 revoked", rq[0], rq[1], res.StatusCode, body)
		}
	}
}
