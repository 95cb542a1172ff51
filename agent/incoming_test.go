package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/agenttest"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/chromiumtest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// requestWorld is a real world whose gateway takes file requests, with
// the codes mailed to Mailpit.
func requestWorld(t *testing.T) (*world, *testenv.MailpitServer) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: real Vault, MinIO, Mailpit and Chromium")
	}
	v := kmstest.Setup(t)
	mail := testenv.Mailpit(t)
	sc := share.DefaultConfig()
	sc.Default, sc.PublicURL = share.PolicyOn, "https://files.firm.test"
	sc.RequestsPerSecond, sc.Burst = 1e6, 1e6
	host, port, _ := net.SplitHostPort(mail.SMTPAddr)
	p, _ := strconv.Atoi(port)
	sc.SMTP = share.SMTPConfig{Host: host, Port: p, From: "Firm <files@firm.test>", TLS: share.TLSNone}
	sc.Requests.MaxFileBytes = 4 << 20
	if err := sc.Validate(true); err != nil {
		t.Fatal(err)
	}
	w := setupWorld(t, agenttest.Real(v), v, gatewaytest.Options{MinIO: true, Config: func(c *gateway.Config) { c.Sharing = &sc }})
	return w, mail
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// clientPage drives the request page in Chromium.
type clientPage struct {
	t    *testing.T
	b    *chromiumtest.Browser
	mail *testenv.MailpitServer
	to   string
}

func (p *clientPage) state() string {
	return chromiumtest.Eval[string](p.t, p.b, `document.documentElement.dataset.requestState || ''`)
}

func (p *clientPage) open(url string) {
	p.t.Helper()
	p.b.Navigate(p.t, "about:blank")
	p.b.Navigate(p.t, url)
	// The page's context can be replaced while a poll starts (Chromium:
	// "Cannot find context with specified id"): poll again.
	cond := `['ask', 'refused'].includes(document.documentElement.dataset.requestState)`
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(p.b.Ctx, time.Minute)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(20*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		if try == 3 {
			p.t.Fatalf("page %s: %v", url, err)
		}
	}
}

// verify asks for a code, reads the newest from Mailpit and enters it
// (code "" : the right one).
func (p *clientPage) verify(code string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := p.mail.Messages(ctx, p.to)
	if err != nil {
		p.t.Fatal(err)
	}
	chromiumtest.Eval[bool](p.t, p.b, `document.getElementById('send').click(), true`)
	p.b.WaitFor(p.t, `['code', 'refused'].includes(document.documentElement.dataset.requestState)`)
	msgs, err := p.mail.WaitMessages(ctx, p.to, len(before)+1)
	if err != nil {
		p.t.Fatal(err)
	}
	m := codeRE.FindStringSubmatch(msgs[0].Text) // newest first
	if m == nil {
		p.t.Fatalf("no code in %q", msgs[0].Text)
	}
	if code == "" {
		code = m[1]
	}
	chromiumtest.Eval[bool](p.t, p.b, fmt.Sprintf(`document.getElementById('code').value = %q, document.getElementById('check').click(), true`, code))
	p.b.WaitFor(p.t, `['upload', 'refused'].includes(document.documentElement.dataset.requestState)`)
}

// pick puts files (name -> JavaScript expression of a Uint8Array) in the
// file input and sends them; it returns the state the page ends in.
func (p *clientPage) pick(files [][2]string) string {
	p.t.Helper()
	var js strings.Builder
	js.WriteString(`(() => { const dt = new DataTransfer();`)
	for _, f := range files {
		fmt.Fprintf(&js, `dt.items.add(new File([%s], %q));`, f[1], f[0])
	}
	js.WriteString(`document.getElementById('files').files = dt.files; document.getElementById('go').click(); return true; })()`)
	chromiumtest.Eval[bool](p.t, p.b, js.String())
	p.b.WaitFor(p.t, `['done', 'refused'].includes(document.documentElement.dataset.requestState) || (document.documentElement.dataset.requestState === 'upload' && document.getElementById('error').hidden === false)`)
	return p.state()
}

