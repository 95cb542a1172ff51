// Package agent is the desktop sync engine: it keeps each matter folder
// below the root in sync with the gateway, both ways, using format for
// everything at rest and kms for keys.
//
// Each matter has one loop that does all of its work in order (pull the
// change feed, upload local changes), woken by file-system events, by the
// gateway's change feed and by a periodic rescan. State lives in the local
// index, updated after each file, so a crash at any point resumes where it
// stopped and never loses a file.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/agent/watch"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Agent syncs every matter of one user. Create it with New.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	idx    *index.DB
	keys   Keys
	remote Remote
	// reporter and heads are the optional parts of the Remote
	// (integrity.go, witness.go); nil if it lacks them.
	reporter integrityReporter
	heads    headSource
	// drops delivers clients' uploads into matters' Incoming folders
	// (incoming.go); nil if the Remote cannot. incoming is its journal.
	drops    dropRemote
	incoming *incomingJournal
	// presence tells colleagues what is open here and marks what is open
	// elsewhere (presence.go); nil if the Remote has no presence.
	presence *presenceMgr
	noHead   sync.Once // the log says once that the gateway serves no head
	user     string    // user name, shown in conflict-copy names
	entity   string    // Vault entity ID, the author of manifests
	ignore   *watch.Ignore
	board    *statusBoard

	codec     *format.Codec // shared by every worker (getCodec)
	codecOnce sync.Once
	sealBufs  chan *[]byte // sealedInFlight buffers for sealed chunks being uploaded (encode.go)
	chunkers  sync.Pool    // *format.Chunker
	bufs      sync.Pool    // *[]byte: plaintext copies of pending chunks
	// downBudget: the bytes of chunks being downloaded (fetch.go).
	downBudget *semaphore.Weighted

	upLimit, downLimit *rate.Limiter // nil: unlimited

	revokeOnce sync.Once
	revoked    chan struct{} // closed when access is revoked
	// recheck asks Run to list the matters again now: a matter's pass was
	// refused (a wall or a removal, most likely), and status should not
	// show a stale role and a refusal for up to a minute.
	recheck chan struct{}

	closers []func() error // set by Open

	// deviceID, disk and devices: the device inventory (device.go).
	deviceID string
	disk     api.DiskEncryption
	devices  deviceReporter

	// shares creates share links (share.go); nil if the Remote cannot.
	shares shareRemote

	// passes serializes each matter's sync passes with the status page's
	// actions on the same folder (restore.go).
	passes matterLocks
	// activity keeps the log's newest file decisions for the status page.
	activity *activityLog

	// foldCase: treat the matters folder as a case-insensitive volume
	// (see FoldCase). Set before the agent runs, read-only after.
	foldCase bool

	mu    sync.Mutex                    // guards known, rechecked, wipePending, closedSeen, loginRefused and choicesTime
	known map[string]map[format.ID]bool // matter -> chunks uploaded or opened here
	// rechecked holds the matters whose integrity problems were tried
	// again since this agent started (once per start, see integrity).
	rechecked map[string]bool
	// wipePending: IT revoked the user under wipe_on_revoke, and the
	// folders go once Vault confirms (see wipeIfConfirmed).
	wipePending bool
	// lastToken is the identity token held when sync stopped
	// (wipe_on_revoke only): the gateway signs its revocation statement
	// for a token, and Vault issues none to a revoked user.
	lastToken string
	// closedSeen: matters the gateway said were closed while Vault still
	// listed them (closed.go), and when.
	closedSeen map[string]time.Time
	// loginRefused: sync stopped because Vault refused the login while the
	// gateway did not say "revoked" (an expired token, most likely).
	loginRefused bool
	// renamed: notices of matter folders whose name was put back since
	// the agent started (see reclaimFolder); strayLogged: what the log
	// already said is not in any matter (logged once, shown in status
	// while it is there).
	renamed     []string
	strayLogged map[string]bool
	// choicesTime is the modification time of matters.json last seen
	// (selection.go).
	choicesTime time.Time

	// leaving are the matters refreshMatters found the user removed from
	// this laptop that still have a folder here (selection.go); only the
	// goroutine that lists the matters (Run's, or SyncOnce) uses it.
	leaving []*matterSync
}

// folderRenamed records a notice that a matter folder's name was put back.
func (a *Agent) folderRenamed(id, renamed, folder string) string {
	n := renamedNotice(id, renamed, folder)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.renamed = append(a.renamed, n)
	if len(a.renamed) > 20 {
		a.renamed = a.renamed[len(a.renamed)-20:]
	}
	return n
}

