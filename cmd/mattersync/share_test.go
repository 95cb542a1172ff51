package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/zalando/go-keyring"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/chromiumtest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// shareEnv is a real gateway (SQLite, MinIO, identity tokens of a real
// Vault, code mail to Mailpit), lawyers using the real `mattersync`
// command, and a recipient's headless Chromium.
type shareEnv struct {
	t      *testing.T
	v      *kmstest.Env
	mail   *testenv.MailpitServer
	gw     *gatewaytest.Gateway
	matter string
	b      *chromiumtest.Browser
	it     *client.Client // an IT admin's (admin)
}

// share runs `mattersync share` as u, whose config is cfgPath, and returns the
// link it printed (its first line) and the whole output.
func (e *shareEnv) share(u kmstest.User, cfgPath, path, to string, flags ...string) (string, string) {
	e.t.Helper()
	e.t.Setenv("MATTERSYNC_VAULT_PASSWORD", u.Password)
	out, err := run(e.t, "", append([]string{"share", "--config", cfgPath, path, "--to", to}, flags...)...)
	if err != nil {
		e.t.Fatalf("share %s to %s: %v\n%s", path, to, err, out)
	}
	link, _, _ := strings.Cut(out, "\n")
	if _, err := url.Parse(link); err != nil || !strings.Contains(link, "/s/") || !strings.Contains(link, "#") {
		e.t.Fatalf("share printed no link:\n%s", out)
	}
	return link, out
}

// open loads link in the browser as a new page.
func (e *shareEnv) open(link string) {
	e.t.Helper()
	e.b.Navigate(e.t, "about:blank") // the same URL again would only move to the fragment
	e.b.Navigate(e.t, e.local(link))
	e.b.WaitFor(e.t, `['ask', 'refused'].includes(document.documentElement.dataset.shareState)`)
}

func (e *shareEnv) state() string {
	return chromiumtest.Eval[string](e.t, e.b, `document.documentElement.dataset.shareState + ' ' + (document.documentElement.dataset.shareError || '')`)
}

