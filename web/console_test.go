package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// hostile is a name that runs script wherever it is put in as markup.
const hostile = `<img src=x onerror=alert(1)>"'</td><script>alert(2)</script>`

// consoleStack is the real stack the console runs against: Vault (OIDC
// sign-in through Hydra, TOTP MFA, CORS for the gateway's origin), the
// gateway on MinIO serving /console/, and Chromium.
type consoleStack struct {
	v       *kmstest.Env
	sso     *kmstest.SSO
	gw      *gatewaytest.Gateway
	browser context.Context
	shots   string // bin/console
}

func startConsoleStack(t *testing.T) *consoleStack {
	t.Helper()
	chromium := testenv.DebianTool(t, "chromium")
	v := kmstest.Setup(t)
	sso := v.SSOConsole(t, testenv.Hydra(t))
	l := v.Config.Layout
	gw := gatewaytest.Start(t, gatewaytest.Options{Vault: v, MinIO: true, Config: func(c *gateway.Config) {
		c.Console = gateway.Console{VaultAddress: v.Config.Address, OIDCMount: l.OIDCMount(), TokenRole: l.Name, KVMount: l.KV}
	}})
	sso.ConsoleCORS(t, gw.URL)

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The browser, started by its first tab; each person's tab gets a
	// browser context of its own (newTab).
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(root, "bin", "console")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &consoleStack{v: v, sso: sso, gw: gw, browser: browser, shots: shots}
}

// tab is one browser tab on the console, in its own browser context (its
// own cookies: the identity provider's remembered sign-in is per person).
type tab struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	log []string // console messages and exceptions
}

func (s *consoleStack) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	// The page hook: alert, confirm and prompt only count, so a script
	// injected through data shows up as a number, not a hung dialog.
	hook := `window.__alerts = 0; for (const f of ['alert', 'confirm', 'prompt']) window[f] = () => { window.__alerts++; };`
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: hook}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.log = append(tb.log, m.String())
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, m := range tb.log {
			if strings.Contains(m, "Content Security Policy") {
				t.Errorf("the console broke its CSP: %s", m)
			}
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(tb.log, "\n"))
		}
	})
	return tb
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("chromium: %v", err)
	}
}

func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("chromium: %v", err)
	}
	return v
}

func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return get(tb, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitView waits until the console shows view (its data-view).
func (tb *tab) waitView(view string) {
	tb.t.Helper()
	tb.run(chromedp.WaitReady(chromedp.CSS(`html[data-view="` + view + `"]`)))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.TextContent(chromedp.CSS(sel)))
}

func (tb *tab) screenshot(dir, name string) {
	tb.t.Helper()
	png := get(tb, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// signIn opens the console and signs u in: the sign-in window at the
// identity provider (user name and password there, unless it remembers
// this browser), then the TOTP code in the page.
func (s *consoleStack) signIn(tb *tab, u kmstest.SSOUser, code string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(s.gw.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS(`#signin`)))
	opener := chromedp.FromContext(tb.ctx).Target.TargetID
	popups := chromedp.WaitNewTarget(tb.ctx, func(i *target.Info) bool { return i.OpenerID == opener })
	tb.run(chromedp.Click(chromedp.CSS(`#signin`)))
	var id target.ID
	select {
	case id = <-popups:
	case <-time.After(time.Minute):
		tb.t.Fatal("no sign-in window opened")
	}
	pctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(id))
	defer cancel()
	ctx, cancelT := context.WithTimeout(pctx, time.Minute)
	defer cancelT()
	// The identity provider's form, or (remembered) straight back.
	// Polled from here: the window navigates (Vault's URL, Hydra, the
	// sign-in form) and closes itself once answered.
	form := false
	for ctx.Err() == nil {
		where, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + (document.querySelector('input[name=username]') ? ' form' : '')`))
		if err == nil && strings.HasSuffix(where, " form") {
			form = true
			break
		}
		if view, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.documentElement.dataset.view`)); view == "mfa" {
			break // remembered by the identity provider: straight back
		}
		time.Sleep(200 * time.Millisecond)
	}
	if form {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), u.Name),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), u.IdPPass),
			chromedp.Click(chromedp.CSS(`input[type=submit][value="Sign in"]`)),
		); err != nil {
			tb.t.Logf("identity provider form: %v", err)
		}
	}
	tb.waitView("mfa")
	tb.run(chromedp.SendKeys(chromedp.CSS(`#code`), code), chromedp.Click(chromedp.CSS(`#mfa button[type=submit]`)))
}