// showNotices puts the rename notices and what is stray in the root into
// status, and logs each stray item once.
func (a *Agent) showNotices(folders map[string]string) {
	strays := a.strays(folders)
	a.mu.Lock()
	notices := append(append([]string(nil), a.renamed...), strays...)
	if a.strayLogged == nil {
		a.strayLogged = map[string]bool{}
	}
	for _, s := range strays {
		if !a.strayLogged[s] {
			a.strayLogged[s] = true
			a.log.Warn("not synced: in the Matters folder but in no matter", "notice", s)
		}
	}
	a.mu.Unlock()
	a.board.update(func(s *Status) { s.Notices = notices })
}

// firstRecheck reports whether this is the first call for matter since the
// agent started.
func (a *Agent) firstRecheck(matter string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rechecked[matter] {
		return false
	}
	if a.rechecked == nil {
		a.rechecked = map[string]bool{}
	}
	a.rechecked[matter] = true
	return true
}

// knownChunk records that this agent uploaded or opened a chunk itself.
func (a *Agent) knownChunk(matter string, id format.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.known == nil {
		a.known = map[string]map[format.ID]bool{}
	}
	if a.known[matter] == nil {
		a.known[matter] = map[format.ID]bool{}
	}
	a.known[matter][id] = true
}

func (a *Agent) isKnownChunk(matter string, id format.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.known[matter][id]
}

// New returns an agent for the logged-in user.
func New(cfg Config, idx *index.DB, keys Keys, remote Remote, user, entity string, log *slog.Logger) (*Agent, error) {
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	ig, err := watch.NewIgnore(cfg.IgnorePatterns())
	if err != nil {
		return nil, err
	}
	reporter, _ := remote.(integrityReporter)
	heads, _ := remote.(headSource)
	pres, _ := remote.(presenceRemote)
	devices, _ := remote.(deviceReporter)
	shares, _ := remote.(shareRemote)
	drops, _ := remote.(dropRemote)
	// Back-pressure (429, 503) is waited out here, up to two minutes per
	// request, before a pass gives up and backs off as a whole.
	remote = politeRemote{Remote: remote, maxWait: 2 * time.Minute}
	activity := &activityLog{}
	log = slog.New(activity.handler(log.Handler()))
	a := &Agent{activity: activity, cfg: cfg, log: log, idx: idx, keys: keys, remote: remote, reporter: reporter, heads: heads, user: user, entity: entity, ignore: ig,
		board: &statusBoard{}, revoked: make(chan struct{}), recheck: make(chan struct{}, 1),
		drops: drops, incoming: newIncomingJournal(cfg.DataDir)}
	if pres != nil {
		a.presence = newPresence(a, pres)
	}
	a.chunkers.New = func() any { return format.NewChunker(nil) }
	a.downBudget = semaphore.NewWeighted(downloadBudget)
	a.sealBufs = make(chan *[]byte, sealedInFlight)
	for range sealedInFlight {
		a.sealBufs <- new([]byte)
	}
	// Buffers grow to the chunks they hold (pooled, so a batch of small
	// chunks does not pin 8 MiB each).
	a.bufs.New = func() any { b := []byte(nil); return &b }
	if n := cfg.Bandwidth.UploadKiBps; n > 0 {
		a.upLimit = rate.NewLimiter(rate.Limit(n*1024), format.MaxChunkSize+format.Overhead)
	}
	if n := cfg.Bandwidth.DownloadKiBps; n > 0 {
		a.downLimit = rate.NewLimiter(rate.Limit(n*1024), format.MaxChunkSize+format.Overhead)
	}
	a.shares = shares
	a.devices, a.disk = devices, diskReport(existingAncestor(cfg.Root))
	if a.deviceID, err = LoadDeviceID(cfg.DataDir); err != nil {
		log.Warn("no device ID: this device is not in the gateway's device inventory", "err", err)
	}
	enc := diskText(a.disk)
	if a.disk.State == api.DiskOn {
		log.Info("disk encryption", "state", enc, "root", cfg.Root)
	} else {
		log.Warn("matters folder is not on a disk known to be encrypted", "state", enc, "root", cfg.Root)
	}
	a.board.update(func(s *Status) {
		s.State, s.User, s.Device, s.Root, s.DiskEncryption = "starting", user, cfg.DeviceName, cfg.Root, enc
	})
	return a, nil
}

