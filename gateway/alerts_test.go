package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// TestAlertsDelivered: a screened user trying the walled matter and a
// revoked user's device, through a real gateway: each alert is audited,
// counted, POSTed to the webhook with its HMAC signature and sent to
// syslog (RFC 5424), and the requests themselves are answered as before.
func TestAlertsDelivered(t *testing.T) {
	secret := []byte("0123456789abcdef-alerts")
	hooks := make(chan alerts.Alert, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Mattersync-Signature") != alerts.Sign(secret, r.Header.Get("X-Mattersync-Timestamp"), body) {
			t.Errorf("webhook: bad signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a alerts.Alert
		json.Unmarshal(body, &a)
		hooks <- a
	}))
	defer hook.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	syslogs := make(chan string, 8)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			n, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return
			}
			syslogs <- string(b)
		}
	}()
	cfg := func(c *gateway.Config) {
		c.Audit.Alerts.Enabled = true
		c.Audit.Alerts.Poll = 100 * time.Millisecond
		c.Audit.Alerts.OffHours.Enabled = false // the test may run at night
		c.Audit.Alerts.Webhook = alerts.WebhookConfig{URL: hook.URL, SecretEnv: "X", Timeout: 5 * time.Second, MaxAttempts: 3}
		c.Audit.Alerts.Syslog = alerts.SyslogConfig{Network: "tcp", Address: ln.Addr().String(), AppName: "mattersync-gateway", Facility: 13}
	}
	wh, err := alerts.NewWebhook(alerts.WebhookConfig{URL: hook.URL, Timeout: 5 * time.Second}, secret)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := alerts.NewSyslog(alerts.SyslogConfig{Network: "tcp", Address: ln.Addr().String(), AppName: "mattersync-gateway", Facility: 13})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	g := gatewaytest.Start(t, gatewaytest.Options{Config: cfg, AlertSinks: []alerts.Sink{wh, sl}})
	ctx := context.Background()

	// A normal request: no alert.
	alice := g.Client(t, g.Token(t, "ent-alice", "matter-m1-rw"), "LAPTOP-A")
	if _, err := alice.Matters(ctx); err != nil {
		t.Fatal(err)
	}
	// Behind the wall of m1, bob tries it.
	bob := g.Client(t, g.Token(t, "ent-bob", "matter-m1-screened", "matter-m2-rw"), "LAPTOP-B")
	if _, err := bob.Changes(ctx, "m1", 0, 0); err == nil {
		t.Fatal("a screened user read the walled matter")
	}
	want := map[string]bool{alerts.RuleWallAttempt: true}
	got := map[string]alerts.Alert{}
	for len(got) < len(want) {
		select {
		case a := <-hooks:
			got[a.Rule] = a
		case <-time.After(20 * time.Second):
			t.Fatalf("webhook received %v, want %v", got, want)
		}
	}
	if a := got[alerts.RuleWallAttempt]; a.User != "user-ent-bob" || a.Matter != "m1" || a.Device != "LAPTOP-B" {
		t.Fatalf("wall alert %+v", a)
	}
	select {
	case m := <-syslogs:
		if !strings.HasPrefix(m, "<106>1 ") || !strings.Contains(m, `rule="wall_attempt"`) || !strings.Contains(m, `matter="m1"`) {
			t.Fatalf("syslog %q", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no syslog message")
	}
	// Audited, and counted.
	var recs []audit.Record
	g.Stores.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "alert.") {
			recs = append(recs, *r)
		}
		return nil
	})
	if len(recs) != 1 || recs[0].Action != "alert.wall_attempt" || recs[0].Matter != "m1" || !strings.Contains(recs[0].Object, "screened from matter m1") {
		t.Fatalf("alert records %+v", recs)
	}
	res, err := http.Get(g.OpsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `mattersync_gateway_alerts_total{rule="wall_attempt"} 1`) {
		t.Fatal("mattersync_gateway_alerts_total{rule=\"wall_attempt\"} is not 1")
	}

	// A revoked user's device keeps trying: one alert (then quiet for the
	// cooldown).
	admin := g.Client(t, g.Token(t, "ent-admin", "mattersync-admins"), "IT")
	if err := admin.Deny(ctx, "ent-carol", "carol", "left the firm"); err != nil {
		t.Fatal(err)
	}
	carol := g.Client(t, g.Token(t, "ent-carol", "matter-m2-rw"), "LAPTOP-C")
	for range 3 {
		_, err := carol.Matters(ctx)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Body.Code != api.CodeRevoked {
			t.Fatalf("revoked user's request: %v", err)
		}
	}
	select {
	case a := <-hooks:
		if a.Rule != alerts.RuleRevokedDevice || a.Device != "LAPTOP-C" {
			t.Fatalf("second alert %+v", a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no revoked-device alert")
	}
	select {
	case a := <-hooks:
		t.Fatalf("an alert too many: %+v", a)
	case <-time.After(500 * time.Millisecond):
	}
}