func (p *clientPage) refused(what, kind, says string) {
	p.t.Helper()
	p.b.WaitFor(p.t, `document.documentElement.dataset.requestState === 'refused'`)
	if got := chromiumtest.Eval[string](p.t, p.b, `document.documentElement.dataset.requestError`); got != kind {
		p.t.Errorf("%s: refused as %q, want %q", what, got, kind)
	}
	if got := chromiumtest.Eval[string](p.t, p.b, `document.getElementById('error').textContent`); !strings.Contains(got, says) {
		p.t.Errorf("%s: the page says %q, want %q in it", what, got, says)
	}
}

// bigJS and big are the same 2.5 MB in the page and here.
const bigJS = `(() => { const b = new Uint8Array(2500000); for (let i = 0; i < b.length; i++) b[i] = (i * 131 + (i >> 11)) & 255; return b; })()`

func big() []byte {
	b := make([]byte, 2500000)
	for i := range b {
		b[i] = byte((i*131 + (i >> 11)) & 255)
	}
	return b
}

const uploadMarker = "PRIVILEGED-CLIENT-UPLOAD-91c3"

// TestRequestFilesIntoIncoming: the request issue 17 asks for, end to end
// on a real Vault, gateway, MinIO, Mailpit and Chromium with two rw
// members' agents: alice's agent makes the request (ro carol's cannot),
// the client verifies with the code from Mailpit and uploads a file with a
// hostile name and a 2.5 MB file through the page; alice's agent delivers
// them into Incoming/, bob's gets them by sync, bytes identical; the
// page's refusals (too many, too large, wrong code, altered fragment,
// expired, revoked) store nothing; an upload sealed to a wrong but valid
// key is reported and left for an administrator; the gateway's database
// and the bucket hold neither the names nor the plaintext.
func TestRequestFilesIntoIncoming(t *testing.T) {
	w, mail := requestWorld(t)
	ctx := context.Background()
	alice, bob, carol := w.member(kms.RoleRW), w.member(kms.RoleRW), w.member(kms.RoleRO)
	a, b, c := w.agent(alice), w.agent(bob), w.agent(carol)

	if _, err := c.Request(ctx, c.folder, agent.RequestOptions{From: "client@example.com"}); err == nil || !strings.Contains(err.Error(), "only members who may edit") {
		t.Fatalf("ro member's request: %v", err)
	}
	q, err := a.Request(ctx, a.folder, agent.RequestOptions{From: "client@example.com", MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "https://files.firm.test/r/" + q.ID + "#"
	frag, ok := strings.CutPrefix(q.Link, prefix)
	if !ok || len(frag) != 43 {
		t.Fatalf("link %q", q.Link)
	}
	pageURL := w.gateway + "/r/" + q.ID + "#" + frag

	p := &clientPage{t: t, b: chromiumtest.Start(t), mail: mail, to: "client@example.com"}
	countDrops := func() int {
		n := 0
		for o := range w.gw.MinIO.Client(t).ListObjects(ctx, w.gw.Bucket, minio.ListObjectsOptions{Prefix: "m/" + w.matter + "/d/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			n++
		}
		return n
	}

	// Refusals first: none stores anything.
	p.open(w.gateway + "/r/" + q.ID + "#abc")
	p.refused("a fragment that is no key", "altered", "altered or is incomplete")
	p.open(pageURL)
	p.verify("000000")
	p.refused("wrong code", "code_wrong", "not right")
	p.open(pageURL)
	p.verify("")
	if st := p.pick([][2]string{{"a.txt", `new Uint8Array(10)`}, {"b.txt", `new Uint8Array(10)`}, {"c.txt", `new Uint8Array(10)`}, {"d.txt", `new Uint8Array(10)`}}); st != "refused" {
		t.Fatalf("too many files: state %s", st)
	}
	p.refused("too many files", "too_many", "more files than this link still takes")
	if st := p.pick([][2]string{{"huge.bin", `new Uint8Array(5 << 20)`}}); st != "refused" {
		t.Fatalf("too large: state %s", st)
	}
	p.refused("too large", "too_large", "larger than this link allows")
	if n := countDrops(); n != 0 {
		t.Fatalf("%d drop objects stored by refusals", n)
	}

	// The uploads.
	const hostile = "<img src=x onerror=alert(1)>.pdf"
	if st := p.pick([][2]string{{hostile, `new TextEncoder().encode(` + strconv.Quote(uploadMarker+" statement") + `)`}, {"Bank statement 2026.bin", bigJS}}); st != "done" {
		t.Fatalf("upload: state %s, error %q", st, chromiumtest.Eval[string](t, p.b, `document.getElementById('error').textContent`))
	}
	if n := chromiumtest.Eval[int](t, p.b, `document.querySelectorAll('#sent li').length`); n != 2 {
		t.Fatalf("%d files listed as sent", n)
	}
	if n := chromiumtest.Eval[int](t, p.b, `document.querySelectorAll('img').length`); n != 0 {
		t.Errorf("the name became markup: %d img elements", n)
	}
	if d := p.b.Dialogs(t); len(d) != 0 {
		t.Errorf("script ran from the name: %v", d)
	}

	// Alice's agent delivers, Bob's and Carol's (ro) receive by sync.
	a.sync()
	b.sync()
	c.sync()
	safe := "Incoming/_img src=x onerror=alert(1)_.pdf"
	for _, ag := range []*testAgent{a, b, c} {
		got, err := ag.read(safe)
		if err != nil || string(got) != uploadMarker+" statement" {
			t.Fatalf("%s: %s = %q, %v", ag.user.Name, safe, got, err)
		}
		got, err = ag.read("Incoming/Bank statement 2026.bin")
		if err != nil || !bytes.Equal(got, big()) {
			t.Fatalf("%s: the 2.5 MB file: %d bytes, %v", ag.user.Name, len(got), err)
		}
	}
	if l, err := w.gw.Stores.Drops.Drops(ctx, w.matter, true, 0); err != nil || len(l) != 0 {
		t.Fatalf("pending drops after delivery: %d, %v", len(l), err)
	}
	all, _ := w.gw.Stores.Drops.Drops(ctx, w.matter, false, 0)
	for _, d := range all {
		if d.Done.IsZero() || d.DoneBy != alice.Name || d.File == (format.ID{}) {
			t.Fatalf("drop %+v not marked done by alice's agent with its file", d)
		}
	}
	var actions []string
	if err := w.gw.Stores.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "request.") && strings.Contains(r.Object, "from=client@example.com") {
			actions = append(actions, r.Action)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"request.create", "request.open", "request.code", "request.verify", "request.upload"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("no %s record with the client's address among %v", want, actions)
		}
	}

	// A page given a wrong but valid key seals to it: nobody can open the
	// drop; the agent reports it and leaves it for an administrator.
	other := format.NewRequestKey()
	p.open(w.gateway + "/r/" + q.ID + "#" + base64.RawURLEncoding.EncodeToString(other.PublicKey().Bytes()))
	p.verify("")
	if st := p.pick([][2]string{{"swapped.pdf", `new TextEncoder().encode("for the wrong key")`}}); st != "done" {
		t.Fatalf("upload to a wrong key: %s", st)
	}
	sum, err := a.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sum.Problems, "\n"), "does not open with the request's key") {
		t.Errorf("the agent did not report the drop: %v", sum.Problems)
	}
	if _, err := a.read("Incoming/swapped.pdf"); !os.IsNotExist(err) {
		t.Errorf("a drop that does not open was written: %v", err)
	}
	all, _ = w.gw.Stores.Drops.Drops(ctx, w.matter, false, 0)
	if last := all[len(all)-1]; last.Problem == "" || !last.Done.IsZero() {
		t.Errorf("the undeliverable drop: %+v", last)
	}

	// Expired and revoked requests refuse the page.
	expired := store.Request{ID: randomHex(16), Matter: w.matter, Recipient: "client@example.com", Entity: alice.EntityID, User: alice.Name,
		Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour), MaxFiles: 3, MaxFileBytes: 1 << 20, MaxBytes: 1 << 22,
		PublicKey: other.PublicKey().Bytes(), WrappedKey: []byte("x")}
	if err := w.gw.Stores.Requests.CreateRequest(ctx, expired, &audit.Record{Time: time.Now(), Action: "request.create", Matter: w.matter, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	p.open(w.gateway + "/r/" + expired.ID + "#" + frag)
	p.refused("expired", "request_expired", "expired")
	q2, err := a.Request(ctx, a.folder, agent.RequestOptions{From: "client@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.gw.Stores.Requests.RevokeRequests(ctx, store.RequestFilter{ID: q2.ID}, "it", "sent to the wrong client", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	p.open(q2.Link[:0] + w.gateway + "/r/" + q2.ID + "#" + strings.SplitN(q2.Link, "#", 2)[1])
	p.refused("revoked", "request_revoked", "withdrawn")
	if n := countDrops(); n != 3 {
		t.Fatalf("%d drop objects, want the 3 uploaded", n)
	}

	// Neither the names nor the plaintext in the database or the bucket.
	secrets := []string{"onerror", "Bank statement", "swapped.pdf", uploadMarker, "for the wrong key", string(big()[:64])}
	var db []byte
	for _, suffix := range []string{"", "-wal"} {
		if bs, err := os.ReadFile(w.gw.SQLitePath + suffix); err == nil {
			db = append(db, bs...)
		}
	}
	if len(db) == 0 {
		t.Fatal("no database to grep")
	}
	var bucket []byte
	mc := w.gw.MinIO.Client(t)
	for o := range mc.ListObjects(ctx, w.gw.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		obj, err := mc.GetObject(ctx, w.gw.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bs, _ := io.ReadAll(obj)
		obj.Close()
		bucket = append(bucket, bs...)
	}
	for _, s := range secrets {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the database holds %.20q", s)
		}
		if bytes.Contains(bucket, []byte(s)) {
			t.Errorf("the bucket holds %.20q", s)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestRequestDeliveredThroughFeed: running agents hear of a client's
// upload in the combined feed they already long-poll (their full passes
// are an hour apart): one delivers it, the other gets it by sync, and
// the drop is marked done once. The client here is Go speaking the
// page's routes.
func TestRequestDeliveredThroughFeed(t *testing.T) {
	w, mail := requestWorld(t)
	ctx := context.Background()
	a := w.runningAgent(w.member(kms.RoleRW))
	b := w.runningAgent(w.member(kms.RoleRW))
	var q agent.FileRequest
	eventually(t, "the request", func() error {
		var err error
		q, err = a.Request(ctx, a.folder, agent.RequestOptions{From: "feed@example.com"})
		return err
	})
	post := func(path string, hdr map[string]string, body []byte) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.gateway+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, out)
		}
		return out
	}
	post("/r/"+q.ID+"/code", nil, nil)
	msgs, err := mail.WaitMessages(ctx, "feed@example.com", 1)
	if err != nil {
		t.Fatal(err)
	}
	code := codeRE.FindStringSubmatch(msgs[0].Text)[1]
	var g api.RequestGrant
	if err := json.Unmarshal(post("/r/"+q.ID+"/verify", map[string]string{"Content-Type": "application/json"}, []byte(`{"code":"`+code+`"}`)), &g); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(q.Link, "#", 2)[1])
	plain := []byte(uploadMarker + " through the feed")
	var obj bytes.Buffer
	if err := format.SealDrop(&obj, pub, format.ShareMeta{Name: "Letter.pdf", Size: int64(len(plain))}, bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(obj.Bytes())
	post("/r/"+q.ID+"/drops", map[string]string{"Authorization": "Grant " + g.Grant, api.HeaderChecksum: hex.EncodeToString(sum[:])}, obj.Bytes())

	for _, ag := range []*testAgent{a, b} {
		eventually(t, ag.user.Name+"'s Incoming/Letter.pdf", func() error { return ag.hasFile("Incoming/Letter.pdf", plain) })
	}
	eventually(t, "the drop marked done", func() error {
		l, err := w.gw.Stores.Drops.Drops(ctx, w.matter, false, 0)
		// Whichever agent's feed woke first delivered it, once.
		if err != nil || len(l) != 1 || l[0].Done.IsZero() || l[0].DoneBy != a.user.Name && l[0].DoneBy != b.user.Name {
			return fmt.Errorf("drops %+v, %v", l, err)
		}
		return nil
	})
}

// TestDropStreamedIntoIncoming: the agent opens a drop as a stream into a
// temp file in Incoming/ and renames it into place only once every
// segment authenticated. A drop of several segments whose last segment
// was altered (its first segments do authenticate, so plaintext reached
// the temp file) is reported and left for an administrator, and leaves
// neither the file nor a temp file; a good multi-segment drop arrives
// byte for byte. The client here is Go speaking the page's routes.
func TestDropStreamedIntoIncoming(t *testing.T) {
	w, mail := requestWorld(t)
	ctx := context.Background()
	a := w.agent(w.member(kms.RoleRW))
	q, err := a.Request(ctx, a.folder, agent.RequestOptions{From: "stream@example.com", MaxFiles: 5})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, hdr map[string]string, body []byte) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.gateway+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, out)
		}
		return out
	}
	post("/r/"+q.ID+"/code", nil, nil)
	msgs, err := mail.WaitMessages(ctx, "stream@example.com", 1)
	if err != nil {
		t.Fatal(err)
	}
	var g api.RequestGrant
	if err := json.Unmarshal(post("/r/"+q.ID+"/verify", map[string]string{"Content-Type": "application/json"},
		[]byte(`{"code":"`+codeRE.FindStringSubmatch(msgs[0].Text)[1]+`"}`)), &g); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(q.Link, "#", 2)[1])
	upload := func(name string, plain []byte, alter func([]byte)) {
		t.Helper()
		var obj bytes.Buffer
		if err := format.SealDrop(&obj, pub, format.ShareMeta{Name: name, Size: int64(len(plain))}, bytes.NewReader(plain)); err != nil {
			t.Fatal(err)
		}
		b := obj.Bytes()
		if alter != nil {
			alter(b)
		}
		sum := sha256.Sum256(b)
		post("/r/"+q.ID+"/drops", map[string]string{"Authorization": "Grant " + g.Grant, api.HeaderChecksum: hex.EncodeToString(sum[:])}, b)
	}
	temps := func() []string {
		var out []string
		ents, _ := os.ReadDir(a.folder + "/" + agent.IncomingFolder)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".mattersync-tmp-") {
				out = append(out, e.Name())
			}
		}
		return out
	}

	// 3 segments of 1 MiB (format.ShareSegmentSize); the last one's tag
	// altered.
	plain := make([]byte, 3*format.ShareSegmentSize-100)
	rand.Read(plain)
	upload("Damaged late.bin", plain, func(b []byte) { b[len(b)-1] ^= 1 })
	sum, err := a.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sum.Problems, "\n"), "does not open with the request's key") {
		t.Errorf("the damaged drop was not reported: %v", sum.Problems)
	}
	if _, err := a.read("Incoming/Damaged late.bin"); !os.IsNotExist(err) {
		t.Errorf("a drop whose last segment fails was written: %v", err)
	}
	if l := temps(); len(l) != 0 {
		t.Errorf("temp files left in Incoming: %v", l)
	}
	if l, err := w.gw.Stores.Drops.Drops(ctx, w.matter, false, 0); err != nil || len(l) != 1 || l[0].Problem == "" || !l[0].Done.IsZero() {
		t.Fatalf("the damaged drop: %+v, %v", l, err)
	}

	upload("Statement.bin", plain, nil)
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := a.read("Incoming/Statement.bin"); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Incoming/Statement.bin: %d bytes, %v", len(got), err)
	}
	if l := temps(); len(l) != 0 {
		t.Errorf("temp files left in Incoming: %v", l)
	}

	// A name no laptop may hold (a trailing dot) is refused and left for
	// an administrator: this laptop says which file, the gateway (its drop
	// row, its audit log) never learns the name.
	upload("Zebrafisch Vergleich.", []byte("x"), nil)
	if sum, err = a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sum.Problems, "\n"), "Zebrafisch") {
		t.Errorf("the refused name is not in this laptop's report: %v", sum.Problems)
	}
	l, err := w.gw.Stores.Drops.Drops(ctx, w.matter, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := l[len(l)-1]
	if last.Problem == "" || strings.Contains(last.Problem, "Zebrafisch") {
		t.Errorf("the gateway's record of the refused drop: %q (want a reason without the name)", last.Problem)
	}
	if err := w.gw.Stores.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if strings.Contains(r.Object, "Zebrafisch") {
			t.Errorf("audit record %d names the client's file: %s %s", r.Seq, r.Action, r.Object)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