// getCodec returns the agent's one codec. A format.Codec is safe for
// concurrent use and serves GOMAXPROCS compressions at once (more wait):
// one per worker, as before, kept up to sixteen sets of zstd state and
// scratch buffers alive during a first sync (issue 22: upload RSS 241 MiB).
func (a *Agent) getCodec() *format.Codec {
	a.codecOnce.Do(func() {
		c, err := format.NewCodec()
		if err != nil {
			panic("agent: zstd codec: " + err.Error()) // constant options: cannot fail
		}
		a.codec = c
	})
	return a.codec
}

// putCodec is the end of a use of getCodec's codec (shared: kept).
func (a *Agent) putCodec(*format.Codec) {}

func (a *Agent) waitUpload(ctx context.Context, n int) {
	if a.upLimit != nil {
		_ = a.upLimit.WaitN(ctx, min(n, a.upLimit.Burst()))
	}
}

func (a *Agent) waitDownload(ctx context.Context, n int) {
	if a.downLimit != nil {
		_ = a.downLimit.WaitN(ctx, min(n, a.downLimit.Burst()))
	}
}

func (a *Agent) progress(matter string, total int) {
	a.board.matter(matter, func(m *MatterStatus) {
		m.FilesDone, m.FilesTotal, m.ProgressOf, m.ProgressSince = 0, total, "files", time.Now()
	})
}

func (a *Agent) progressStep(matter string) {
	a.board.matter(matter, func(m *MatterStatus) { m.FilesDone++ })
}

// FoldCase makes the agent look up names in the matter folders
// case-insensitively, as on a Windows (NTFS) or macOS (APFS, HFS+) disk,
// even where the disk is case-sensitive: "brief.docx" finds "Brief.docx".
// It exists so the Windows and macOS behaviour (and attacks on it) can be
// tested on any disk; an agent on a disk that folds case needs no setting.
// Call it before SyncOnce or Run.
func (a *Agent) FoldCase() { a.foldCase = true }

// Status returns the current status.
func (a *Agent) Status() Status { return a.board.snapshot() }

// refreshMatters asks Vault which matters the user has, creates their
// folders and index rows, and returns them and the matters the user lost
// (see forget).
func (a *Agent) refreshMatters(ctx context.Context) ([]*matterSync, []index.Matter, error) {
	list, err := a.keys.Matters(ctx)
	if kms.KindOf(err) == kms.Denied {
		// Vault refused the login itself: a disabled entity, a revoked
		// token, or just an expired login. Only the gateway's explicit
		// "revoked" triggers the wipe policy, so an expired login can never
		// delete a lawyer's work: ask it, with the identity token still
		// cached (valid for minutes after Vault stops issuing them).
		_, gwErr := a.remote.Matters(ctx)
		a.stop(err, remoteCode(gwErr) == api.CodeRevoked)
		return nil, nil, fmt.Errorf("%w: %w", ErrRevoked, err)
	}
	if err != nil {
		return nil, nil, a.checkRevoked(fmt.Errorf("list matters: %w", err))
	}
	known, err := a.idx.Matters(ctx)
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]index.Matter{}
	for _, m := range known {
		byID[m.ID] = m
	}
	if err := privateDir(a.cfg.Root); err != nil {
		return nil, nil, fmt.Errorf("matters root: %w", err)
	}
	var out []*matterSync
	current := map[string]bool{}
	folders := map[string]string{} // folder name -> matter ID
	choices, err := LoadMatterChoices(a.cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	a.leaving = nil
	for _, m := range list {
		current[m.ID] = true
		if !choices.Selected(a.cfg.SyncMatters, m.ID) {
			if ms := a.unselected(ctx, m, byID[m.ID]); ms != nil {
				folders[filepath.Base(ms.dir)] = m.ID
				a.leaving = append(a.leaving, ms)
			}
			continue
		}
		folder := MatterFolder(m.ID, m.Name)
		dir := filepath.Join(a.cfg.Root, folder)
		if old, ok := byID[m.ID]; ok && old.Folder != folder {
			// The matter was renamed: move its folder along.
			if err := os.Rename(filepath.Join(a.cfg.Root, old.Folder), dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				a.log.Warn("matter renamed but its folder could not be moved", "matter", m.ID, "from", old.Folder, "to", folder, "err", err)
				folder, dir = old.Folder, filepath.Join(a.cfg.Root, old.Folder)
			}
		}
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			renamed, err := a.reclaimFolder(m.ID, dir)
			switch {
			case err != nil:
				return nil, nil, fmt.Errorf("matter folder %s missing, and a renamed copy could not be renamed back: %w", folder, err)
			case renamed != "":
				a.folderRenamed(m.ID, renamed, folder)
			case byID[m.ID].ID != "":
				// Gone (deleted by the user): never "delete everything"
				// remotely. The folder is made again below and the index
				// forgets the matter's files, so the pull brings them back.
				a.log.Warn("matter folder missing: recreating it, files come back from the gateway", "matter", m.ID, "folder", dir)
				if err := a.idx.ResetMatter(ctx, m.ID); err != nil {
					return nil, nil, err
				}
			}
		}
		if err := privateDir(dir); err != nil {
			return nil, nil, fmt.Errorf("matter folder %s: %w", folder, err)
		}
		if err := markFolder(dir, m.ID); err != nil {
			a.log.Warn("matter folder: marker not written", "matter", m.ID, "err", err)
		}
		folders[folder] = m.ID
		if err := a.idx.PutMatter(ctx, index.Matter{ID: m.ID, Name: m.Name, Role: string(m.Role), Folder: folder}); err != nil {
			return nil, nil, err
		}
		a.board.matter(m.ID, func(s *MatterStatus) { s.Name, s.Role, s.Folder = m.Name, string(m.Role), folder })
		out = append(out, &matterSync{a: a, id: m.ID, name: m.Name, role: m.Role, dir: dir})
	}
	var lost []index.Matter
	for _, m := range known {
		switch {
		case current[m.ID]:
		case m.State != "removed" && m.State != closedState:
			lost = append(lost, m)
		default:
			folders[m.Folder] = m.ID // kept under on_access_lost: keep
			// Lost earlier (maybe before a restart): status keeps saying so.
			a.board.matter(m.ID, func(s *MatterStatus) {
				s.Name, s.Folder, s.State, s.Role = m.Name, m.Folder, m.State, ""
				if m.LastError != "" {
					s.Errors = []string{m.LastError}
				}
			})
		}
	}
	for _, m := range lost {
		folders[m.Folder] = m.ID
	}
	a.showNotices(folders)
	return a.pauseClosed(ctx, out), lost, nil
}