func (e *shareEnv) text(id string) string {
	return chromiumtest.Eval[string](e.t, e.b, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

// sendCode presses the page's button and returns the code mailed to to
// (the newest of n messages received).
func (e *shareEnv) sendCode(to string, n int) string {
	e.t.Helper()
	chromiumtest.Eval[bool](e.t, e.b, `document.getElementById('send').click(), true`)
	e.b.WaitFor(e.t, `['code', 'refused'].includes(document.documentElement.dataset.shareState)`)
	if s := e.state(); s != "code " {
		e.t.Fatalf("after asking for a code the page is %q: %s", s, e.text("error"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs, err := e.mail.WaitMessages(ctx, to, n)
	if err != nil {
		e.t.Fatal(err)
	}
	m := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(msgs[0].Text)
	if m == "" {
		e.t.Fatalf("no code in the mail to %s:\n%s", to, msgs[0].Text)
	}
	return m
}

// enter types code and submits it; the page then downloads or refuses.
func (e *shareEnv) enter(code string) string {
	e.t.Helper()
	chromiumtest.Eval[bool](e.t, e.b, fmt.Sprintf(`document.getElementById('code').value = %q, document.getElementById('download').click(), true`, code))
	e.b.WaitFor(e.t, `['done', 'refused'].includes(document.documentElement.dataset.shareState)`)
	return e.state()
}

// refused checks the page refused as kind with a message holding says,
// and that no download ever started beyond the want expected.
func (e *shareEnv) refused(what, kind, says string, downloads int) {
	e.t.Helper()
	if s := e.state(); s != "refused "+kind {
		e.t.Errorf("%s: the page is %q, want refused %s (it says %q)", what, s, kind, e.text("error"))
	}
	if got := e.text("error"); !strings.Contains(got, says) {
		e.t.Errorf("%s: the page says %q, want %q in it", what, got, says)
	}
	if d := e.b.Downloads(); len(d) != downloads {
		e.t.Errorf("%s: %d downloads, want %d: %+v", what, len(d), downloads, d)
	}
}

// shareFile is a file of a few MB (three segments of the share object)
// holding marker, different each run.
func shareFile(marker string) []byte {
	var b bytes.Buffer
	r := mrand.New(mrand.NewPCG(mrand.Uint64(), 1))
	for b.Len() < 2_500_000 {
		fmt.Fprintf(&b, "%s clause %d: the parties agree %x\n", marker, b.Len(), r.Uint64())
	}
	return b.Bytes()
}

// TestShareEndToEnd: a lawyer shares a synced file with `mattersync share`;
// the recipient opens the link in Chromium, reads the code from the mail
// (Mailpit), types it, and the browser saves the file under its name, the
// bytes identical. Every refusal is a clear page and saves nothing. Then
// neither the gateway's database nor any object in the bucket holds the
// file's name, its plaintext or any share key.
func TestShareEndToEnd(t *testing.T) {
	keyring.MockInitWithError(os.ErrPermission) // no credential store here
	t.Cleanup(keyring.MockInit)
	v := kmstest.Setup(t)
	mail := testenv.Mailpit(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Vault: v, MinIO: true, Config: func(c *gateway.Config) {
		// Links name a public URL the test rewrites to the gateway's
		// loopback address (gatewaytest picks its port after the config
		// is read).
		c.Sharing = gatewaytest.SharingConfig(t, sharePublicURL, mail.SMTPAddr)
	}})
	e := &shareEnv{t: t, v: v, mail: mail, gw: gw, matter: v.Matter(t), b: chromiumtest.Start(t)}
	alice, bob := v.User(t, false), v.User(t, false)
	v.Grant(t, e.matter, alice, kms.RoleRW)
	v.Grant(t, e.matter, bob, kms.RoleRO)
	aliceCfg, bobCfg := cliConfig(t, v, alice, gw.URL), cliConfig(t, v, bob, gw.URL)
	syncOnce := func(cfgPath, password string) {
		t.Helper()
		t.Setenv("MATTERSYNC_VAULT_PASSWORD", password)
		if out, err := run(t, "", "sync", "--once", "--config", cfgPath); err != nil {
			t.Fatalf("sync: %v\n%s", err, out)
		}
	}
	syncOnce(aliceCfg, alice.Password)

	// A name with what breaks careless HTML, URL and shell handling (the
	// format's paths allow no < or >; the page's own test and the object
	// sealed by hand below carry those).
	const name = "Vergleich (Müller) & Co; 'Entwurf' #1 %20.docx"
	marker := "MARKER-" + testenv.RandomHex(8)
	data := shareFile(marker)
	file := filepath.Join(matterFolder(t, aliceCfg), name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// Not synced yet: refused, nothing sent.
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", alice.Password)
	to := func() string { return testenv.RandomName("client-") + "@example.com" }
	if out, err := run(t, "", "share", "--config", aliceCfg, file, "--to", to()); err == nil || !strings.Contains(err.Error(), "not synced yet") ||
		!strings.Contains(err.Error(), "wait until") {
		t.Fatalf("share of a file not synced: %v\n%s", err, out)
	}
	syncOnce(aliceCfg, alice.Password)
	syncOnce(bobCfg, bob.Password)
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", alice.Password)
	// Changed since: refused until synced again.
	if err := os.WriteFile(file, append(bytes.Clone(data), "late edit"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "share", "--config", aliceCfg, file, "--to", to()); err == nil || !strings.Contains(err.Error(), "changes not synced yet") {
		t.Fatalf("share of a changed file: %v\n%s", err, out)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	syncOnce(aliceCfg, alice.Password)

	var keys []string // every link's key, for the grep
	keyOf := func(link string) string { _, k, _ := strings.Cut(link, "#"); keys = append(keys, k); return k }

	// The share, downloaded twice (its limit), with every code refusal in
	// between.
	r1 := to()
	link, out := e.share(alice, aliceCfg, file, r1, "--max-downloads", "2", "--expires", "2d")
	keyOf(link)
	if !strings.Contains(out, "for "+r1+", version 1, until ") || !strings.Contains(out, "at most 2 downloads") {
		t.Errorf("share output:\n%s", out)
	}
	e.open(link)
	if s := e.state(); s != "ask " {
		t.Fatalf("the page is %q: %s", s, e.text("error"))
	}
	if hint := e.text("hint"); hint == "" || strings.Contains(hint, r1) {
		t.Errorf("recipient hint %q: want a masked form of the address", hint)
	}
	code := e.sendCode(r1, 1)
	if s := e.enter(code); s != "done " {
		t.Fatalf("download: the page is %q: %s", s, e.text("error"))
	}
	d := e.b.WaitDownload(t)
	if d.State != "completed" || d.Name != name {
		t.Fatalf("download %+v, want %q completed", d, name)
	}
	if got, err := os.ReadFile(d.Path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("saved %d bytes (%v), want the %d shared", len(got), err, len(data))
	}
	if got := e.text("name"); got != name {
		t.Errorf("the page names the file %q", got)
	}

	// The same code again, on a fresh page: used once, refused.
	e.open(link)
	chromiumtest.Eval[bool](t, e.b, `document.getElementById('verify').hidden = false, true`)
	e.enter(code)
	e.refused("reused code", "code_wrong", "not right", 1)
	// A wrong code.
	e.open(link)
	right := e.sendCode(r1, 2)
	wrong := fmt.Sprintf("%06d", (atoi(right)+1)%1_000_000)
	e.enter(wrong)
	e.refused("wrong code", "code_wrong", "not right", 1)
	// The right one still works after a wrong try: the second download.
	if s := e.enter(right); s != "done " {
		t.Fatalf("second download: the page is %q: %s", s, e.text("error"))
	}
	// Download limit reached: the page says so before asking for a code.
	e.open(link)
	e.refused("download limit", "share_used_up", "as many times as the sender allowed", 2)
	downloads := 2

	// Another recipient's code does not open this share.
	r2, r3 := to(), to()
	linkA, _ := e.share(alice, aliceCfg, file, r2)
	linkB, _ := e.share(alice, aliceCfg, file, r3)
	keyOf(linkA)
	keyOf(linkB)
	e.open(linkB)
	codeB := e.sendCode(r3, 1)
	e.open(linkA)
	e.sendCode(r2, 1)
	e.enter(codeB)
	e.refused("another recipient's code", "code_wrong", "not right", downloads)

	// An altered fragment: the code is right, the bytes come, nothing
	// decrypts, nothing is saved.
	r4 := to()
	link4, _ := e.share(alice, aliceCfg, file, r4)
	keyOf(link4)
	other := format.NewShareKey()
	base4, _, _ := strings.Cut(link4, "#")
	e.open(base4 + "#" + base64.RawURLEncoding.EncodeToString(other[:]))
	e.enter(e.sendCode(r4, 1))
	e.refused("altered fragment", "altered", "could not be decrypted", downloads)
	// A fragment cut short: refused at once, no code mailed.
	r5 := to()
	link5, _ := e.share(alice, aliceCfg, file, r5)
	e.open(link5[:len(link5)-3])
	e.refused("cut fragment", "altered", "altered or is incomplete", downloads)
	if msgs, _ := mail.Messages(context.Background(), r5); len(msgs) != 0 {
		t.Errorf("a code was mailed for a link without its key: %d messages", len(msgs))
	}

	// An expired link (its expiry moved into the past in the store).
	r6 := to()
	link6, _ := e.share(alice, aliceCfg, file, r6)
	keyOf(link6)
	expireShare(t, gw, shareID(link6))
	e.open(link6)
	e.refused("expired", "share_expired", "expired", downloads)

	// A revoked share, and the shares of a revoked creator (bob, a
	// read-only member, may share too).
	r7, r8 := to(), to()
	link7, _ := e.share(alice, aliceCfg, file, r7)
	keyOf(link7)
	revokeShare(t, e, shareID(link7))
	e.open(link7)
	e.refused("revoked share", "share_revoked", "withdrawn", downloads)
	bobFile := filepath.Join(matterFolder(t, bobCfg), name)
	link8, _ := e.share(bob, bobCfg, bobFile, r8)
	keyOf(link8)
	revokeUser(t, e, bob)
	e.open(link8)
	e.refused("revoked creator", "share_revoked", "withdrawn", downloads)

	// A name that is markup, as a tampered agent could seal it: shown as
	// text, saved under what Chromium makes of it, no script run.
	const hostile = "<img src=x onerror=alert(1)>.docx"
	r9 := to()
	link9 := shareByHand(t, e, alice, shareID(link), hostile, data, r9)
	keyOf(link9)
	e.open(link9)
	if s := e.enter(e.sendCode(r9, 1)); s != "done " {
		t.Fatalf("hostile name: the page is %q: %s", s, e.text("error"))
	}
	downloads++
	if got := e.text("name"); got != hostile {
		t.Errorf("the page names the file %q, want %q as text", got, hostile)
	}
	if n := chromiumtest.Eval[int](t, e.b, `document.querySelectorAll('img').length`); n != 0 {
		t.Errorf("the name became markup: %d img elements", n)
	}
	if dl := e.b.Dialogs(t); len(dl) != 0 {
		t.Errorf("script ran from the name: %v", dl)
	}

	// The grep: the gateway's database files and every object in the
	// bucket (every version) hold neither a name, the plaintext, nor a
	// share key, raw or as in the link.
	needles := map[string][]byte{"file name": []byte(name), "name's stem": []byte("Vergleich (Müller)"), "hostile name": []byte(hostile),
		"plaintext marker": []byte(marker)}
	for i, k := range keys {
		raw, err := base64.RawURLEncoding.DecodeString(k)
		if err != nil {
			t.Fatalf("link key %q: %v", k, err)
		}
		needles[fmt.Sprintf("share key %d", i)] = []byte(k)
		needles[fmt.Sprintf("share key %d (raw)", i)] = raw
	}
	// Controls: the grep does see what is there, the recipient's address
	// in the database and share objects (magic "mshr") in the bucket.
	grepStorage(t, gw, needles, []byte(r1), []byte("mshr"))
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// shareID is the ID in a link's path.
func shareID(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/s/")
}

// expireShare moves a share's expiry into the past, as time would.
func expireShare(t *testing.T, gw *gatewaytest.Gateway, id string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+gw.SQLitePath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE shares SET expires_us = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixMicro(), id)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("expire share %s: %v (%d rows)", id, err, n)
	}
}

// grepStorage fails if any needle is in the gateway's SQLite files or in
// any object (any version) of its bucket, or if the controls, which must
// be there, are not found in the database and the bucket respectively.
func grepStorage(t *testing.T, gw *gatewaytest.Gateway, needles map[string][]byte, inDB, inBucket []byte) {
	t.Helper()
	files, _ := filepath.Glob(gw.SQLitePath + "*") // the database, its WAL and shared memory
	if len(files) == 0 {
		t.Fatal("no database files to grep")
	}
	check := func(where string, b []byte) {
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the %s", where, what)
			}
		}
	}
	var seenDB, seenBucket bool
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check(f, b)
		seenDB = seenDB || bytes.Contains(b, inDB)
	}
	ctx := context.Background()
	mc := gw.MinIO.Client(t)
	n := 0
	for o := range mc.ListObjects(ctx, gw.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		obj, err := mc.GetObject(ctx, gw.Bucket, o.Key, minio.GetObjectOptions{VersionID: o.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil && o.IsDeleteMarker {
			continue
		}
		if err != nil {
			t.Fatalf("object %s: %v", o.Key, err)
		}
		check("object "+o.Key, b)
		seenBucket = seenBucket || bytes.Contains(b, inBucket)
		n++
	}
	if !seenDB || !seenBucket {
		t.Fatalf("the grep does not see what is stored: control %q in the database %v, %q in the bucket %v", inDB, seenDB, inBucket, seenBucket)
	}
	t.Logf("grepped %d database files and %d objects for %d needles", len(files), n, len(needles))
}

const sharePublicURL = "http://shares.firm.test"

// local is link with the public URL replaced by the test gateway's.
func (e *shareEnv) local(link string) string {
	e.t.Helper()
	rest, ok := strings.CutPrefix(link, sharePublicURL+"/s/")
	if !ok {
		e.t.Fatalf("link %q is not under the public URL %s", link, sharePublicURL)
	}
	return e.gw.URL + "/s/" + rest
}

// admin is a client of an IT admin, as mattersync-admin uses.
func (e *shareEnv) admin() *client.Client {
	e.t.Helper()
	if e.it == nil {
		e.it = e.gw.ClientWith(e.t, e.v.Login(e.t, e.v.User(e.t, true)), "it")
	}
	return e.it
}

// revokeShare revokes a share as `mattersync-admin share revoke` does.
func revokeShare(t *testing.T, e *shareEnv, id string) {
	t.Helper()
	if r, err := e.admin().AdminRevokeShare(context.Background(), id, "sent to the wrong client"); err != nil || len(r.Revoked) != 1 {
		t.Fatalf("revoke share %s: %+v %v", id, r, err)
	}
}

// revokeUser puts u on the gateway's deny list, as `user revoke` does:
// the shares u made are revoked with it.
func revokeUser(t *testing.T, e *shareEnv, u kmstest.User) {
	t.Helper()
	if err := e.admin().Deny(context.Background(), u.EntityID, u.Name, "left the firm"); err != nil {
		t.Fatal(err)
	}
}

// shareByHand shares the file version of the command's share like (its
// ID from the admin listing) with a share object sealed here under name,
// as a tampered agent could, and returns its link.
func shareByHand(t *testing.T, e *shareEnv, u kmstest.User, like, name string, data []byte, to string) string {
	t.Helper()
	ctx := context.Background()
	shares, err := e.admin().Shares(ctx, e.matter, "")
	if err != nil {
		t.Fatal(err)
	}
	var file string
	var version int64
	for _, s := range shares {
		if s.ID == like {
			file, version = s.File, s.Version
		}
	}
	if file == "" {
		t.Fatalf("share %s not listed", like)
	}
	key := format.NewShareKey()
	var obj bytes.Buffer
	if err := format.SealShare(&obj, key, format.ShareMeta{Name: name, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	c := e.gw.ClientWith(t, e.v.Login(t, u), u.Name+"-laptop")
	sh, err := c.CreateShare(ctx, e.matter, api.ShareRequest{File: file, Version: version, To: to}, bytes.NewReader(obj.Bytes()), int64(obj.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return sh.URL + "#" + base64.RawURLEncoding.EncodeToString(key[:])
}
