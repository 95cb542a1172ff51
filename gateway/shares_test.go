package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
)

// shareEnv is a gateway that shares, on real MinIO, with its codes mailed
// to Mailpit (mail nil: to 127.0.0.1:9, where nothing listens).
type shareEnv struct {
	t    *testing.T
	g    *gatewaytest.Gateway
	mail *testenv.MailpitServer
	seal *gatewaytest.Sealer
}

type shareOpts struct {
	postgres bool
	noMail   bool                // no Mailpit: the test sends no code
	tune     func(*share.Config) // after the test defaults
	off      bool                // no sharing: section
	// dsn, bucket and issuer: a replica of another env's gateway.
	dsn, bucket string
	issuer      *authtest.Issuer
}

func startSharing(t *testing.T, so shareOpts) *shareEnv {
	t.Helper()
	e := &shareEnv{t: t, seal: gatewaytest.NewSealer(t)}
	smtp := "127.0.0.1:9" // nothing listens
	if !so.noMail {
		e.mail = testenv.Mailpit(t)
		smtp = e.mail.SMTPAddr
	}
	sc := *gatewaytest.SharingConfig(t, "https://share.firm.test/", smtp)
	if so.tune != nil {
		so.tune(&sc)
	}
	if err := sc.Validate(true); err != nil {
		t.Fatal(err)
	}
	o := gatewaytest.Options{MinIO: true, Postgres: so.postgres, Config: func(c *gateway.Config) {
		if !so.off {
			c.Sharing = &sc
		}
	}}
	if so.dsn != "" {
		o.Postgres, o.PostgresDSN, o.MinIO, o.Bucket, o.Issuer = false, so.dsn, false, so.bucket, so.issuer
	}
	e.g = gatewaytest.Start(t, o)
	return e
}

// file commits a one-chunk file in matter as rw and returns its ID.
func (e *shareEnv) file(matter string, rw *client.Client) string {
	e.t.Helper()
	ctx := context.Background()
	id, sealed := e.seal.Chunk(e.t, matter, 100)
	if err := rw.PutChunk(ctx, matter, id.String(), sealed); err != nil {
		e.t.Fatal(err)
	}
	f := e.seal.NewFile(e.t, matter)
	if _, err := rw.Commit(ctx, matter, f.String(), 0, api.CommitRequest{Manifest: e.seal.ManifestOf(e.t, matter, f, 1, id), Chunks: []string{id.String()}}); err != nil {
		e.t.Fatal(err)
	}
	return f.String()
}