// forget stops syncing matters the user lost (a wall, a removal, a
// shredded matter) and applies on_access_lost to their local copies. Vault's
// list alone (a transient error, a metadata read gone wrong) must never
// delete a lawyer's files, so a matter counts as lost only when Vault
// refuses its key and the gateway no longer lists it; until both agree the
// folder is left alone and asked about again at the next refresh. Callers
// stop the matter's loop first, so no pass writes into a folder being
// removed.
func (a *Agent) forget(ctx context.Context, lost []index.Matter) error {
	if len(lost) == 0 {
		return nil
	}
	who, err := a.remote.Matters(ctx)
	if err != nil && remoteCode(err) != api.CodeRevoked {
		a.log.Warn("cannot confirm lost matters with the gateway; keeping their folders for now", "err", err)
		return nil
	}
	gwHas := map[string]bool{}
	for _, m := range who.Matters {
		gwHas[m.ID] = true
	}
	closed := a.closedKnown(who)
	for _, m := range lost {
		if at, ok := closed[m.ID]; ok {
			// Closed by the firm: on_matter_closed, not on_access_lost.
			if _, err := a.matterClosed(ctx, m, at); err != nil {
				return err
			}
			continue
		}
		pending := func() {
			a.board.matter(m.ID, func(s *MatterStatus) {
				s.State, s.Errors = "paused", []string{"Matter " + m.ID + ": the firm may have changed your access; syncing is paused until this is confirmed"}
			})
		}
		if gwHas[m.ID] {
			a.log.Warn("Vault no longer lists a matter the gateway still serves: keeping its folder until both agree", "matter", m.ID)
			pending()
			continue
		}
		a.keys.Invalidate(m.ID)
		if _, _, err := a.keys.CurrentKey(ctx, m.ID); err == nil || (kms.KindOf(err) != kms.Denied && kms.KindOf(err) != kms.NotFound) {
			a.log.Warn("Vault still gives (or could not be asked for) the key of a matter it no longer lists: keeping its folder until both agree", "matter", m.ID, "err", err)
			pending()
			continue
		}
		if err := a.idx.SetMatterState(ctx, m.ID, "removed"); err != nil {
			return err
		}
		notice := a.accessLost(ctx, m)
		if err := a.idx.SetSyncResult(ctx, m.ID, time.Now(), notice); err != nil {
			return err
		}
		a.board.matter(m.ID, func(s *MatterStatus) {
			s.Name, s.Folder, s.State, s.Role, s.Queue, s.Errors = m.Name, m.Folder, "removed", "", 0, []string{notice}
		})
	}
	return nil
}