// TestConsole: the console signs an IT admin in through Vault (OIDC at the
// identity provider, TOTP), shows the overview and the device inventory
// from the gateway's admin API with a Vault identity token, shows hostile
// names as text, flags a revoked user's device still seen, asks again
// after a reload, refuses a lawyer at sign-in, and a forged cross-origin
// request to the admin API changes nothing.
func TestConsole(t *testing.T) {
	s := startConsoleStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	itAdmin := s.sso.User(t)
	if _, err := s.v.Admin.SetAdmin(ctx, itAdmin.Name, true); err != nil {
		t.Fatal(err)
	}
	lawyer := s.sso.User(t) // signs in at the identity provider, not an admin

	// Devices in the inventory: a colleague's laptop with a hostile host
	// name, and one of a user whose Vault name is hostile (an entity
	// renamed in Vault: names come from the identity token).
	colleague := s.v.User(t, false)
	evil := s.v.User(t, false)
	evilName := hostile + testenv.RandomHex(4)
	if _, err := s.v.Vault.Client(t).Logical().WriteWithContext(ctx, "identity/entity/id/"+evil.EntityID, map[string]any{"name": evilName}); err != nil {
		t.Fatal(err)
	}
	report := func(u kmstest.User, deviceID, host string) *client.Client {
		tok := s.v.IdentityToken(t, u)
		c, err := client.New(s.gw.URL, client.StaticToken(tok.Raw), client.Options{Device: "laptop", DeviceID: deviceID})
		if err != nil {
			t.Fatal(err)
		}
		rep := api.DeviceReport{DeviceID: deviceID, Host: host, OS: "windows/amd64 10.0.22631", AgentVersion: "v1.4.0",
			DiskEncryption: api.DiskEncryption{State: "on", Method: "BitLocker"}, WipeOnRevoke: true, LastSync: time.Now().Add(-time.Hour)}
		if _, err := c.ReportDevice(ctx, rep, ""); err != nil {
			t.Fatalf("device report of %s: %v", u.Name, err)
		}
		return c
	}
	colleagueDevice := testenv.RandomHex(16)
	colleagueClient := report(colleague, colleagueDevice, "LAPTOP-"+hostile)
	report(evil, testenv.RandomHex(16), "MACBOOK-7")

	// 1. The IT admin signs in: password at the identity provider, code in the page.
	tb := s.newTab(t)
	s.signIn(tb, itAdmin, itAdmin.Code(t))
	tb.waitView("overview")
	if who := tb.text(`#who`); who != itAdmin.Name {
		t.Errorf("signed in as %q, want %q", who, itAdmin.Name)
	}
	tb.screenshot(s.shots, "overview")

	// 2. The device inventory, hostile names as text.
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=devices]`)))
	tb.waitView("devices")
	hosts := evalIn[[]string](tb, `[...document.querySelectorAll('#page-devices td.host')].map(e => e.textContent)`)
	users := evalIn[[]string](tb, `[...document.querySelectorAll('#page-devices td.user')].map(e => e.textContent)`)
	if !slices.Contains(hosts, "LAPTOP-"+hostile) || !slices.Contains(users, evilName) || !slices.Contains(users, colleague.Name) {
		t.Errorf("device list: hosts %q users %q", hosts, users)
	}
	if n := evalIn[int](tb, `document.querySelectorAll('#page-devices img, #page-devices script').length`); n != 0 {
		t.Errorf("hostile names became %d elements", n)
	}

	// 2b. Matters: members by role from Vault's groups, the hold from the
	// gateway; a matter title with markup shown as text.
	adminTok := s.v.IdentityToken(t, s.v.User(t, true))
	adminClient, err := client.New(s.gw.URL, client.StaticToken(adminTok.Raw), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	matter := testenv.RandomName("m-")
	if _, err := s.v.Admin.CreateMatter(ctx, matter, "Smith v. Jones "+hostile, nil); err != nil {
		t.Fatal(err)
	}
	s.v.Grant(t, matter, colleague, kms.RoleRW)
	s.v.Grant(t, matter, lawyer.User, kms.RoleRO)
	walledOff := s.v.User(t, false)
	s.v.Screen(t, matter, walledOff)
	if _, err := adminClient.SetHold(ctx, matter, api.HoldRequest{Reason: "litigation " + hostile, Case: "2026-CV-7"}); err != nil {
		t.Fatal(err)
	}
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=matters]`)))
	tb.waitView("matters")
	if title := tb.text(`tr[data-matter-row="` + matter + `"] .matter-title`); title != "Smith v. Jones "+hostile {
		t.Errorf("matter title %q", title)
	}
	tb.run(chromedp.Click(chromedp.CSS(`button[data-matter="`+matter+`"]`)), chromedp.WaitReady(chromedp.CSS(`#matter-hold`)))
	rw, ro, walled := tb.text(`[data-role=rw] ul`), tb.text(`[data-role=ro] ul`), tb.text(`[data-role=screened] ul`)
	if rw != colleague.Name || ro != lawyer.Name || walled != walledOff.Name {
		t.Errorf("members: rw %q ro %q screened %q", rw, ro, walled)
	}
	if hold := tb.text(`#matter-hold`); !strings.Contains(hold, "Legal hold since") || !strings.Contains(hold, "litigation "+hostile) {
		t.Errorf("hold: %q", hold)
	}
	if n := evalIn[int](tb, `document.querySelectorAll('#page-matters img, #page-matters script, #page-matters b').length`); n != 0 {
		t.Errorf("hostile matter data became %d elements", n)
	}
	tb.screenshot(s.shots, "matters")

	// 3. Revoke the colleague (the admin API, as `user revoke` does first);
	// the laptop keeps trying and is flagged.
	if err := adminClient.Deny(ctx, colleague.EntityID, colleague.Name, "left the firm"); err != nil {
		t.Fatal(err)
	}
	if _, err := colleagueClient.Matters(ctx); err == nil {
		t.Fatal("a revoked user's device was served")
	}
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=overview]`)))
	tb.waitView("overview")
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=devices]`)))
	tb.waitView("devices")
	flag := tb.text(`tr[data-device="` + colleagueDevice + `"] .flag`)
	if !strings.HasPrefix(flag, "REVOKED — still seen") {
		t.Errorf("revoked device's flag %q", flag)
	}
	tb.screenshot(s.shots, "devices")
	if n := evalIn[int](tb, `window.__alerts`); n != 0 {
		t.Errorf("%d alert calls: hostile data ran as script", n)
	}
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=overview]`)))
	tb.waitView("overview")
	if got := tb.text(`#revoked-still-seen h3`); got != "Devices of revoked users still seen: 1" {
		t.Errorf("overview: %q", got)
	}
	tb.run(chromedp.Click(chromedp.CSS(`#verify`)), chromedp.WaitVisible(chromedp.CSS(`#verify-result .ok`)))
	tb.screenshot(s.shots, "overview-revoked")

	// 4. Nothing of the session is kept by the browser: no cookie of the
	// gateway's origin, empty storage; a reload asks to sign in again.
	cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.gw.URL}})
	if err != nil {
		t.Fatal(err)
	}
	// Cookies are per host, not per port: on 127.0.0.1 the identity
	// provider's (Hydra's ory_hydra_* session and CSRF cookies) are sent
	// to every port. None is the console's or the gateway's.
	for _, c := range cookies.Cookies {
		if !strings.HasPrefix(c.Name, "ory_hydra_") {
			t.Errorf("a cookie of the console's origin: %s", c.Name)
		}
	}
	if n := evalIn[int](tb, `localStorage.length + sessionStorage.length`); n != 0 {
		t.Errorf("the console left %d items in the browser's storage", n)
	}
	tb.run(chromedp.Reload())
	tb.waitView("signin")
	tb.screenshot(s.shots, "signin")

	// 5. A forged request from another origin, in this signed-in browser:
	// no cookie to ride on, and the API wants a Bearer token, which the
	// attacker's page does not have (and CORS keeps it from reading any
	// answer). The deny list is unchanged.
	evilSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form id=f method=post action="%[1]s/v1/admin/deny" enctype="text/plain"><input name='{"entity_id":"%[2]s","name":"x","reason":"csrf","pad":"' value='"}'></form>
