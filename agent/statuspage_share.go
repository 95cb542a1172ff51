package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mattersync/mattersync/gateway/api"
)

// Sharing from the status page: the file page offers a form (recipient,
// expiry, download limit); its POST, CSRF-checked like every action, does
// what `mattersync share` does (ShareFile: the same checks and work as
// Share), and the answer shows the link once. The link's key is in that
// answer's body only: the answer is not a redirect, the page's headers say
// no-store and no-referrer, and neither the key nor the file's name goes
// to the log (a refusal is logged at DEBUG).

// pageShares is what the share form needs; *Agent has it. Optional: a
// status served without an agent has none.
type pageShares interface {
	ShareFile(ctx context.Context, matter, rel string, o ShareOptions) (ShareLink, error)
}

// shareFlagWords puts the command's flag names in the form's words: the
// refusals are the command's (ShareOptions.Validate, the gateway's bounds).
var shareFlagWords = strings.NewReplacer(
	"give the recipient's e-mail address with --to", "give the recipient's e-mail address",
	"--to ", "the address ",
	"--expires ", "the expiry ",
	"--max-downloads ", "the download limit ",
	"`mattersync status`", "this page",
)

func (p *statusPage) share(w http.ResponseWriter, r *http.Request, sid string) {
	f := r.PostForm
	matter, rel := f.Get("m"), f.Get("f")
	back := p.prefix + "file?" + url.Values{"m": {matter}, "f": {rel}}.Encode()
	ps, ok := p.acts.(pageShares)
	if !ok {
		p.shareRefused(w, sid, errors.New("this agent cannot share"), back)
		return
	}
	o := ShareOptions{To: strings.TrimSpace(f.Get("to"))}
	if s := strings.TrimSpace(f.Get("expires")); s != "" {
		d, err := ParseShareExpiry(s)
		if err != nil {
			p.shareRefused(w, sid, err, back)
			return
		}
		o.Expires = d
	}
	if s := strings.TrimSpace(f.Get("max")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			p.shareRefused(w, sid, fmt.Errorf("the download limit %q is not a number from 1 to %d", s, MaxShareDownloads), back)
			return
		}
		o.MaxDownloads = n
	}
	link, err := ps.ShareFile(r.Context(), matter, rel, o)
	if err != nil {
		p.shareRefused(w, sid, err, back)
		return
	}
	p.render(w, "share.html", sid, map[string]any{"Matter": matter, "Path": rel, "Back": back, "L": link})
}

// shareRefused shows why nothing was shared. The reason may name the file:
// it goes to the log at DEBUG only, as Share's own lines do.
func (p *statusPage) shareRefused(w http.ResponseWriter, sid string, err error, back string) {
	p.log.Debug("status page share refused", "err", err)
	p.render(w, "result.html", sid, map[string]any{"Title": "Share", "Back": back, "Error": shareRefusalText(err)})
}

// shareRefusalText says why a share was refused. explain's sentences are
// about syncing ("syncing is paused"): a share refused by the gateway
// (sharing off, a screened or removed member, a closed matter) gets its
// own, and the rest the command's words.
func shareRefusalText(err error) string {
	switch remoteCode(err) {
	case api.CodeSharingOff:
		return "Sharing outside the firm is turned off for this matter (or on the firm's server): IT decides this. Nothing was shared."
	case api.CodeForbidden:
		return "The firm's server refuses a share from you in this matter: you may be screened from it, or your access was changed. Nothing was shared; ask IT."
	case api.CodeMatterClosed:
		return "This matter is closed: nothing in it can be shared."
	}
	return shareFlagWords.Replace(explainOr(err))
}
