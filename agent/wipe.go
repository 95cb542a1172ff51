package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/kms"
)

// Under wipe_on_revoke, the local matter folders are removed when IT
// revokes the user. One word from whatever answers at the gateway's URL
// must not be enough to delete a lawyer's work: the wipe needs Vault to
// refuse this agent's login (its token revoked or its entity disabled, as
// `user revoke` does) and the gateway's statement, signed with the key in
// gateway.public_key over a nonce of this agent's, that the user is
// revoked. Before a folder
// goes, the work in it that never reached the gateway is moved to a
// quarantine folder in the data dir (unless quarantine_unsynced is false),
// and every removed file is listed in a report there.

// quarantineDir is the folder, in the data dir, that receives unsynced
// work before a wipe: <data_dir>/quarantine/<date time>/<matter folder>/.
const quarantineDir = "quarantine"

// tokenHolder is implemented by kms.Keyring: the identity token it holds
// (cached, or fetched from Vault if it has none).
type tokenHolder interface {
	Token(ctx context.Context) (string, error)
}

// keepToken remembers the identity token the keys hold, before they are
// wiped, for the revocation statement (gatewayConfirmsRevocation).
func (a *Agent) keepToken() {
	th, ok := a.keys.(tokenHolder)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if tok, err := th.Token(ctx); err == nil {
		a.mu.Lock()
		a.lastToken = tok
		a.mu.Unlock()
	}
}

// loginChecker is implemented by kms.Keyring: a fresh identity token is
// refused (kms.Denied) once the user's Vault token is revoked or the
// entity disabled.
type loginChecker interface {
	RefreshIdentityToken(ctx context.Context) (kms.IdentityToken, error)
}

// vaultRefuses reports whether Vault refuses this agent's login now. Keys
// that cannot be asked never confirm.
func (a *Agent) vaultRefuses(ctx context.Context) bool {
	c, ok := a.keys.(loginChecker)
	if !ok {
		return false
	}
	_, err := c.RefreshIdentityToken(ctx)
	return kms.KindOf(err) == kms.Denied
}

// gatewayConfirmsRevocation asks the gateway for a statement, signed with
// gateway.public_key over a fresh nonce, that this user is revoked. It
// asks with the identity token the agent held when it stopped (Vault,
// which issues new ones, refuses a revoked user), else a current one.
func (a *Agent) gatewayConfirmsRevocation(ctx context.Context) error {
	pub, err := ParseGatewayKey(a.cfg.Gateway.PublicKey)
	if err != nil {
		return fmt.Errorf("gateway.public_key: %w", err)
	}
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	nonce := hex.EncodeToString(n[:])
	a.mu.Lock()
	tok := a.lastToken
	a.mu.Unlock()
	rev, err := a.remote.ConfirmRevocation(ctx, tok, nonce)
	if err != nil {
		return err
	}
	// The nonce makes the statement fresh; the gateway's clock is not
	// compared with this laptop's.
	return rev.Verify(pub, a.entity, nonce, time.Time{})
}

// wipeIfConfirmed applies a pending wipe (see stop) if Vault confirms the
// revocation. It reports whether nothing is left pending. Callers make sure
// no pass is running.
func (a *Agent) wipeIfConfirmed(ctx context.Context) bool {
	a.mu.Lock()
	pending := a.wipePending
	a.mu.Unlock()
	if !pending {
		return true
	}
	if !a.vaultRefuses(ctx) {
		a.log.Warn("the gateway says this user is revoked but Vault still accepts the login: nothing removed until Vault confirms", "wipe_on_revoke", a.cfg.WipeOnRevoke)
		return false
	}
	if a.cfg.WipeOnRevoke {
		if err := a.gatewayConfirmsRevocation(ctx); err != nil {
			a.log.Warn("Vault refuses the login but the gateway has not confirmed the revocation in a signed statement: nothing removed", "err", err)
			return false
		}
	}
	ms, err := a.idx.Matters(context.WithoutCancel(ctx))
	if err != nil {
		a.log.Error("wipe: cannot list matters", "err", err)
		return false
	}
	var msg string
	if a.cfg.WipeOnRevoke {
		w := a.newWipe(a.cfg.QuarantineUnsynced, "wipe on revocation")
		for _, m := range ms {
			w.matter(m)
		}
		msg = w.finish()
		a.reportWipe(ctx)
	} else {
		// The folders stay (IT decides), but not copies of deleted files.
		n := 0
		for _, m := range ms {
			k, err := a.purgeTrash(m.ID, filepath.Join(a.cfg.Root, m.Folder), time.Now(), true, "access revoked")
			if err != nil {
				a.log.Error("revoked: trash not emptied", "matter", m.ID, "err", err)
			}
			n += k
		}
		msg = fmt.Sprintf("local matter folders kept (wipe_on_revoke is off); their trash emptied (%d files)", n)
	}
	a.mu.Lock()
	a.wipePending = false
	a.mu.Unlock()
	a.board.update(func(s *Status) { s.Message = "access revoked by IT: sync stopped, keys wiped, " + msg })
	return true
}