<script>
window.results = [];
fetch("%[1]s/v1/admin/deny", {method: "POST", mode: "no-cors", credentials: "include", body: JSON.stringify({entity_id: "%[2]s", name: "x", reason: "csrf"})}).then(r => results.push("no-cors:" + r.type), e => results.push("no-cors error"));
fetch("%[1]s/v1/admin/devices", {credentials: "include"}).then(r => results.push("cors:" + r.status), e => results.push("cors blocked"));
fetch("%[1]s/v1/admin/deny", {method: "POST", headers: {"Authorization": "Bearer forged", "Content-Type": "application/json"}, body: "{}"}).then(r => results.push("bearer:" + r.status), e => results.push("bearer blocked"));
</script>`, s.gw.URL, itAdmin.EntityID)
	}))
	defer evilSite.Close()
	tb.run(chromedp.Navigate(evilSite.URL), chromedp.Poll[chromedp.Void](`window.results && window.results.length === 3`))
	results := evalIn[[]string](tb, `window.results`)
	slices.Sort(results)
	if want := []string{"bearer blocked", "cors blocked", "no-cors:opaque"}; !slices.Equal(results, want) {
		t.Errorf("forged requests: %q, want %q", results, want)
	}
	tb.run(chromedp.Submit(chromedp.CSS(`#f`)), chromedp.Sleep(time.Second))
	deny, err := adminClient.DenyList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(deny) != 1 || deny[0].EntityID != colleague.EntityID {
		t.Errorf("deny list after the forged requests: %+v", deny)
	}

	// 6. A lawyer signs in (password and code are right) and is refused.
	lt := s.newTab(t)
	s.signIn(lt, lawyer, lawyer.Code(t))
	lt.waitView("refused")
	if msg := lt.text(`#message`); !strings.Contains(msg, "only for IT and compliance") {
		t.Errorf("lawyer's refusal: %q", msg)
	}
	lt.screenshot(s.shots, "refused")

	// 7. Sign in again after the reload (the next code: Vault refuses a
	// code used once), then sign out: back to the sign-in, token revoked.
	s.signIn(tb, itAdmin, itAdmin.CodeAt(t, time.Now().Add(30*time.Second)))
	tb.waitView("overview")
	tb.run(chromedp.Click(chromedp.CSS(`#signout`)))
	tb.waitView("signin")
	if msg := tb.text(`#message`); !strings.Contains(msg, "Signed out") {
		t.Errorf("after sign-out: %q", msg)
	}
}
