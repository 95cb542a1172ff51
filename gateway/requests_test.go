package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
)

// TestRequestFlow: a file request from the member's side to the client's
// and back to members' agents, on real MinIO and Mailpit, in both
// engines: rw members only (never ro, screened or outsiders); the
// client's code, grant and uploads within the limits; one agent's claim,
// the download and the done mark; revocation; each step audited with the
// client's address; nothing stored on a refusal.
func TestRequestFlow(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) { testRequestFlow(t, pg) })
	}
}

func testRequestFlow(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, tune: func(c *share.Config) { c.Requests.MaxFileBytes = 1 << 20; c.Requests.MaxBytes = 3 << 20 }})
	ctx := context.Background()
	const m = "2026-0401"
	g := e.g
	rw := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP-A")
	rw2 := g.Client(t, g.Token(t, "ent-bob", "matter-"+m+"-rw"), "LAPTOP-B")
	ro := g.Client(t, g.Token(t, "ent-carol", "matter-"+m+"-ro"), "LAPTOP-C")
	screened := g.Client(t, g.Token(t, "ent-dave", "matter-"+m+"-rw", "matter-"+m+"-screened"), "LAPTOP-D")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")

	epochKey := make([]byte, 32)
	rand.Read(epochKey)
	priv := format.NewRequestKey()
	wrapped, err := format.WrapRequestKey(m, 1, epochKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	req := api.RequestCreate{To: "Client@Example.com", MaxFiles: 2, PublicKey: b64(priv.PublicKey().Bytes()), WrappedKey: b64(wrapped)}
	for name, c := range map[string]interface {
		CreateRequest(context.Context, string, api.RequestCreate) (api.Request, error)
	}{"ro": ro, "screened": screened} {
		if _, err := c.CreateRequest(ctx, m, req); codeOf(err) != api.CodeForbidden {
			t.Fatalf("%s member made a request: %v", name, err)
		}
	}
	bad := req
	bad.PublicKey = b64([]byte("short"))
	if _, err := rw.CreateRequest(ctx, m, bad); codeOf(err) != api.CodeInvalidRequest {
		t.Fatalf("a request without a key: %v", err)
	}
	q, err := rw.CreateRequest(ctx, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.ID) != 32 || q.URL != "https://share.firm.test/r/"+q.ID || q.Recipient != "client@example.com" || q.MaxFiles != 2 || q.State != api.RequestOK {
		t.Fatalf("request = %+v", q)
	}
	if recs := e.records("request.create", "request="+q.ID+" from=client@example.com"); len(recs) != 1 || recs[0].Entity != "ent-alice" {
		t.Fatalf("request.create records: %+v", recs)
	}

	// The client's side.
	r := e.recipient("GET", "/r/"+q.ID+"/info", nil, nil)
	var info api.RequestInfo
	if r.status != http.StatusOK || json.Unmarshal(r.body, &info) != nil || info.State != api.RequestOK || info.RecipientHint != "c•••@example.com" || info.MaxFiles != 2 {
		t.Fatalf("info: %d %s", r.status, r.body)
	}
	if r := e.recipient("GET", "/r/"+q.ID, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "requestpage.js") ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v %.200s", r.status, r.header, r.body)
	}
	upload := func(grant string, obj []byte) resp {
		sum := sha256.Sum256(obj)
		return e.recipient("POST", "/r/"+q.ID+"/drops", map[string]string{"Authorization": "Grant " + grant,
			api.HeaderChecksum: hex.EncodeToString(sum[:]), "Content-Type": "application/octet-stream"}, obj)
	}
	var sealed bytes.Buffer
	plain := bytes.Repeat([]byte("statement of account\n"), 1000)
	if err := format.SealDrop(&sealed, priv.PublicKey().Bytes(), format.ShareMeta{Name: "Kontoauszug.pdf", Size: int64(len(plain))}, bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "upload without a grant", upload(b64(make([]byte, 32)), sealed.Bytes()), http.StatusForbidden, api.CodeGrantInvalid)
	if n := objectsUnder(t, g, "m/"+m+"/d/"); n != 0 {
		t.Fatalf("%d drop objects stored by refused uploads", n)
	}
	wantCode(t, "wrong code", e.recipientVerify(q.ID, "000000"), http.StatusForbidden, api.CodeCodeWrong)
	code := e.requestCode(q.ID, "client@example.com")
	r = e.recipientVerify(q.ID, code)
	var grant api.RequestGrant
	if r.status != http.StatusOK || json.Unmarshal(r.body, &grant) != nil {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	wantCode(t, "too large", upload(grant.Grant, object(1<<20+1)), http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	if r := upload(grant.Grant, sealed.Bytes()); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if r := upload(grant.Grant, object(100)); r.status != http.StatusCreated {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	wantCode(t, "third of two", upload(grant.Grant, object(100)), http.StatusGone, api.CodeRequestFull)
	if n := objectsUnder(t, g, "m/"+m+"/d/"); n != 2 {
		t.Fatalf("%d drop objects, want 2", n)
	}
	ok := 0
	for _, r := range e.records("request.upload", "from=client@example.com") {
		if r.Result == audit.ResultOK {
			ok++
		}
	}
	if ok != 2 {
		t.Fatalf("request.upload records of uploads taken: %d", ok)
	}

	// Members' agents: an ro member sees no drops; the first claim wins.
	if _, err := ro.Drops(ctx, m); codeOf(err) != api.CodeForbidden {
		t.Fatalf("ro listed drops: %v", err)
	}
	drops, err := rw.Drops(ctx, m)
	if err != nil || len(drops) != 2 || drops[0].WrappedKey != b64(wrapped) || drops[0].Sender != "client@example.com" {
		t.Fatalf("drops = %+v, %v", drops, err)
	}
	d := drops[0]
	if _, err := rw.ClaimDrop(ctx, m, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rw2.ClaimDrop(ctx, m, d.ID); codeOf(err) != api.CodeDropClaimed {
		t.Fatalf("second claim: %v", err)
	}
	if _, _, err := rw2.OpenDrop(ctx, m, d.ID); codeOf(err) != api.CodeDropClaimed {
		t.Fatalf("download without the claim: %v", err)
	}
	body, _, err := rw.OpenDrop(ctx, m, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := io.ReadAll(body)
	body.Close()
	pk, _ := base64.RawURLEncoding.DecodeString(d.WrappedKey)
	pub, _ := base64.RawURLEncoding.DecodeString(d.PublicKey)
	key, err := format.UnwrapRequestKey(m, epochKey, pk, pub)
	if err != nil {
		t.Fatal(err)
	}
	meta, got, err := format.OpenDrop(obj, key)
	if err != nil || meta.Name != "Kontoauszug.pdf" || !bytes.Equal(got, plain) {
		t.Fatalf("opened %q %d bytes, %v", meta.Name, len(got), err)
	}
	file := strings.Repeat("ab", 32)
	if _, err := rw.FinishDrop(ctx, m, d.ID, api.DropDone{File: file}); err != nil {
		t.Fatal(err)
	}
	if pending, err := rw2.Drops(ctx, m); err != nil || len(pending) != 1 {
		t.Fatalf("pending after one done = %d, %v", len(pending), err)
	}
	if recs := e.records("drop.done", "file="+file); len(recs) != 1 || recs[0].Device != "LAPTOP-A" {
		t.Fatalf("drop.done records: %+v", recs)
	}
	// The admin's list of what is not delivered: the other drop, without
	// keys; then left with a problem, still listed, with it.
	if l, err := admin.UndeliveredDrops(ctx, m); err != nil || len(l) != 1 || l[0].ID != drops[1].ID || l[0].WrappedKey != "" || l[0].Matter != m {
		t.Fatalf("undelivered = %+v, %v", l, err)
	}
	if _, err := rw2.ClaimDrop(ctx, m, drops[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rw2.FinishDrop(ctx, m, drops[1].ID, api.DropDone{Problem: "does not open with the request's key"}); err != nil {
		t.Fatal(err)
	}
	if l, err := admin.UndeliveredDrops(ctx, ""); err != nil || len(l) != 1 || l[0].Problem == "" {
		t.Fatalf("undelivered with a problem = %+v, %v", l, err)
	}
	if _, err := rw.UndeliveredDrops(ctx, m); codeOf(err) != api.CodeForbidden {
		t.Fatalf("a member listed the admin's drops: %v", err)
	}

	// Revocation: by the admin; the page is told, codes are refused.
	list, err := admin.Requests(ctx, m, "")
	if err != nil || len(list) != 1 || list[0].Files != 2 {
		t.Fatalf("admin list = %+v, %v", list, err)
	}
	q2, err := rw.CreateRequest(ctx, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := admin.AdminRevokeRequest(ctx, q2.ID, "wrong client"); err != nil || len(out.Revoked) != 1 {
		t.Fatalf("revoke = %+v, %v", out, err)
	}
	r = e.recipient("GET", "/r/"+q2.ID+"/info", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"revoked"`) {
		t.Fatalf("revoked info: %d %s", r.status, r.body)
	}
	wantCode(t, "code of a revoked request", e.recipient("POST", "/r/"+q2.ID+"/code", nil, nil), http.StatusGone, api.CodeRequestRevoked)
	if recs := e.records("request.revoke", "request="+q2.ID); len(recs) != 1 {
		t.Fatalf("request.revoke records: %d", len(recs))
	}
	// Sharing turned off behind the hooks' back (in the store): the
	// request is refused, and revoked, at its next use.
	q4, err := rw2.CreateRequest(ctx, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Stores.Sharing.SetSharing(ctx, m, store.SharingOff, &audit.Record{Time: time.Now(), Action: "admin.sharing.set", Matter: m, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "code with sharing off", e.recipient("POST", "/r/"+q4.ID+"/code", nil, nil), http.StatusGone, api.CodeRequestRevoked)
	if r := e.recipient("GET", "/r/"+q4.ID+"/info", nil, nil); !strings.Contains(string(r.body), `"state":"revoked"`) {
		t.Fatalf("info with sharing off: %s", r.body)
	}
	if recs := e.records("request.revoke", "request="+q4.ID); len(recs) != 1 || !strings.Contains(recs[0].Object, "sharing off") {
		t.Fatalf("request.revoke of the refused request: %+v", recs)
	}
	if err := g.Stores.Sharing.SetSharing(ctx, m, store.SharingOn, &audit.Record{Time: time.Now(), Action: "admin.sharing.set", Matter: m, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	// Closing the matter revokes its live requests.
	q3, err := rw.CreateRequest(ctx, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CloseMatter(ctx, m, "done"); err != nil {
		t.Fatal(err)
	}
	r = e.recipient("GET", "/r/"+q3.ID+"/info", nil, nil)
	if !strings.Contains(string(r.body), `"state":"revoked"`) {
		t.Fatalf("request of a closed matter: %s", r.body)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (e *shareEnv) recipientVerify(id, code string) resp {
	e.t.Helper()
	return e.recipient("POST", "/r/"+id+"/verify", map[string]string{"Content-Type": "application/json"}, []byte(`{"code":"`+code+`"}`))
}

// requestCode asks for a code for request id and reads it from the n-th
// message to addr.
func (e *shareEnv) requestCode(id, addr string) string {
	e.t.Helper()
	before, err := e.mail.Messages(context.Background(), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	if r := e.recipient("POST", "/r/"+id+"/code", nil, nil); r.status != http.StatusOK {
		e.t.Fatalf("code: %d %s", r.status, r.body)
	}
	msgs, err := e.mail.WaitMessages(context.Background(), addr, len(before)+1)
	if err != nil {
		e.t.Fatal(err)
	}
	mm := sixDigits.FindStringSubmatch(msgs[0].Text) // newest first
	if mm == nil {
		e.t.Fatalf("no code in %q", msgs[0].Text)
	}
	return mm[1]
}
