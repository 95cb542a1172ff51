package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestConsoleAudit: the Audit page searches the gateway's audit log by
// user, matter, action, result and time, shows a record made by an administrator whose
// Vault name is markup (and whose hold reason, in the record's object, is
// markup too) as text, exports what it shows as CSV and JSON lines through
// the browser's downloads, and verifies the chain.
func TestConsoleAudit(t *testing.T) {
	s := startConsoleStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	itAdmin := s.sso.User(t)
	if _, err := s.v.Admin.SetAdmin(ctx, itAdmin.Name, true); err != nil {
		t.Fatal(err)
	}
	// An administrator renamed in Vault to markup puts a matter on hold
	// with a reason that is markup: the record's user and object.
	evil := s.v.User(t, true)
	evilName := hostile + testenv.RandomHex(4)
	if _, err := s.v.Vault.Client(t).Logical().WriteWithContext(ctx, "identity/entity/id/"+evil.EntityID, map[string]any{"name": evilName}); err != nil {
		t.Fatal(err)
	}
	matter := testenv.RandomName("m-")
	if _, err := s.v.Admin.CreateMatter(ctx, matter, "Audit test", nil); err != nil {
		t.Fatal(err)
	}
	evilClient, err := client.New(s.gw.URL, client.StaticToken(s.v.IdentityToken(t, evil).Raw), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evilClient.SetHold(ctx, matter, api.HoldRequest{Reason: "litigation " + hostile}); err != nil {
		t.Fatal(err)
	}

	tb := s.newTab(t)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID, DownloadPath: downloads,
	}); err != nil {
		t.Fatalf("chromium downloads: %v", err)
	}
	s.signIn(tb, itAdmin, itAdmin.Code(t))
	tb.waitView("overview")
	tb.run(chromedp.Click(chromedp.CSS(`button[data-page=audit]`)))
	tb.waitView("audit")

	// search fills the form (values set as strings, so the markup is
	// typed as it is) and waits for the answer.
	search := func(fields map[string]string) {
		t.Helper()
		js, _ := json.Marshal(fields)
		evalIn[bool](tb, `(() => { for (const [k, v] of Object.entries(`+string(js)+`)) document.getElementById('audit-' + k).value = v;
			document.getElementById('audit-count').textContent = ''; return true; })()`)
		tb.run(chromedp.Click(chromedp.CSS(`#audit-search-go`)),
			chromedp.Poll[chromedp.Void](`/record|match|refused/.test(document.getElementById('audit-count').textContent)`))
	}
	search(map[string]string{"user": evilName, "matter": matter, "action": "admin.hold.on, admin.hold.off", "result": "denied"})
	if got := tb.text(`#audit-count`); !strings.HasPrefix(got, "No record matches.") {
		t.Errorf("a denied hold: %q", got)
	}
	search(map[string]string{"user": evilName, "action": "admin.hold.on", "result": "ok", "since": "2099-01-01T00:00:00", "until": ""})
	if got := tb.text(`#audit-count`); !strings.HasPrefix(got, "No record matches.") {
		t.Errorf("a hold in 2099: %q", got)
	}
	search(map[string]string{"user": evilName, "matter": matter, "action": "admin.hold.on", "result": "ok", "since": "2000-01-01T00:00:00", "until": "2099-01-01T00:00:00"})
	rows := evalIn[[][]string](tb, `[...document.querySelectorAll('#audit-results tr.audit-row')].map(r => [...r.cells].map(c => c.textContent))`)
	if len(rows) != 1 {
		t.Fatalf("rows %q (%s)", rows, tb.text(`#audit-count`))
	}
	// Seq, Time, User, Device, Source, Matter, Action, Object, Result, Status, Bytes
	if r := rows[0]; r[2] != evilName || r[5] != matter || r[6] != "admin.hold.on" || !strings.Contains(r[7], "litigation "+hostile[:20]) || r[8] != "ok" || r[9] != "200" {
		t.Errorf("row %q", r)
	}
	if n := evalIn[int](tb, `document.querySelectorAll('#page-audit img, #page-audit script').length`); n != 0 {
		t.Errorf("hostile record data became %d elements", n)
	}

	// Exports of what is shown, through the browser's downloads.
	tb.run(chromedp.Click(chromedp.CSS(`#audit-export-csv`)))
	rec := readCSV(t, waitDownload(t, downloads, ".csv"))
	if len(rec) != 2 || rec[0][0] != "seq" || rec[0][3] != "user" || rec[1][3] != evilName || rec[1][7] != "admin.hold.on" || !strings.Contains(rec[1][8], "litigation "+hostile[:20]) {
		t.Errorf("CSV export %q", rec)
	}
	tb.run(chromedp.Click(chromedp.CSS(`#audit-export-jsonl`)))
	var lines []audit.Record
	sc := bufio.NewScanner(strings.NewReader(waitDownload(t, downloads, ".jsonl")))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("JSON lines export: %v: %s", err, sc.Bytes())
		}
		lines = append(lines, r)
	}
	if len(lines) != 1 || lines[0].User != evilName || lines[0].Action != "admin.hold.on" || lines[0].Hash.String() != rec[1][14] {
		t.Errorf("JSON lines export %+v", lines)
	}

	// The chain, verified from the page.
	tb.run(chromedp.Click(chromedp.CSS(`#audit-verify`)), chromedp.WaitVisible(chromedp.CSS(`#audit-verify-result .ok`)))
	if got := tb.text(`#audit-verify-result`); !strings.Contains(got, "Intact:") || !strings.Contains(got, "Took") {
		t.Errorf("verification: %q", got)
	}
	if n := evalIn[int](tb, `window.__alerts`); n != 0 {
		t.Errorf("%d alert calls: hostile data ran as script", n)
	}
	tb.screenshot(s.shots, "audit")
}

// waitDownload waits for a finished download whose name ends in suffix
// and returns its content.
func waitDownload(t *testing.T, dir, suffix string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		i := slices.IndexFunc(entries, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), suffix) })
		if i < 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, entries[i].Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, entries[i].Name())); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Fatalf("no %s download in %s", suffix, dir)
	return ""
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rec, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("CSV export: %v\n%s", err, s)
	}
	return rec
}
