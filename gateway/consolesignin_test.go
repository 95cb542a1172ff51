package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// TestConsoleSignIn: the console's sign-in check answers an administrator
// who they are (and the matters they are walled off from), refuses anyone
// else 403, and both are audited as admin.console.signin; without a
// Bearer token (a cookie, a forged form) it is 401.
func TestConsoleSignIn(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	post := func(token string) (*http.Response, api.ConsoleSignIn) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/admin/console/signin", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Cookie", "session=anything")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out api.ConsoleSignIn
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, who := post(g.Token(t, "ent-it", auth.AdminGroup, "matter-2026-0009-screened"))
	if resp.StatusCode != 200 || who.Entity != "ent-it" || who.User != "user-ent-it" || len(who.Screened) != 1 || who.Screened[0] != "2026-0009" {
		t.Fatalf("admin: %d %+v", resp.StatusCode, who)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("sign-in answer sets a cookie or CORS: %v", resp.Header)
	}
	if resp, _ := post(g.Token(t, "ent-lawyer", "matter-2026-0001-rw")); resp.StatusCode != 403 {
		t.Fatalf("lawyer: %d", resp.StatusCode)
	}
	if resp, _ := post(""); resp.StatusCode != 401 {
		t.Fatalf("no token, a cookie: %d", resp.StatusCode)
	}
	got := map[string]string{}
	g.Stores.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if r.Action == "admin.console.signin" {
			got[r.Entity] = r.Result
		}
		return nil
	})
	if got["ent-it"] != audit.ResultOK || got["ent-lawyer"] != audit.ResultDenied {
		t.Fatalf("audit: %v", got)
	}
}
