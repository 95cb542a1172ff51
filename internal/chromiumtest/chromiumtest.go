// Package chromiumtest runs pages in headless Chromium for tests (the share
// recipient's page): downloads saved to a folder of the test's, the page's
// console kept, and JavaScript dialogs recorded and dismissed, so a test
// can assert that no injected script ran.
package chromiumtest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mattersync/mattersync/internal/testenv"
)

// Browser is one headless Chromium with one tab, closed when the test ends.
type Browser struct {
	Ctx context.Context // the tab's
	// DownloadDir receives what pages save, under the names they suggest.
	DownloadDir string

	mu        sync.Mutex // guards the fields below
	console   []string
	dialogs   []string
	downloads map[string]*Download // by GUID
}

// Download is one download a page started.
type Download struct {
	Name  string // the name the page suggested
	State string // inProgress, completed or canceled
	Path  string // where Chromium saved it, once completed
}

// Start starts Chromium (testenv.DebianTool: a missing Chromium fails in
// CI).
func Start(t *testing.T) *Browser {
	t.Helper()
	bin := testenv.DebianTool(t, "chromium")
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	b := &Browser{Ctx: ctx, DownloadDir: t.TempDir(), downloads: map[string]*Download{}}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			// Not from the listener's goroutine (see chromedp.Listen);
			// best effort: the test fails on the record anyway.
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}) //nolint:errcheck
		case *browser.EventDownloadWillBegin:
			b.downloads[e.GUID] = &Download{Name: e.SuggestedFilename, State: "inProgress"}
		case *browser.EventDownloadProgress:
			if d := b.downloads[e.GUID]; d != nil && e.State != browser.DownloadProgressStateInProgress {
				d.State, d.Path = e.State.String(), e.FilePath
			}
		}
	})
	if err != nil {
		t.Fatalf("chromiumtest: start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	events := true
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: b.DownloadDir, EventsEnabled: &events,
	}); err != nil {
		t.Fatalf("chromiumtest: downloads: %v", err)
	}
	// The hook runs before any script of a page: a dialog a page opens
	// through these is recorded instead of shown.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__dialogs = [];
		for (const f of ['alert', 'confirm', 'prompt']) window[f] = (m) => { window.__dialogs.push(f + ': ' + m); };`}); err != nil {
		t.Fatalf("chromiumtest: start Chromium: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, m := range b.console {
			if strings.Contains(m, "Content Security Policy") {
				t.Errorf("a page broke its CSP: %s", m)
			}
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(b.console, "\n"))
		}
	})
	return b
}

// Navigate opens url in the tab.
func (b *Browser) Navigate(t *testing.T, url string) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromiumtest: open %s: %v", url, err)
	}
}

// Eval evaluates expr in the tab, awaiting a promise, into a T.
func Eval[T any](t *testing.T, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("chromiumtest: evaluate %.80s: %v", expr, err)
	}
	return v
}

// WaitFor polls until the JavaScript expression cond is true. A poll
// that finds no page (one being replaced by a navigation) is tried again.
func (b *Browser) WaitFor(t *testing.T, cond string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("chromiumtest: waiting for %s: %v", cond, err)
}

// Dialogs returns the JavaScript dialogs (alert, confirm, prompt) pages
// opened, whether through the page hook or for real.
func (b *Browser) Dialogs(t *testing.T) []string {
	t.Helper()
	hooked := Eval[[]string](t, b, `window.__dialogs || []`)
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(slices.Clone(b.dialogs), hooked...)
}

// Downloads returns the downloads pages started.
func (b *Browser) Downloads() []Download {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Download
	for _, d := range b.downloads {
		out = append(out, *d)
	}
	return out
}

// WaitDownload waits until a download has ended and returns it.
func (b *Browser) WaitDownload(t *testing.T) Download {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, d := range b.Downloads() {
			if d.State != "inProgress" {
				return d
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("chromiumtest: no download ended: %+v", b.Downloads())
	return Download{}
}