// waitAndWipe retries wipeIfConfirmed, backing off from a second to five
// minutes, until it is done or ctx ends: `user revoke` puts the user on the
// gateway's deny list a moment before Vault disables the entity.
func (a *Agent) waitAndWipe(ctx context.Context) {
	for wait := time.Second; !a.wipeIfConfirmed(ctx); wait = min(2*wait, 5*time.Minute) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// waitForLogin asks Vault, backing off from five seconds to five minutes,
// until it accepts this agent's login again (kms logs in again by itself,
// reading the credential store, where `mattersync login` put a new token)
// or ctx ends. Vault may have refused first because IT revoked the user
// (entity disabled before the gateway's deny list said so): under
// wipe_on_revoke it also asks the gateway each time, and once the gateway
// confirms in a signed statement it arms the wipe (Vault's refusal is
// asked again before anything is removed) and returns false.
func (a *Agent) waitForLogin(ctx context.Context) bool {
	c, ok := a.keys.(loginChecker)
	if !ok {
		return false
	}
	for wait := 5 * time.Second; ; wait = min(2*wait, 5*time.Minute) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		if _, err := c.RefreshIdentityToken(ctx); err == nil {
			a.log.Info("Vault accepts the login again: resuming")
			return true
		}
		if a.cfg.WipeOnRevoke && a.gatewayConfirmsRevocation(ctx) == nil {
			a.log.Warn("the gateway confirms that IT revoked this user after Vault refused the login")
			a.mu.Lock()
			a.loginRefused, a.wipePending = false, true
			a.mu.Unlock()
			a.board.update(func(s *Status) {
				s.Message = "access revoked by IT: sync stopped, keys wiped; local matter folders are removed once Vault confirms the revocation"
			})
			return false
		}
	}
}

// wipe removes matter folders, quarantining unsynced work first, and
// keeps a report of what it removed.
type wipe struct {
	a          *Agent
	dir        string // this wipe's quarantine folder
	quarantine bool   // unsynced work goes to the quarantine (else removed)
	why        string // for the report's title
	report     strings.Builder
	removed    int
	kept       int
}

// newWipe starts a wipe; quarantine says whether unsynced work is set
// aside for IT or removed with the rest.
func (a *Agent) newWipe(quarantine bool, why string) *wipe {
	stamp := time.Now().Format("2006-01-02 15.04.05")
	return &wipe{a: a, dir: filepath.Join(a.cfg.DataDir, quarantineDir, stamp), quarantine: quarantine, why: why}
}

// wipeResult is what happened to one matter folder.
type wipeResult struct {
	missing         bool // there was no folder
	done            bool // the folder was checked and removed
	removed         int  // files removed (synced, or unsynced by policy)
	unsyncedRemoved int  // of which unsynced
	kept            int  // unsynced files moved to the quarantine
}