// The fates on_access_lost offers a matter folder whose matter the user
// lost.
const (
	AccessLostQuarantine = "quarantine" // unsynced work to the quarantine, the rest removed
	AccessLostRemove     = "remove"     // everything removed (listed in the report)
	AccessLostKeep       = "keep"       // the folder stays, no longer synced
)

// accessLost applies on_access_lost to a lost matter's folder and returns
// the sentence status shows. The trash goes in every case: copies of
// deleted files of a matter the user may no longer read.
func (a *Agent) accessLost(ctx context.Context, m index.Matter) string {
	dir := filepath.Join(a.cfg.Root, m.Folder)
	head := fmt.Sprintf("Matter %s: access removed by the firm on %s", m.ID, time.Now().Format("2006-01-02"))
	a.log.Warn("access to matter removed: it is no longer synced", "matter", m.ID, "on_access_lost", a.cfg.OnAccessLost)
	if a.cfg.OnAccessLost == AccessLostKeep {
		if _, err := a.purgeTrash(m.ID, dir, time.Now(), true, "access to the matter removed"); err != nil {
			return head + "; the folder is kept but no longer synced (its trash could not be emptied: tell IT)"
		}
		return head + "; the folder is kept (firm policy) but no longer synced"
	}
	w := a.newWipe(a.cfg.OnAccessLost == AccessLostQuarantine, "access to the matter removed")
	r := w.matter(m)
	w.finish()
	switch {
	case r.missing:
		return head + "; there was no local folder"
	case !r.done:
		return head + "; the local folder could not be checked and was kept: tell IT"
	case r.kept > 0:
		return fmt.Sprintf("%s; the local copy was removed; your unsynced edits (%d files) were kept for IT in %s", head, r.kept, w.dir)
	case r.unsyncedRemoved > 0:
		return fmt.Sprintf("%s; the local copy was removed, with %d unsynced files (firm policy; list in %s)", head, r.unsyncedRemoved, w.reportPath())
	}
	return head + "; the local copy was removed (everything in it was synced)"
}

// checkRevoked turns the gateway's "revoked" answer into ErrRevoked, after
// acting on it.
func (a *Agent) checkRevoked(err error) error {
	if err == nil || errors.Is(err, ErrRevoked) {
		return err
	}
	if remoteCode(err) == api.CodeRevoked {
		a.stop(err, true)
		return fmt.Errorf("%w: %w", ErrRevoked, err)
	}
	return err
}

// stop ends syncing for good: every key dropped from memory, the wipe
// policy armed if the gateway says IT revoked the user (revoked), and the
// reason shown in status.
func (a *Agent) stop(cause error, revoked bool) {
	a.revokeOnce.Do(func() {
		if a.cfg.WipeOnRevoke {
			// Also when only Vault refused: the gateway may confirm a
			// revocation later (waitForLogin), asked with this token.
			a.keepToken()
		}
		a.keys.Wipe()
		a.log.Error("access revoked: sync stopped and keys wiped", "revoked_by_it", revoked, "wipe_on_revoke", a.cfg.WipeOnRevoke, "cause", cause)
		msg := "access revoked by IT: sync stopped, keys wiped"
		if !revoked {
			a.mu.Lock()
			a.loginRefused = true
			a.mu.Unlock()
			msg = "Vault refused this login (expired, or revoked): sync stopped, keys wiped; run `mattersync login` (syncing resumes by itself) or contact IT"
		}
		if revoked {
			// Not here: passes of other matters may still be writing, and
			// Vault has not confirmed yet. SyncOnce and Run wipe (or, without
			// wipe_on_revoke, empty the trash) once they have stopped every
			// pass.
			a.mu.Lock()
			a.wipePending = true
			a.mu.Unlock()
			if a.cfg.WipeOnRevoke {
				msg += "; local matter folders are removed once Vault confirms the revocation"
			}
		}
		a.board.update(func(s *Status) { s.State = "revoked"; s.Message = msg })
		close(a.revoked)
	})
}

