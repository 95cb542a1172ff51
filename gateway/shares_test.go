package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/internal/testenv"
)

// shareEnv is a gateway that shares, on real MinIO, with its codes mailed
// to Mailpit (mail nil: to a mailer that fails the test if used).
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
}

func startSharing(t *testing.T, so shareOpts) *shareEnv {
	t.Helper()
	e := &shareEnv{t: t, seal: gatewaytest.NewSealer(t)}
	sc := share.DefaultConfig()
	sc.Default = share.PolicyOn
	sc.PublicURL = "https://share.firm.test/"
	sc.RequestsPerSecond, sc.Burst = 1e6, 1e6
	sc.SMTP = share.SMTPConfig{Host: "127.0.0.1", Port: 9, From: "Firm shares <shares@firm.test>", TLS: share.TLSNone}
	if !so.noMail {
		e.mail = testenv.Mailpit(t)
		host, port, _ := net.SplitHostPort(e.mail.SMTPAddr)
		sc.SMTP.Host = host
		sc.SMTP.Port, _ = strconv.Atoi(port)
	}
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