// matter removes one matter's folder and forgets its files in the index,
// so a matter granted again later is downloaded afresh (its rows would
// otherwise read as the user deleting every file).
func (w *wipe) matter(m index.Matter) wipeResult {
	a := w.a
	dir := filepath.Join(a.cfg.Root, m.Folder)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return wipeResult{missing: true}
	}
	var r wipeResult
	if err := w.sort(m, dir, &r); err != nil {
		// Whatever could not be looked at stays: never delete work that
		// may be the only copy without having looked.
		a.log.Error("wipe: matter folder kept: its unsynced files could not be set aside", "matter", m.ID, "folder", dir, "err", err)
		fmt.Fprintf(&w.report, "%s\tKEPT\t%s\t%v\n", m.ID, m.Folder, err)
		return r
	}
	if n, err := a.purgeTrash(m.ID, dir, time.Now(), true, w.why); err != nil {
		a.log.Error("wipe: trash not emptied", "matter", m.ID, "err", err)
	} else if n > 0 {
		fmt.Fprintf(&w.report, "%s\ttrash emptied (%d files)\t%s/.mattersync/trash\n", m.ID, n, m.Folder)
	}
	if err := os.RemoveAll(dir); err != nil {
		a.log.Error("wipe: matter folder not fully removed", "matter", m.ID, "folder", dir, "err", err)
	}
	if err := a.idx.ResetMatter(context.Background(), m.ID); err != nil {
		a.log.Error("wipe: index not reset", "matter", m.ID, "err", err)
	}
	r.done = true
	w.removed += r.removed
	w.kept += r.kept
	a.log.Warn("wipe: matter folder removed", "matter", m.ID, "folder", dir, "why", w.why, "files_removed", r.removed, "unsynced_removed", r.unsyncedRemoved, "unsynced_quarantined", r.kept, "quarantine", w.dir)
	return r
}

func (w *wipe) reportPath() string { return filepath.Join(w.dir, "removed.txt") }

// sort walks a matter folder: synced files are listed as removed, and
// unsynced ones (new, edited, conflict copies not yet uploaded, anything
// in a read-only matter that was never synced) are moved to the
// quarantine, unless the policy says to remove them too.
func (w *wipe) sort(m index.Matter, dir string, r *wipeResult) error {
	a := w.a
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".mattersync" && path.Dir(p) == "." {
				return fs.SkipDir // the trash: copies of files deleted remotely
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(name, ".mattersync-tmp-") || a.ignore.Match(name) {
			return nil
		}
		synced, err := w.synced(root, m.ID, p)
		if err != nil {
			return err
		}
		switch {
		case synced:
			r.removed++
			fmt.Fprintf(&w.report, "%s\tremoved (synced)\t%s/%s\n", m.ID, m.Folder, p)
		case !w.quarantine:
			r.removed++
			r.unsyncedRemoved++
			fmt.Fprintf(&w.report, "%s\tremoved (UNSYNCED, by policy)\t%s/%s\n", m.ID, m.Folder, p)
		default:
			if err := w.moveToQuarantine(filepath.Join(dir, filepath.FromSlash(p)), filepath.Join(w.dir, m.Folder, filepath.FromSlash(p))); err != nil {
				return fmt.Errorf("quarantine %s: %w", p, err)
			}
			r.kept++
			fmt.Fprintf(&w.report, "%s\tquarantined (unsynced)\t%s/%s\n", m.ID, m.Folder, p)
		}
		return nil
	})
}

// synced reports whether the file at p is exactly what the index says the
// gateway has: same size and time, or else the same content.
func (w *wipe) synced(root *os.Root, matter, p string) (bool, error) {
	row, err := w.a.idx.File(context.Background(), matter, p)
	if errors.Is(err, index.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := root.Lstat(filepath.FromSlash(p))
	if err != nil {
		return false, err
	}
	if statOf(fi).matches(row.Size, row.MtimeNs) {
		return true, nil
	}
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return [32]byte(h.Sum(nil)) == [32]byte(row.Hash), nil
}

// quarantine moves a file into the quarantine: a rename, or a copy when
// the data dir is on another volume.
func (w *wipe) moveToQuarantine(from, to string) error {
	if err := privateDir(filepath.Dir(to)); err != nil {
		return err
	}
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// finish writes the report and returns a one-line summary for status.
func (w *wipe) finish() string {
	if w.report.Len() == 0 {
		return "no local matter folders to remove"
	}
	report := w.reportPath()
	head := "# mattersync " + w.why + ", " + time.Now().Format(time.RFC3339) + "\n# matter\taction\tpath\n"
	if err := privateDir(w.dir); err == nil {
		if err := WriteFileAtomic(report, []byte(head+w.report.String()), 0o600); err != nil {
			w.a.log.Error("wipe: report not written", "path", report, "err", err)
		}
	}
	w.a.log.Warn("wipe done", "files_removed", w.removed, "unsynced_quarantined", w.kept, "report", report)
	msg := fmt.Sprintf("local matter folders removed (%d files; list in %s)", w.removed+w.kept, report)
	if w.kept > 0 {
		msg += fmt.Sprintf("; %d unsynced files kept in %s for IT", w.kept, w.dir)
	}
	return msg
}