// syncMatter runs one pass on a matter: pull, then scan (the whole matter
// if full, else only below each of paths) and upload, then pull again to
// pick up what arrived meanwhile. Neither full nor paths: pull only.
func (a *Agent) syncMatter(ctx context.Context, m *matterSync, full bool, paths []string) (passResult, error) {
	var res passResult
	defer a.passes.lock(m.id)()
	a.board.matter(m.id, func(s *MatterStatus) { s.State = "syncing" })
	pass := func() error {
		if err := m.openFolder(ctx, &res); err != nil {
			return err
		}
		defer m.closeFolder()
		// Before anything is read or written: has the gateway gone back
		// from what this agent saw (witness.go)?
		if err := m.witness(ctx); err != nil {
			return err
		}
		mk, err := loadMatterKeys(ctx, a.keys, m.id)
		if err != nil {
			return err
		}
		if err := m.pull(ctx, mk, &res); err != nil {
			return err
		}
		// Clients' uploads first, so this pass's scan commits them
		// (incoming.go).
		if written := m.deliverDrops(ctx, mk, full, &res); len(written) > 0 && !full {
			paths = append(paths, written...)
		}
		if full {
			paths = []string{""}
			if err := m.retryProblems(ctx, mk, &res); err != nil {
				return err
			}
			// Every full pass empties what the trash may no longer keep.
			if _, err := a.purgeTrash(m.id, m.dir, time.Now(), false, ""); err != nil {
				res.skip("", "the matter's trash could not be emptied: %v", err)
			}
		}
		for _, p := range paths {
			if err := m.scan(ctx, mk, p, &res); err != nil {
				return err
			}
		}
		m.finishDrops(ctx)
		if len(paths) == 0 {
			return nil
		}
		return m.pull(ctx, mk, &res)
	}
	err := pass()
	if remoteCode(err) == api.CodeStaleEpoch {
		// The matter was rotated (a member removed or revoked): fetch the
		// new epoch key now instead of at the end of the cache TTL.
		a.log.Info("matter key rotated: fetching the new epoch", "matter", m.id)
		a.keys.Invalidate(m.id)
		err = pass()
	}
	err = a.checkRevoked(err)
	// Every file left alone, on the laptop's log: "why didn't my file
	// sync" has an answer there.
	for _, sk := range res.skips {
		a.log.Info("file skipped", "matter", m.id, "path", sk.path, "reason", sk.reason)
	}
	now := time.Now()
	msg := ""
	if err != nil {
		msg = explain(err)
		if msg != "" {
			a.log.Warn("sync pass failed", "matter", m.id, "status", msg, "err", err)
		}
	}
	_ = a.idx.SetSyncResult(context.WithoutCancel(ctx), m.id, now, msg)
	n, _ := a.idx.ConflictCount(context.WithoutCancel(ctx), m.id)
	problems, perr := a.idx.MergeProblems(context.WithoutCancel(ctx), m.id, res.problems)
	if perr != nil {
		a.log.Error("cannot record problems", "matter", m.id, "err", perr)
	}
	a.board.matter(m.id, func(s *MatterStatus) {
		s.State, s.Conflicts = "idle", n
		s.Errors = slices.Compact(slices.Sorted(slices.Values(append(problems, res.skipped...))))
		switch {
		case err == nil:
			s.LastSync = now
		case errors.As(err, new(*HaltedError)):
			s.State, s.Errors = "halted", append([]string{msg}, s.Errors...)
		case msg != "":
			s.State, s.Errors = "error", append([]string{msg}, s.Errors...)
		}
		s.Queue = 0
	})
	return res, err
}

// Summary is the outcome of SyncOnce.
type Summary struct {
	Matters                                  int
	Uploaded, Downloaded, Deleted, Conflicts int
	Problems                                 []string
	// Integrity lists the integrity events among Problems: remote data
	// that failed authentication, a path the format refuses, a gateway
	// that went backwards (each reported to the gateway).
	Integrity []string
}

// SyncOnce reconciles every matter both ways once. The error is non-nil if
// a matter could not be synced; Problems lists files left alone.
func (a *Agent) SyncOnce(ctx context.Context) (Summary, error) {
	sum, err := a.syncOnce(ctx)
	if errors.Is(err, ErrRevoked) {
		a.wipeIfConfirmed(ctx)
	} else if rerr := a.ReportDevice(ctx, ""); rerr != nil {
		a.log.Debug("device report not sent", "err", rerr)
	}
	return sum, err
}

