package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
)

// TestCloseMatter: an administrator closes a matter (audited once, with
// the reason); from then on its writes and its changes feed are refused
// (410 matter_closed) while its files stay readable, and the matter is
// listed as closed to its members and to former members (membership
// history), so their agents stop syncing it.
func TestCloseMatter(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testCloseMatter(t, gatewaytest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testCloseMatter(t, gatewaytest.Options{Postgres: true}) })
}

func testCloseMatter(t *testing.T, o gatewaytest.Options) {
	g := gatewaytest.Start(t, o)
	ctx := context.Background()
	const m = "2026-0113"
	sealer := gatewaytest.NewSealer(t)
	lawyer := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	id, sealed := sealer.Chunk(t, m, 100)
	if err := lawyer.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	file := sealer.NewFile(t, m)
	if _, err := lawyer.Commit(ctx, m, file.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, file, 1, id), Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	// A former member, in the membership history only.
	if _, err := g.Stores.Members.RecordMembership(ctx, store.MembershipSnapshot{Matter: m, Members: []store.Member{{Entity: "ent-bob", Name: "bob", Role: "rw"}},
		Source: store.SourceAdmin, Subject: "ent-bob", By: "root", Reason: "r", Time: time.Now()},
		&audit.Record{Time: time.Now(), Entity: "ent-root", User: "root", Matter: m, Action: "admin.member.add", Result: audit.ResultOK, Status: 200, RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lawyer.CloseMatter(ctx, m, "x"); client.Code(err) != api.CodeForbidden {
		t.Fatalf("a lawyer closed the matter: %v", err)
	}
	if _, err := admin.CloseMatter(ctx, m, " "); client.Code(err) != api.CodeInvalidRequest {
		t.Fatalf("close without a reason: %v", err)
	}
	c, err := admin.CloseMatter(ctx, m, "file closed 2026-12-01")
	if err != nil || c.Closed.IsZero() || c.By != "user-ent-root" || c.Reason != "file closed 2026-12-01" {
		t.Fatalf("close = %+v, %v", c, err)
	}
	again, err := admin.CloseMatter(ctx, m, "again")
	if err != nil || !again.Closed.Equal(c.Closed) || again.Reason != c.Reason {
		t.Fatalf("close again = %+v, %v (want the first close)", again, err)
	}
	var closes []*audit.Record
	if err := g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: m}, func(r *audit.Record) error {
		if r.Action == "admin.close" && r.Result == audit.ResultOK {
			closes = append(closes, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(closes) != 2 || !strings.Contains(closes[0].Object, `reason="file closed 2026-12-01"`) || closes[0].User != "user-ent-root" || !strings.Contains(closes[1].Object, "already closed") {
		t.Fatalf("audit records of the close: %+v", closes)
	}

	id2, sealed2 := sealer.Chunk(t, m, 100)
	refused := map[string]error{
		"chunk.put": lawyer.PutChunk(ctx, m, id2.String(), sealed2),
	}
	_, refused["file.commit"] = lawyer.Commit(ctx, m, file.String(), 1, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, file, 2, id), Chunks: []string{id.String()}})
	_, refused["file.delete"] = lawyer.Delete(ctx, m, file.String(), 1, sealer.TombstoneOf(t, m, file, 2))
	_, refused["changes"] = lawyer.Changes(ctx, m, 0, 0)
	for op, err := range refused {
		if client.Code(err) != api.CodeMatterClosed || !strings.Contains(err.Error(), "410") {
			t.Fatalf("%s on a closed matter: %v (want 410 matter_closed)", op, err)
		}
	}
	if _, err := lawyer.GetChunk(ctx, m, id.String()); err != nil {
		t.Fatalf("reading a closed matter's chunk: %v", err)
	}
	who, err := lawyer.Matters(ctx)
	if err != nil || len(who.Closed) != 1 || who.Closed[0].ID != m || !who.Closed[0].Closed.Equal(c.Closed) {
		t.Fatalf("member's matters = %+v, %v", who, err)
	}
	former, err := g.Client(t, g.Token(t, "ent-bob"), "BOB").Matters(ctx)
	if err != nil || len(former.Closed) != 1 || former.Closed[0].ID != m {
		t.Fatalf("former member's matters = %+v, %v", former, err)
	}
	// A former member now behind an ethical wall is not told: for them
	// the matter is gone, not closed.
	walled, err := g.Client(t, g.Token(t, "ent-bob", "matter-"+m+"-screened"), "BOB").Matters(ctx)
	if err != nil || len(walled.Closed) != 0 {
		t.Fatalf("a screened former member is told of the closed matter: %+v, %v", walled, err)
	}
	stranger, err := g.Client(t, g.Token(t, "ent-eve"), "EVE").Matters(ctx)
	if err != nil || len(stranger.Closed) != 0 {
		t.Fatalf("a stranger is told of the closed matter: %+v, %v", stranger, err)
	}
	r, err := g.HTTP.Do(mustReq(t, "GET", g.URL+"/v1/admin/matters/"+m+"/close", g.Token(t, "ent-root", auth.AdminGroup)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var got api.ClosedMatter
	if json.NewDecoder(r.Body).Decode(&got); r.StatusCode != http.StatusOK || got.Reason != c.Reason {
		t.Fatalf("GET close: %d %+v", r.StatusCode, got)
	}
}

func mustReq(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set(api.HeaderDevice, "ADMIN")
	return r
}
