package agent

// Files clients upload through a file request (docs/SHARING.md, "Request
// files") land in the matter's Incoming folder. The agent of a member with
// rw learns of new drops from the combined feed (feed.go asks for drop
// news on rw matters) and, as the safety net, at every full pass; it
// claims each drop (the gateway hands a drop to one agent at a time),
// downloads it, unwraps the request's private key with the epoch key it
// holds, opens the drop and writes the file into Incoming/ (temp file,
// fsync, rename; a free name, never over a file). The pass's scan then
// commits it like any saved file, and the drop is marked done with the
// file ID only once the index shows the file committed. The journal
// (incoming.json in the data directory) remembers what was written but
// not yet marked, so a crash between the two neither loses the mark nor
// writes the file twice. Other members get the file through sync.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// IncomingFolder is the folder of a matter where clients' uploads land.
const IncomingFolder = "Incoming"

// dropRemote is what delivering drops needs of the gateway
// (gateway/client implements it); optional, like integrityReporter.
type dropRemote interface {
	CreateRequest(ctx context.Context, matter string, req api.RequestCreate) (api.Request, error)
	Drops(ctx context.Context, matter string) ([]api.Drop, error)
	ClaimDrop(ctx context.Context, matter, id string) (api.Drop, error)
	OpenDrop(ctx context.Context, matter, id string) (io.ReadCloser, int64, error)
	FinishDrop(ctx context.Context, matter, id string, done api.DropDone) (api.Drop, error)
	FeedDrops(ctx context.Context, cursors, drops map[string]int64, wait time.Duration) (api.Feed, error)
}

// maxDropBytes bounds a drop the agent opens (it is opened in memory):
// above the gateway's limit on what a page may upload.
const maxDropBytes = 2<<30 + 1<<20

// incomingEntry is a drop written into a matter but not yet marked done.
type incomingEntry struct {
	Matter string `json:"matter"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"` // of the plaintext, to know the file is still the drop's
}

// incomingJournal is incoming.json: drop ID -> entry.
type incomingJournal struct {
	path string
	mu   sync.Mutex // guards the file and due
	// due: matters whose drops are to be looked at on their next pass
	// (news from the feed).
	due map[string]bool
}

func newIncomingJournal(dataDir string) *incomingJournal {
	return &incomingJournal{path: filepath.Join(dataDir, "incoming.json"), due: map[string]bool{}}
}

func (j *incomingJournal) readLocked() (map[string]incomingEntry, error) {
	out := map[string]incomingEntry{}
	b, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", j.path, err)
	}
	return out, nil
}

// update applies fn to the journal and writes it back atomically.
func (j *incomingJournal) update(fn func(map[string]incomingEntry)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	m, err := j.readLocked()
	if err != nil {
		return err
	}
	fn(m)
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return WriteFileAtomic(j.path, b, 0o600)
}

// of returns the journal's entries of matter.
func (j *incomingJournal) of(matter string) (map[string]incomingEntry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	m, err := j.readLocked()
	if err != nil {
		return nil, err
	}
	for id, e := range m {
		if e.Matter != matter {
			delete(m, id)
		}
	}
	return m, nil
}

// setDue marks matter's drops to be looked at on its next pass.
func (j *incomingJournal) setDue(matter string) {
	j.mu.Lock()
	j.due[matter] = true
	j.mu.Unlock()
}

// takeDue says whether matter's drops are due, and clears the mark.
func (j *incomingJournal) takeDue(matter string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	d := j.due[matter]
	delete(j.due, matter)
	return d
}