// object is a random share object (opaque to the gateway).
func object(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (e *shareEnv) share(c *client.Client, matter, file, to string, body []byte, maxDownloads int64) (api.Share, error) {
	return c.CreateShare(context.Background(), matter, api.ShareRequest{File: file, Version: 1, To: to, MaxDownloads: maxDownloads}, bytes.NewReader(body), int64(len(body)))
}

// recipient sends a request of the recipient's page.
func (e *shareEnv) recipient(method, path string, hdr map[string]string, body []byte) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.g.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.g.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// code asks for a code for share id and reads it from the n-th message to
// addr.
func (e *shareEnv) code(id, addr string, n int) string {
	e.t.Helper()
	if r := e.recipient("POST", "/s/"+id+"/code", nil, nil); r.status != http.StatusOK {
		e.t.Fatalf("code: %d %s", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := e.mail.WaitMessages(ctx, addr, n)
	if err != nil {
		e.t.Fatal(err)
	}
	m := sixDigits.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		e.t.Fatalf("no code in %q", msgs[0].Text)
	}
	return m[1]
}

func (e *shareEnv) verify(id, code string) resp {
	e.t.Helper()
	return e.recipient("POST", "/s/"+id+"/verify", map[string]string{"Content-Type": "application/json"}, []byte(`{"code":"`+code+`"}`))
}

func (e *shareEnv) download(id, grant string) resp {
	e.t.Helper()
	return e.recipient("GET", "/s/"+id+"/object", map[string]string{"Authorization": "Grant " + grant}, nil)
}

// grant verifies code and returns the grant.
func (e *shareEnv) grant(id, code string) string {
	e.t.Helper()
	r := e.verify(id, code)
	if r.status != http.StatusOK {
		e.t.Fatalf("verify: %d %s", r.status, r.body)
	}
	var g api.ShareGrant
	if err := json.Unmarshal(r.body, &g); err != nil || g.Grant == "" {
		e.t.Fatalf("grant %s: %v", r.body, err)
	}
	return g.Grant
}

func wantCode(t *testing.T, what string, r resp, status int, code api.Code) {
	t.Helper()
	if r.status != status || r.apiError(t).Code != code {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, code)
	}
}

// records returns the audit records of action whose object contains sub.
func (e *shareEnv) records(action, sub string) []*audit.Record {
	e.t.Helper()
	var out []*audit.Record
	if err := e.g.Stores.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
		if r.Action == action && strings.Contains(r.Object, sub) {
			c := *r
			out = append(out, &c)
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestShareCreate: who may create a share of what (the member side; no
// code is mailed): rw and ro members, not screened ones nor non-members;
// the matter's policy, its close, the file version, the address, the
// limits and the body are checked, and nothing is stored on a refusal.
func TestShareCreate(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) { testShareCreate(t, pg) })
	}
}

func testShareCreate(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, noMail: true, tune: func(c *share.Config) { c.MaxObjectBytes = 1 << 20; c.MaxDownloads = 5 }})
	ctx := context.Background()
	const m = "2026-0301"
	g := e.g
	rw := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	ro := g.Client(t, g.Token(t, "ent-carol", "matter-"+m+"-ro"), "LAPTOP")
	screened := g.Client(t, g.Token(t, "ent-dave", "matter-"+m+"-rw", "matter-"+m+"-screened"), "LAPTOP")
	outsider := g.Client(t, g.Token(t, "ent-eve", "matter-2026-0999-rw"), "LAPTOP")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	f := e.file(m, rw)
	body := object(300 << 10)

	// An ro member may share; the answer is the link without its key.
	sh, err := e.share(ro, m, f, "Client@Example.COM", body, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sh.ID) != 32 || sh.URL != "https://share.firm.test/s/"+sh.ID || sh.Recipient != "client@example.com" || sh.MaxDownloads != 3 ||
		sh.Expires.Sub(sh.Created) != 7*24*time.Hour {
		t.Fatalf("share = %+v", sh)
	}
	got, size, err := g.Blobs.Get(ctx, "m/"+m+"/s/"+sh.ID)
	if err != nil || size != int64(len(body)) {
		t.Fatalf("share object: %d, %v", size, err)
	}
	b, _ := io.ReadAll(got)
	got.Close()
	if !bytes.Equal(b, body) {
		t.Fatal("stored share object differs")
	}
	recs := e.records("share.create", "share="+sh.ID)
	if len(recs) != 1 || recs[0].Entity != "ent-carol" || recs[0].Matter != m || !strings.Contains(recs[0].Object, "to=client@example.com") ||
		recs[0].Bytes != int64(len(body)) || recs[0].Result != audit.ResultOK {
		t.Fatalf("share.create records: %+v", recs)
	}
	// rw too, with its own limits.
	sh2, err := rw.CreateShare(ctx, m, api.ShareRequest{File: f, Version: 1, To: "x@example.org", Expires: time.Hour, MaxDownloads: 5}, bytes.NewReader(body), int64(len(body)))
	if err != nil || sh2.MaxDownloads != 5 || sh2.Expires.Sub(sh2.Created) != time.Hour {
		t.Fatalf("rw share = %+v, %v", sh2, err)
	}

	before := objectsUnder(t, g, "m/"+m+"/s/")
	refused := []struct {
		name string
		c    *client.Client
		req  api.ShareRequest
		body []byte
		code api.Code
	}{
		{"screened", screened, api.ShareRequest{File: f, Version: 1, To: "a@example.com"}, body, api.CodeForbidden},
		{"non-member", outsider, api.ShareRequest{File: f, Version: 1, To: "a@example.com"}, body, api.CodeForbidden},
		{"no such version", ro, api.ShareRequest{File: f, Version: 2, To: "a@example.com"}, body, api.CodeNotFound},
		{"no such file", ro, api.ShareRequest{File: strings.Repeat("ab", 32), Version: 1, To: "a@example.com"}, body, api.CodeNotFound},
		{"display name", ro, api.ShareRequest{File: f, Version: 1, To: "Bob <bob@example.com>"}, body, api.CodeInvalidRequest},
		{"two addresses", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com,b@example.com"}, body, api.CodeInvalidRequest},
		{"no domain", ro, api.ShareRequest{File: f, Version: 1, To: "a@localhost"}, body, api.CodeInvalidRequest},
		{"header injection", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com\r\nBcc: x@evil.test"}, body, api.CodeInvalidRequest},
		{"too many downloads", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com", MaxDownloads: 6}, body, api.CodeInvalidRequest},
		{"too long", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com", Expires: 31 * 24 * time.Hour}, body, api.CodeInvalidRequest},
		{"too short", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com", Expires: time.Second}, body, api.CodeInvalidRequest},
		{"oversized", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com"}, object(1<<20 + 1), api.CodeTooLarge},
		{"bad checksum", ro, api.ShareRequest{File: f, Version: 1, To: "a@example.com", SHA256: [32]byte{1}}, body, api.CodeChecksumMismatch},
	}
	for _, c := range refused {
		_, err := c.c.CreateShare(ctx, m, c.req, bytes.NewReader(c.body), int64(len(c.body)))
		if client.Code(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if after := objectsUnder(t, g, "m/"+m+"/s/"); after != before {
		t.Fatalf("refused shares stored objects: %d before, %d after", before, after)
	}
	// Without Content-Length.
	r := rawShare(t, g, ro, m, f)
	if r != http.StatusLengthRequired {
		t.Errorf("no Content-Length: %d", r)
	}

	// The policy: off refuses (and revokes the live shares), on allows.
	if p, err := admin.SetSharing(ctx, m, false); err != nil || p.Sharing != api.SharingOff || p.Effective != api.SharingOff {
		t.Fatalf("sharing off: %+v, %v", p, err)
	}
	if _, err := e.share(ro, m, f, "a@example.com", body, 0); client.Code(err) != api.CodeSharingOff {
		t.Fatalf("share with the policy off: %v", err)
	}
	list, err := admin.Shares(ctx, m, "")
	if err != nil || len(list) != 2 || list[0].State != api.ShareRevoked || list[1].State != api.ShareRevoked || list[0].RevokeReason != "sharing turned off" {
		t.Fatalf("shares after sharing off: %+v, %v", list, err)
	}
	if p, err := admin.SetSharing(ctx, m, true); err != nil || p.Sharing != api.SharingOn || p.Effective != api.SharingOn {
		t.Fatalf("sharing on: %+v, %v", p, err)
	}
	if _, err := ro.SetSharing(ctx, m, true); client.Code(err) != api.CodeForbidden {
		t.Fatalf("a member set the policy: %v", err)
	}
	if _, err := e.share(ro, m, f, "a@example.com", body, 0); err != nil {
		t.Fatalf("share with the policy on: %v", err)
	}

	// A closed matter shares nothing, and its live shares are revoked.
	if _, err := admin.CloseMatter(ctx, m, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.share(ro, m, f, "a@example.com", body, 0); client.Code(err) != api.CodeMatterClosed {
		t.Fatalf("share of a closed matter: %v", err)
	}
	list, err = admin.Shares(ctx, m, "")
	if err != nil || len(list) != 3 || list[2].State != api.ShareRevoked || list[2].RevokeReason != "matter closed" {
		t.Fatalf("shares after close: %+v, %v", list, err)
	}
	if n := len(e.records("share.revoke", "reason=\"matter closed\"")); n != 1 {
		t.Fatalf("%d share.revoke records of the close, want 1", n)
	}
}

func objectsUnder(t *testing.T, g *gatewaytest.Gateway, prefix string) int {
	t.Helper()
	n := 0
	for o := range g.MinIO.Client(t).ListObjects(context.Background(), g.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	return n
}

// rawShare sends a share creation with a chunked body (no
// Content-Length) and returns the status.
func rawShare(t *testing.T, g *gatewaytest.Gateway, _ *client.Client, m, f string) int {
	t.Helper()
	tok := g.Token(t, "ent-carol", "matter-"+m+"-ro")
	req, _ := http.NewRequest("POST", g.URL+"/v1/matters/"+m+"/shares?file="+f+"&version=1&to=a@example.com", io.MultiReader(strings.NewReader("x")))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(api.HeaderChecksum, strings.Repeat("0", 64))
	res, err := g.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSharingOff: a gateway without a sharing: section refuses to create
// shares (sharing_off) and knows no share link (not_found).
func TestSharingOff(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true, off: true})
	const m = "2026-0302"
	rw := e.g.Client(t, e.g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	f := e.file(m, rw)
	if _, err := e.share(rw, m, f, "a@example.com", object(100), 0); client.Code(err) != api.CodeSharingOff {
		t.Fatalf("share without sharing: %v", err)
	}
	wantCode(t, "info", e.recipient("GET", "/s/"+strings.Repeat("ab", 16)+"/info", nil, nil), http.StatusNotFound, api.CodeNotFound)
	wantCode(t, "page", e.recipient("GET", "/s/"+strings.Repeat("ab", 16), nil, nil), http.StatusNotFound, api.CodeNotFound)
}

// TestShareRecipient: the recipient's side on real MinIO and Mailpit, on
// both engines: the page, a code mailed, verified and spent on a download
// whose bytes are the share object's; then every refusal, each with its
// code and no bytes: a reused code and grant, a wrong code, another
// share's code, the download limit, expiry (share.expire recorded once),
// a revocation by the creator, by an admin and by revoking the creator,
// brute force of codes per share and per address, codes sent per share
// and per address, malformed and unknown IDs. Every step is audited with
// the recipient.
func TestShareRecipient(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) { testShareRecipient(t, pg) })
	}
}

func testShareRecipient(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, tune: func(c *share.Config) {
		c.Codes = share.CodeLimits{SentPerShare: 5, SentPerAddress: 8, WrongPerShare: 5, WrongPerAddress: 8, WrongPerShareTotal: 20}
	}})
	ctx := context.Background()
	const m = "2026-0310"
	g := e.g
	rw := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	ro := g.Client(t, g.Token(t, "ent-carol", "matter-"+m+"-ro"), "LAPTOP")
	frank := g.Client(t, g.Token(t, "ent-frank", "matter-"+m+"-rw"), "LAPTOP")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	f := e.file(m, rw)
	addr := testenv.RandomName("client") + "@example.com"
	body := object(2<<20 + 12345)
	sh, err := e.share(ro, m, f, addr, body, 2)
	if err != nil {
		t.Fatal(err)
	}

	// The page: the same for every ID, under the console's CSP.
	r := e.recipient("GET", "/s/"+sh.ID, nil, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page: %d %v", r.status, r.header)
	}
	r = e.recipient("GET", "/s/"+sh.ID+"/info", nil, nil)
	var info api.ShareInfo
	if json.Unmarshal(r.body, &info); r.status != http.StatusOK || info.State != api.ShareOK || info.RecipientHint != addr[:1]+"•••@example.com" || !info.Expires.Equal(sh.Expires) {
		t.Fatalf("info: %d %s", r.status, r.body)
	}

	// The happy path: bytes identical, not cacheable.
	code := e.code(sh.ID, addr, 1)
	grant := e.grant(sh.ID, code)
	r = e.download(sh.ID, grant)
	if r.status != http.StatusOK || !bytes.Equal(r.body, body) || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("download: %d, %d bytes, %v", r.status, len(r.body), r.header)
	}
	wantCode(t, "reused code", e.verify(sh.ID, code), http.StatusForbidden, api.CodeCodeWrong)
	wantCode(t, "reused grant", e.download(sh.ID, grant), http.StatusForbidden, api.CodeGrantInvalid)
	wantCode(t, "no grant", e.recipient("GET", "/s/"+sh.ID+"/object", nil, nil), http.StatusForbidden, api.CodeGrantInvalid)
	wantCode(t, "bearer", e.recipient("GET", "/s/"+sh.ID+"/object", map[string]string{"Authorization": "Bearer " + grant}, nil), http.StatusForbidden, api.CodeGrantInvalid)
	code2 := e.code(sh.ID, addr, 2)
	wrong := "000000"
	if code2 == wrong {
		wrong = "000001"
	}
	wantCode(t, "wrong code", e.verify(sh.ID, wrong), http.StatusForbidden, api.CodeCodeWrong)
	wantCode(t, "not 6 digits", e.verify(sh.ID, "12345"), http.StatusBadRequest, api.CodeInvalidRequest)
	if r := e.download(sh.ID, e.grant(sh.ID, code2)); r.status != http.StatusOK || !bytes.Equal(r.body, body) {
		t.Fatalf("second download: %d", r.status)
	}
	// Used up: no more codes, and the page says so.
	wantCode(t, "used up", e.recipient("POST", "/s/"+sh.ID+"/code", nil, nil), http.StatusGone, api.CodeShareUsedUp)
	if r := e.recipient("GET", "/s/"+sh.ID+"/info", nil, nil); !strings.Contains(string(r.body), `"state":"used_up"`) {
		t.Fatalf("info of a used-up share: %s", r.body)
	}
	for action, n := range map[string]int{"share.create": 1, "share.open": 2, "share.code": 2, "share.verify": 4, "share.download": 2} {
		recs := e.records(action, "share="+sh.ID+" to="+addr)
		if len(recs) < n {
			t.Errorf("%d %s records naming the recipient, want %d", len(recs), action, n)
		}
		for _, rec := range recs {
			if rec.Matter != m || strings.Contains(rec.Object, code) || strings.Contains(rec.Object, code2) {
				t.Errorf("%s record %+v", action, rec)
			}
		}
	}
	if denied := e.records("share.verify", "share="+sh.ID); !hasResult(denied, audit.ResultDenied, 2) {
		t.Errorf("wrong and reused codes not audited as denied: %+v", denied)
	}
	var ok, refused int
	for _, r := range e.records("share.download", "share="+sh.ID) {
		switch {
		case r.Result == audit.ResultOK && r.Bytes == int64(len(body)):
			ok++
		case r.Result == audit.ResultDenied && r.Bytes == 0:
			refused++
		default:
			t.Errorf("share.download record %+v", r)
		}
	}
	if ok != 2 || refused != 3 {
		t.Errorf("share.download records: %d released, %d refused; want 2 and 3", ok, refused)
	}

	// Another share's code is wrong here.
	addrB := testenv.RandomName("other") + "@example.com"
	a, _ := e.share(ro, m, f, addr, body[:1000], 0)
	b, _ := e.share(ro, m, f, addrB, body[:1000], 0)
	codeA := e.code(a.ID, addr, 3)
	codeB := e.code(b.ID, addrB, 1)
	if codeA != codeB {
		wantCode(t, "another share's code", e.verify(b.ID, codeA), http.StatusForbidden, api.CodeCodeWrong)
	}

	// Expired: refused, share.expire recorded once.
	fid, err := format.ParseID(f)
	if err != nil {
		t.Fatal(err)
	}
	exp := store.Share{ID: strings.Repeat("e", 31) + "1", Matter: m, File: fid, Version: 1, Recipient: addr, Entity: "ent-carol", User: "user-ent-carol",
		Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour), MaxDownloads: 3, Size: 1000, ObjectKey: "m/" + m + "/s/" + a.ID}
	if err := g.Stores.Shares.CreateShare(ctx, exp, store.ShareRules{DefaultOn: true}, &audit.Record{Time: time.Now(), Action: "share.create", Matter: m, Result: audit.ResultOK, RequestID: "test"}); err != nil {
		t.Fatal(err)
	}
	if r := e.recipient("GET", "/s/"+exp.ID+"/info", nil, nil); !strings.Contains(string(r.body), `"state":"expired"`) {
		t.Fatalf("info of an expired share: %s", r.body)
	}
	wantCode(t, "expired code", e.recipient("POST", "/s/"+exp.ID+"/code", nil, nil), http.StatusGone, api.CodeShareExpired)
	wantCode(t, "expired verify", e.verify(exp.ID, "123456"), http.StatusGone, api.CodeShareExpired)
	if n := len(e.records("share.expire", "share="+exp.ID+" to="+addr)); n != 1 {
		t.Fatalf("%d share.expire records, want 1", n)
	}

	// Revoked by its creator (another member cannot), then refused.
	if _, err := rw.RevokeShare(ctx, m, a.ID, ""); client.Code(err) != api.CodeNotFound {
		t.Fatalf("another member revoked a share: %v", err)
	}
	rv, err := ro.RevokeShare(ctx, m, a.ID, "wrong client")
	if err != nil || len(rv.Revoked) != 1 || rv.Revoked[0].State != api.ShareRevoked || rv.Revoked[0].RevokeReason != "wrong client" {
		t.Fatalf("revoke: %+v, %v", rv, err)
	}
	wantCode(t, "revoked code", e.recipient("POST", "/s/"+a.ID+"/code", nil, nil), http.StatusGone, api.CodeShareRevoked)
	wantCode(t, "revoked verify", e.verify(a.ID, codeA), http.StatusGone, api.CodeShareRevoked)
	if n := len(e.records("share.revoke", "share="+a.ID+" to="+addr)); n != 1 {
		t.Fatalf("%d share.revoke records, want 1", n)
	}
	// By an admin.
	if rv, err := admin.AdminRevokeShare(ctx, b.ID, "client asked"); err != nil || len(rv.Revoked) != 1 {
		t.Fatalf("admin revoke: %+v, %v", rv, err)
	}
	wantCode(t, "admin-revoked verify", e.verify(b.ID, codeB), http.StatusGone, api.CodeShareRevoked)
	// By revoking its creator.
	fr, err := e.share(frank, m, f, addrB, body[:1000], 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Deny(ctx, "ent-frank", "frank", "left the firm"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "revoked creator", e.recipient("POST", "/s/"+fr.ID+"/code", nil, nil), http.StatusGone, api.CodeShareRevoked)
	list, err := admin.Shares(ctx, m, "user-ent-frank")
	if err != nil || len(list) != 1 || list[0].ID != fr.ID || list[0].RevokeReason != "user revoked" || list[0].State != api.ShareRevoked {
		t.Fatalf("frank's shares: %+v, %v", list, err)
	}
	if list, err := admin.Shares(ctx, "", "ent-carol"); err != nil || len(list) != 4 {
		t.Fatalf("carol's shares: %d, %v", len(list), err)
	}
	screenedAdmin := g.Client(t, g.Token(t, "ent-root2", auth.AdminGroup, "matter-"+m+"-screened"), "ADMIN")
	if list, err := screenedAdmin.Shares(ctx, m, ""); err != nil || len(list) != 0 {
		t.Fatalf("a screened admin listed %d shares: %v", len(list), err)
	}

	// Brute force: wrong codes per share, then per address; even the
	// right code is refused once the bound is reached.
	addrC := testenv.RandomName("brute") + "@example.com"
	c1, _ := e.share(ro, m, f, addrC, body[:100], 0)
	c2, _ := e.share(ro, m, f, addrC, body[:100], 0)
	right := e.code(c1.ID, addrC, 1)
	guess := 0
	next := func() string {
		for {
			s := strconv.Itoa(100000 + guess)
			guess++
			if s != right {
				return s
			}
		}
	}
	for i := 0; i < 5; i++ {
		wantCode(t, "guess", e.verify(c1.ID, next()), http.StatusForbidden, api.CodeCodeWrong)
	}
	r = e.verify(c1.ID, right)
	wantCode(t, "right code after 5 wrong ones", r, http.StatusTooManyRequests, api.CodeCodeLimit)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("code_limit without Retry-After")
	}
	for i := 0; i < 3; i++ {
		wantCode(t, "guess on the second share", e.verify(c2.ID, next()), http.StatusForbidden, api.CodeCodeWrong)
	}
	wantCode(t, "9th guess for the address", e.verify(c2.ID, next()), http.StatusTooManyRequests, api.CodeCodeLimit)

	// Codes sent: 5 per share, 8 per address (c1 had 1).
	for i := 0; i < 4; i++ {
		if r := e.recipient("POST", "/s/"+c1.ID+"/code", nil, nil); r.status != http.StatusOK {
			t.Fatalf("code %d: %d %s", i+2, r.status, r.body)
		}
	}
	wantCode(t, "6th code of a share", e.recipient("POST", "/s/"+c1.ID+"/code", nil, nil), http.StatusTooManyRequests, api.CodeCodeLimit)
	for i := 0; i < 3; i++ {
		if r := e.recipient("POST", "/s/"+c2.ID+"/code", nil, nil); r.status != http.StatusOK {
			t.Fatalf("code %d of the second share: %d %s", i+1, r.status, r.body)
		}
	}
	wantCode(t, "9th code to the address", e.recipient("POST", "/s/"+c2.ID+"/code", nil, nil), http.StatusTooManyRequests, api.CodeCodeLimit)

	// Malformed and unknown IDs, unknown routes and methods.
	for _, p := range []string{"/s/xyz/info", "/s/" + strings.Repeat("AB", 16) + "/info", "/s/" + strings.Repeat("ab", 16) + "/info", "/s/" + sh.ID + "/nope", "/s/" + strings.Repeat("ab", 17) + "/info"} {
		wantCode(t, p, e.recipient("GET", p, nil, nil), http.StatusNotFound, api.CodeNotFound)
	}
	wantCode(t, "POST info", e.recipient("POST", "/s/"+sh.ID+"/info", nil, nil), http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	wantCode(t, "page of a bad ID", e.recipient("GET", "/s/xyz", nil, nil), http.StatusNotFound, api.CodeNotFound)
}

func hasResult(recs []*audit.Record, result string, n int) bool {
	k := 0
	for _, r := range recs {
		if r.Result == result {
			k++
		}
	}
	return k >= n
}

// TestShareSourceLimit: the recipient's routes are limited per source
// address before anything is looked at.
func TestShareSourceLimit(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true, tune: func(c *share.Config) { c.RequestsPerSecond, c.Burst = 0.001, 3 }})
	for i := 0; i < 3; i++ {
		wantCode(t, "unknown", e.recipient("GET", "/s/"+strings.Repeat("ab", 16)+"/info", nil, nil), http.StatusNotFound, api.CodeNotFound)
	}
	r := e.recipient("GET", "/s/"+strings.Repeat("ab", 16)+"/info", nil, nil)
	wantCode(t, "4th", r, http.StatusTooManyRequests, api.CodeRateLimited)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// TestShareReplicas: two replicas on one PostgreSQL database and bucket
// agree on the codes' key (made by the first code, kept in the bucket): a
// code mailed through one verifies through the other, whose grant
// downloads there.
func TestShareReplicas(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := startSharing(t, shareOpts{dsn: dsn, bucket: testenv.MinIO(t).Bucket(t), issuer: authtest.New(t)})
	b := startSharing(t, shareOpts{dsn: dsn, bucket: a.g.Bucket, issuer: a.g.Issuer})
	const m = "2026-0320"
	rw := a.g.Client(t, a.g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	f := a.file(m, rw)
	addr := testenv.RandomName("replica") + "@example.com"
	body := object(5000)
	sh, err := a.share(rw, m, f, addr, body, 0)
	if err != nil {
		t.Fatal(err)
	}
	code := a.code(sh.ID, addr, 1)
	if r := b.download(sh.ID, b.grant(sh.ID, code)); r.status != http.StatusOK || !bytes.Equal(r.body, body) {
		t.Fatalf("download through the other replica: %d", r.status)
	}
	// And the other way round, with a code the second replica mailed.
	code = b.code(sh.ID, addr, 2)
	if r := a.download(sh.ID, a.grant(sh.ID, code)); r.status != http.StatusOK || !bytes.Equal(r.body, body) {
		t.Fatalf("download through the first replica: %d", r.status)
	}
}

// TestShareCodeMailFails: a relay that refuses the code's mail answers
// 503 (retry later), with a second share.code record saying so; the code
// counts against the limits.
func TestShareCodeMailFails(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true}) // the relay is 127.0.0.1:9: nothing listens
	const m = "2026-0321"
	rw := e.g.Client(t, e.g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP")
	f := e.file(m, rw)
	sh, err := e.share(rw, m, f, "client@example.com", object(100), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := e.recipient("POST", "/s/"+sh.ID+"/code", nil, nil)
	wantCode(t, "code without a relay", r, http.StatusServiceUnavailable, api.CodeUnavailable)
	recs := e.records("share.code", "share="+sh.ID+" to=client@example.com")
	if len(recs) != 2 || recs[0].Result != audit.ResultOK || recs[1].Result != audit.ResultError || !strings.Contains(recs[1].Object, "mail failed") {
		t.Fatalf("share.code records: %+v", recs)
	}
}

// TestShareExpireSweep: a share that expires unseen gets its share.expire
// record from the sweep, once, and is then refused as expired.
func TestShareExpireSweep(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true, tune: func(c *share.Config) { c.ExpireSweep = 50 * time.Millisecond }})
	ctx := context.Background()
	const m = "2026-0322"
	fid := randomID(t)
	id := strings.Repeat("5", 32)
	if err := e.g.Stores.Shares.CreateShare(ctx, store.Share{ID: id, Matter: m, File: fid, Version: 1, Recipient: "c@example.com", Entity: "ent-a", User: "a",
		Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour), MaxDownloads: 1, Size: 1, ObjectKey: "m/" + m + "/s/" + id},
		store.ShareRules{DefaultOn: true}, &audit.Record{Time: time.Now(), Action: "share.create", Matter: m, Result: audit.ResultOK, RequestID: "test"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; len(e.records("share.expire", "share="+id+" to=c@example.com")) == 0; i++ {
		if i > 400 {
			t.Fatal("no share.expire record from the sweep")
		}
		time.Sleep(25 * time.Millisecond)
	}
	wantCode(t, "swept share", e.recipient("POST", "/s/"+id+"/code", nil, nil), http.StatusGone, api.CodeShareExpired)
	time.Sleep(200 * time.Millisecond) // a few more sweeps
	if n := len(e.records("share.expire", "share="+id)); n != 1 {
		t.Fatalf("%d share.expire records, want 1", n)
	}
}

// TestShareRevokedWithoutHook: a link stops working as soon as its
// creator is on the deny list or its matter is closed, even if the
// revocation those run never reached it (here: both written to the store
// directly, as another replica whose revocation failed would leave them).
func TestShareRevokedWithoutHook(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true})
	ctx := context.Background()
	const m, m2 = "2026-0323", "2026-0324"
	g := e.g
	rw := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw", "matter-"+m2+"-rw"), "LAPTOP")
	bob := g.Client(t, g.Token(t, "ent-bob", "matter-"+m+"-rw"), "LAPTOP")
	f, f2 := e.file(m, rw), e.file(m2, rw)
	byBob, err := e.share(bob, m, f, "c@example.com", object(100), 0)
	if err != nil {
		t.Fatal(err)
	}
	inClosed, err := e.share(rw, m2, f2, "c@example.com", object(100), 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(action string) *audit.Record {
		return &audit.Record{Time: time.Now(), Action: action, Result: audit.ResultOK, RequestID: "test"}
	}
	if _, _, err := g.Stores.Deny.AddDeny(ctx, store.DenyEntry{Entity: "ent-bob", Name: "bob", Reason: "left", CreatedBy: "test", Time: time.Now()}, rec("admin.deny.add")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Stores.Closed.CloseMatter(ctx, m2, "test", "done", time.Now(), rec("admin.close")); err != nil {
		t.Fatal(err)
	}
	// The replica sees the deny list within its poll.
	for i := 0; ; i++ {
		r := e.recipient("GET", "/s/"+byBob.ID+"/info", nil, nil)
		if strings.Contains(string(r.body), `"state":"revoked"`) {
			break
		}
		if i > 200 {
			t.Fatalf("a denied creator's link still answers %d %s", r.status, r.body)
		}
		time.Sleep(25 * time.Millisecond)
	}
	wantCode(t, "creator denied", e.recipient("POST", "/s/"+byBob.ID+"/code", nil, nil), http.StatusGone, api.CodeShareRevoked)
	wantCode(t, "matter closed", e.recipient("POST", "/s/"+inClosed.ID+"/code", nil, nil), http.StatusGone, api.CodeShareRevoked)
	if r := e.recipient("GET", "/s/"+inClosed.ID+"/info", nil, nil); !strings.Contains(string(r.body), `"state":"revoked"`) {
		t.Fatalf("info of a closed matter's share: %s", r.body)
	}
}

// TestShareUnknownIDsCollapsed: guesses of share IDs from one address do
// not buy an audit append each: they are counted into auth.failures
// summaries, like refused tokens.
func TestShareUnknownIDsCollapsed(t *testing.T) {
	e := startSharing(t, shareOpts{noMail: true})
	const n = 40
	for i := 0; i < n; i++ {
		id := strings.Repeat("0", 28) + strconv.Itoa(1000+i)
		wantCode(t, "guess", e.recipient("POST", "/s/"+id+"/verify", map[string]string{"Content-Type": "application/json"}, []byte(`{"code":"123456"}`)), http.StatusNotFound, api.CodeNotFound)
	}
	own := len(e.records("share.verify", ""))
	if own >= n/2 {
		t.Fatalf("%d of %d guesses got a record of their own", own, n)
	}
	for i := 0; ; i++ {
		suppressed := 0
		for _, r := range e.records("auth.failures", "suppressed=") {
			var k int
			if _, err := fmt.Sscanf(r.Object, "suppressed=%d", &k); err == nil {
				suppressed += k
			}
		}
		if own+suppressed == n {
			break
		}
		if i > 400 {
			t.Fatalf("%d guesses recorded alone, %d counted in summaries; want %d in all", own, suppressed, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