func (a *Agent) syncOnce(ctx context.Context) (Summary, error) {
	var sum Summary
	ms, lost, err := a.refreshMatters(ctx)
	if err != nil {
		return sum, err
	}
	if err := a.forget(ctx, lost); err != nil {
		return sum, err
	}
	a.leave(ctx, a.leaving)
	var errs []error
	for _, m := range ms {
		res, err := a.syncMatter(ctx, m, true, nil)
		sum.Matters++
		sum.Uploaded += res.uploaded
		sum.Downloaded += res.downloaded
		sum.Deleted += res.deleted
		sum.Conflicts += res.conflicts
		for _, p := range res.skipped {
			sum.Problems = append(sum.Problems, m.id+": "+p)
		}
		// Files refused this pass (an integrity event, a file that cannot
		// be written here) are not in sync either: `sync --once` must
		// not exit 0 after skipping them.
		for _, k := range slices.Sorted(maps.Keys(res.problems)) {
			if p := res.problems[k]; p != "" {
				sum.Problems = append(sum.Problems, m.id+": "+p)
				if strings.HasPrefix(p, "integrity: ") {
					sum.Integrity = append(sum.Integrity, m.id+": "+p)
				}
			}
		}
		if err != nil {
			if errors.Is(err, ErrRevoked) {
				return sum, err
			}
			errs = append(errs, fmt.Errorf("matter %s: %w", m.id, err))
		}
	}
	a.board.update(func(s *Status) { s.State = "idle" })
	return sum, errors.Join(errs...)
}

// Run syncs until ctx ends: a watcher on the root, one loop per matter, the
// status endpoint. When access is revoked it stops syncing and wipes the
// keys at once, but keeps serving status (so the user and IT can see why)
// until ctx ends, then returns ErrRevoked; otherwise it returns nil. If it
// stopped because Vault refused the login and Vault accepts it again (the
// user logged in), it returns ErrLoggedInAgain at once.
func (a *Agent) Run(parent context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// The status endpoint lives as long as Run (after a revocation, until
	// parent ends).
	sctx, stopStatus := context.WithCancel(parent)
	defer stopStatus()
	if a.cfg.StatusAddr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveStatus(sctx, a.cfg.StatusAddr, a.cfg.DataDir, a.board, a, a.log); err != nil {
				a.log.Error("status endpoint", "err", err)
			}
		}()
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer a.keys.Wipe()
	if err := privateDir(a.cfg.Root); err != nil {
		return fmt.Errorf("matters root: %w", err)
	}
	w, err := watch.New(a.cfg.Root, a.cfg.Debounce, a.ignore, a.log)
	if err != nil {
		return err
	}
	if a.presence != nil {
		w.LockFiles(a.presence.locks)
		wg.Add(1)
		go func() { defer wg.Done(); a.presence.run(ctx) }()
	} else {
		a.restoreLeftMarks(ctx)
	}
	batches := make(chan watch.Batch)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx, batches); err != nil {
			a.log.Error("watcher stopped", "err", err)
		}
	}()

	loops := map[string]*matterLoop{}
	// One long poll for all the matters' feeds (feed.go).
	feedSet := newFeedLoops()
	wg.Add(1)
	go func() { defer wg.Done(); a.feed(ctx, feedSet) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.reportDevice(ctx) }()
	refresh := time.NewTicker(time.Minute)
	defer refresh.Stop()
	startLoops := func() {
		ms, lost, err := a.refreshMatters(ctx)
		if errors.Is(err, ErrRevoked) {
			return // stop has said why in status
		}
		if err != nil {
			a.log.Warn("cannot list matters; retrying", "err", err)
			a.board.update(func(s *Status) { s.State, s.Message = "offline", explain(err) })
			return
		}
		live := map[string]bool{}
		for _, m := range ms {
			live[m.id] = true
			if l, ok := loops[m.id]; ok {
				if l.m.role == m.role && l.m.dir == m.dir {
					continue
				}
				l.stop() // role or folder changed: a fresh loop takes over
			}
			l := newMatterLoop(ctx, a, m, loops[m.id])
			loops[m.id] = l
			feedSet.set(m.id, l)
			wg.Add(1)
			go func() { defer wg.Done(); l.run() }()
		}
		for id, l := range loops {
			if !live[id] {
				feedSet.set(id, nil)
				l.stop()
				<-l.done // no pass may write into a folder forget removes
				delete(loops, id)
			}
		}
		if err := a.forget(ctx, lost); err != nil {
			a.log.Error("cannot stop syncing lost matters", "err", err)
		}
		a.leave(ctx, a.leaving)
		a.board.update(func(s *Status) { s.State, s.Message = "idle", "" })
	}
	startLoops()
	a.choicesChanged()
	// The user's choice of matters is acted on within seconds; a matter
	// whose removal waits for uploads is tried again every 10 s.
	choices := time.NewTicker(2 * time.Second)
	defer choices.Stop()
	lastLeave := time.Now()
	for {
		select {
		case <-choices.C:
			if a.choicesChanged() || len(a.leaving) > 0 && time.Since(lastLeave) > 10*time.Second {
				lastLeave = time.Now()
				startLoops()
			}
		case <-ctx.Done():
			a.board.update(func(s *Status) { s.State = "stopped" })
			return nil
		case <-a.revoked:
			cancel()
			for _, l := range loops {
				<-l.done // no pass may write into a folder being wiped
			}
			a.mu.Lock()
			refused := a.loginRefused
			a.mu.Unlock()
			if refused && a.waitForLogin(parent) {
				return ErrLoggedInAgain
			}
			a.waitAndWipe(parent)
			<-parent.Done()
			return ErrRevoked
		case <-refresh.C:
			startLoops()
		case <-a.recheck:
			startLoops()
		case b := <-batches:
			for _, l := range loops {
				l.local(b)
			}
		}
	}
}