// deliverDrops writes the matter's pending drops into Incoming/ (full
// pass, or news from the feed) and returns the paths written, for the
// pass to scan. Only an rw member's agent delivers; a failure is one
// drop's problem, never the pass's.
func (m *matterSync) deliverDrops(ctx context.Context, mk *matterKeys, full bool, res *passResult) []string {
	a := m.a
	if a.drops == nil || m.role != kms.RoleRW || m.leaving {
		return nil
	}
	due := a.incoming.takeDue(m.id)
	if !full && !due {
		return nil
	}
	list, err := a.drops.Drops(ctx, m.id)
	if err != nil {
		a.log.Warn("client uploads not listed; the next pass tries again", "matter", m.id, "err", err)
		return nil
	}
	journal, err := a.incoming.of(m.id)
	if err != nil {
		a.log.Error("incoming journal unreadable", "err", err)
		return nil
	}
	var written []string
	for _, d := range list {
		if _, ok := journal[d.ID]; ok {
			continue // written here; marked done after its commit
		}
		rel, err := m.deliverDrop(ctx, d)
		switch {
		case err == nil:
			written = append(written, rel)
		case errors.Is(err, errDropRefused):
			// Left for an administrator with the reason (the gateway
			// lists it with mattersync-admin request drops).
			a.log.Error("client upload not delivered: left for an administrator", "matter", m.id, "drop", d.ID, "from", d.Sender, "err", err)
			res.skip(IncomingFolder, "an upload from %s could not be delivered: %v", d.Sender, err)
			if _, ferr := a.drops.FinishDrop(ctx, m.id, d.ID, api.DropDone{Problem: clipName(err.Error(), 1000)}); ferr != nil {
				a.log.Warn("drop problem not recorded", "drop", d.ID, "err", ferr)
			}
		case remoteCode(err) == api.CodeDropClaimed:
			// Another agent delivers it.
		default:
			a.log.Warn("client upload not delivered yet; the next pass tries again", "matter", m.id, "drop", d.ID, "err", err)
		}
	}
	return written
}

// errDropRefused marks a drop no member can deliver (it does not open, or
// its name is refused): left for an administrator.
var errDropRefused = errors.New("refused")

// deliverDrop claims drop d, opens it and writes its file into Incoming/.
func (m *matterSync) deliverDrop(ctx context.Context, d api.Drop) (string, error) {
	a := m.a
	if d.Size > maxDropBytes {
		return "", fmt.Errorf("%w: %d bytes, more than this agent opens", errDropRefused, d.Size)
	}
	if _, err := a.drops.ClaimDrop(ctx, m.id, d.ID); err != nil {
		return "", err
	}
	wrapped, err1 := base64.RawURLEncoding.DecodeString(d.WrappedKey)
	pub, err2 := base64.RawURLEncoding.DecodeString(d.PublicKey)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("%w: the request's keys are not base64url: %w", errDropRefused, err)
	}
	epoch, err := format.RequestKeyEpoch(wrapped)
	if err != nil {
		return "", fmt.Errorf("%w: the request's wrapped key: %w", errDropRefused, err)
	}
	ek, err := a.keys.EpochKey(ctx, m.id, epoch)
	if kms.KindOf(err) == kms.NotFound {
		return "", fmt.Errorf("%w: the request's key is wrapped under epoch %d, which does not exist", errDropRefused, epoch)
	}
	if err != nil {
		return "", err
	}
	priv, err := format.UnwrapRequestKey(m.id, ek, wrapped, pub)
	clear(ek)
	if err != nil {
		return "", fmt.Errorf("%w: the request's key does not unwrap: %w", errDropRefused, err)
	}
	body, size, err := a.drops.OpenDrop(ctx, m.id, d.ID)
	if err != nil {
		return "", err
	}
	obj, err := io.ReadAll(io.LimitReader(body, maxDropBytes+1))
	body.Close()
	if err != nil {
		return "", err
	}
	if int64(len(obj)) != size || size != d.Size {
		return "", fmt.Errorf("drop download cut: %d of %d bytes", len(obj), d.Size)
	}
	meta, plain, err := format.OpenDrop(obj, priv)
	if err != nil {
		return "", fmt.Errorf("%w: it does not open with the request's key (the link's key was altered, or the upload damaged): %w", errDropRefused, err)
	}
	name, err := incomingName(meta.Name)
	if err != nil {
		return "", fmt.Errorf("%w: its file name %q: %w", errDropRefused, clipName(meta.Name, 200), err)
	}
	sum := sha256.Sum256(plain)
	rel, err := m.writeIncoming(ctx, d.ID, name, plain, sum)
	clear(plain)
	if err != nil {
		return "", err
	}
	a.log.Info("client upload delivered into the matter", "matter", m.id, "drop", d.ID, "from", d.Sender, "path", rel, "bytes", len(obj))
	return rel, nil
}

// incomingName is the path in the matter a client's file name lands at:
// Incoming/<name>, the characters Windows forbids in names replaced by
// '_' (as browsers do when they save a file: a client's name is a label,
// not a path), then checked like every synced path. A name that is still
// refused (a separator, "..", a device name, a control character) is.
func incomingName(name string) (string, error) {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, name)
	if strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("a name with a folder separator: %w", format.ErrUnsafePath)
	}
	return format.NormalizePath(IncomingFolder + "/" + name)
}

// writeIncoming writes plain at rel or, if something is there, at the
// first free "name (n).ext", durably; the journal learns of it before
// the rename makes it visible.
func (m *matterSync) writeIncoming(ctx context.Context, drop, rel string, plain []byte, sum [32]byte) (string, error) {
	stem, ext := splitExt(path.Base(rel))
	for n := 1; n < 1000; n++ {
		cand := rel
		if n > 1 {
			cand = path.Join(IncomingFolder, fmt.Sprintf("%s (%d)%s", stem, n, ext))
		}
		if _, err := format.NormalizePath(cand); err != nil {
			return "", fmt.Errorf("%w: %w", errDropRefused, err)
		}
		st, err := m.fs.lstat(cand)
		if err != nil {
			return "", err
		}
		if st.exists || m.fs.caseVariant(cand) {
			continue
		}
		if f, err := m.a.idx.File(ctx, m.id, cand); err == nil && f.FileID != "" {
			continue // known to the index (deleted here, say): not a free name
		} else if err != nil && !errors.Is(err, index.ErrNotFound) {
			return "", err
		}
		f, tmp, err := m.fs.createTemp(cand)
		if err != nil {
			return "", err
		}
		_, werr := f.Write(plain)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			m.fs.remove(tmp)
			return "", localErr(werr)
		}
		if err := m.a.incoming.update(func(j map[string]incomingEntry) {
			j[drop] = incomingEntry{Matter: m.id, Path: cand, SHA256: fmt.Sprintf("%x", sum)}
		}); err != nil {
			m.fs.remove(tmp)
			return "", err
		}
		err = m.fs.install(tmp, cand, st, time.Now())
		if errors.Is(err, errLocalChanged) {
			m.fs.remove(tmp)
			continue // a file appeared there meanwhile: the next name
		}
		if err != nil {
			m.fs.remove(tmp)
			_ = m.a.incoming.update(func(j map[string]incomingEntry) { delete(j, drop) })
			return "", err
		}
		return cand, nil
	}
	return "", fmt.Errorf("%w: no free name for %s in %s", errDropRefused, path.Base(rel), IncomingFolder)
}

// finishDrops marks done the drops written into the matter whose file the
// index shows committed (after the pass's scan), with the file ID. A
// file the user removed or changed before its commit is marked with what
// the index has of it, if anything; else the drop is left for the next
// pass.
func (m *matterSync) finishDrops(ctx context.Context) {
	a := m.a
	if a.drops == nil || m.role != kms.RoleRW {
		return
	}
	journal, err := a.incoming.of(m.id)
	if err != nil || len(journal) == 0 {
		return
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for k := range journal {
			if !yield(k) {
				return
			}
		}
	}) {
		e := journal[id]
		f, err := a.idx.File(ctx, m.id, e.Path)
		if err != nil || f.FileID == "" || f.Version == 0 {
			continue // not committed yet
		}
		_, err = a.drops.FinishDrop(ctx, m.id, id, api.DropDone{File: f.FileID})
		if err != nil && remoteCode(err) != api.CodeDropClaimed && fault.Of(err) != fault.NotFound {
			a.log.Warn("delivered upload not marked done; the next pass tries again", "drop", id, "err", err)
			continue
		}
		if err != nil {
			// Another agent's claim since (this one's lapsed): the file
			// is here and committed; the gateway keeps the other's mark.
			a.log.Warn("delivered upload marked by another agent", "drop", id, "path", e.Path, "err", err)
		}
		if err := a.incoming.update(func(j map[string]incomingEntry) { delete(j, id) }); err != nil {
			a.log.Error("incoming journal not written", "err", err)
		}
	}
}

// clipName shortens s to at most n bytes of whole UTF-8 characters.
func clipName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n) + "…"
}