// matterLoop is the goroutine that owns one matter while Run runs.
type matterLoop struct {
	a      *Agent
	m      *matterSync
	wake   chan struct{}
	mu     sync.Mutex // guards paths and full
	paths  map[string]bool
	full   bool
	ctx    context.Context // ends when the matter stops being synced
	cancel context.CancelFunc
	prev   *matterLoop   // a stopped loop of the same matter, to wait for
	done   chan struct{} // closed when run returns
}

func newMatterLoop(ctx context.Context, a *Agent, m *matterSync, prev *matterLoop) *matterLoop {
	l := &matterLoop{a: a, m: m, wake: make(chan struct{}, 1), paths: map[string]bool{}, full: true, prev: prev, done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(ctx)
	return l
}

func (l *matterLoop) stop() { l.cancel() }

func (l *matterLoop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// local queues the paths of a watcher batch that lie in this matter.
func (l *matterLoop) local(b watch.Batch) {
	l.mu.Lock()
	if b.Overflow {
		l.full = true
	}
	n := 0
	for _, p := range b.Paths {
		if rel, ok := relUnder(l.m.dir, p); ok {
			l.paths[rel] = true
			n++
		} else if p == l.m.dir || isAncestor(p, l.m.dir) {
			l.full = true // the matter folder itself moved or vanished
			n++
		}
	}
	q := len(l.paths)
	l.mu.Unlock()
	if n > 0 || b.Overflow {
		l.a.board.matter(l.m.id, func(s *MatterStatus) { s.Queue = q })
		l.poke()
	}
}

func (l *matterLoop) run() {
	defer close(l.done)
	ctx := l.ctx
	if l.prev != nil {
		<-l.prev.done // one writer per matter, always
		l.prev = nil
	}
	// The agent's one feed (feed.go) pokes the loop when the matter has
	// news.
	defer l.cancel()
	rescan := time.NewTicker(l.a.cfg.RescanInterval)
	defer rescan.Stop()
	backoff := time.Duration(0)
	retry := time.NewTimer(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-rescan.C:
			l.mu.Lock()
			l.full = true
			l.mu.Unlock()
		case <-l.wake:
		case <-retry.C:
		}
		l.mu.Lock()
		full, paths := l.full, l.paths
		l.full, l.paths = false, map[string]bool{}
		l.mu.Unlock()
		_, err := l.a.syncMatter(ctx, l.m, full || len(paths) > 256, slices.Sorted(maps.Keys(paths)))
		if err == nil {
			backoff = 0
			continue
		}
		if errors.Is(err, ErrRevoked) || ctx.Err() != nil {
			return
		}
		if k := fault.Of(err); k == fault.Denied || k == fault.NotFound || remoteCode(err) == api.CodeMatterClosed {
			select {
			case l.a.recheck <- struct{}{}:
			default:
			}
		}
		// Offline or failing: retry everything later, with exponential
		// backoff and jitter so a fleet of laptops doesn't stampede a
		// gateway that comes back.
		l.mu.Lock()
		l.full = true
		l.mu.Unlock()
		backoff = min(max(2*backoff, time.Second), 5*time.Minute)
		d := backoff/2 + rand.N(backoff/2+1)
		l.a.log.Warn("sync failed; retrying", "matter", l.m.id, "in", d.Round(time.Millisecond), "err", err)
		retry.Reset(d)
	}
}

// isAncestor reports whether dir is a strict ancestor of p.
func isAncestor(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// existingAncestor returns p or its nearest existing parent.
func existingAncestor(p string) string {
	for {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			return p
		}
		p = filepath.Dir(p)
	}
}
