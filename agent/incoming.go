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
	"hash"
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

// maxDropBytes bounds a drop the agent opens: above the gateway's limit
// on what a page may upload. A drop is opened as a stream into a temp
// file (one segment in memory), so this bounds the disk it takes.
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
			if _, ferr := a.drops.FinishDrop(ctx, m.id, d.ID, api.DropDone{Problem: dropProblem(err)}); ferr != nil {
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

// dropRefusal is a refusal whose whole story names the client's file:
// the gateway is told only reason (it must never learn a name), this
// laptop's log and status get the rest.
type dropRefusal struct {
	reason string // for the gateway: no name in it
	err    error  // the details, names included
}

func (r *dropRefusal) Error() string   { return "refused: " + r.reason + ": " + r.err.Error() }
func (r *dropRefusal) Unwrap() []error { return []error{errDropRefused, r.err} }

// dropProblem is what the gateway records of a refused drop: never the
// client's file name.
func dropProblem(err error) string {
	if r, ok := errors.AsType[*dropRefusal](err); ok {
		return "refused: " + r.reason
	}
	return clipName(err.Error(), 1000)
}

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
	defer body.Close()
	if size != d.Size {
		return "", fmt.Errorf("drop download of %d bytes, the drop has %d", size, d.Size)
	}
	// The file is written to a temp file in Incoming/ as its segments
	// authenticate (one segment in memory, whatever the size), and
	// renamed into place only once the whole object opened; on any
	// failure the temp file goes.
	f, tmp, err := m.fs.createTemp(path.Join(IncomingFolder, "drop"))
	if err != nil {
		return "", err
	}
	installed := false
	defer func() {
		if !installed {
			m.fs.remove(tmp)
		}
	}()
	src := &dropSource{r: body}
	dst := &dropSink{w: f, h: sha256.New()}
	meta, err := format.OpenDropTo(dst, src, size, priv)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
	case dst.err != nil:
		return "", localErr(dst.err)
	case src.err != nil || src.n < size && errors.Is(err, format.ErrTruncated):
		// The gateway stored exactly d.Size bytes: a shorter stream is
		// the network's doing, tried again, not a damaged upload.
		return "", fmt.Errorf("drop download cut after %d of %d bytes: %w", src.n, size, err)
	case errors.Is(err, format.ErrTruncated), errors.Is(err, format.ErrBadHeader), errors.Is(err, format.ErrUnsupportedVersion),
		errors.Is(err, format.ErrAuth), errors.Is(err, format.ErrMalformed):
		return "", fmt.Errorf("%w: it does not open with the request's key (the link's key was altered, or the upload damaged): %w", errDropRefused, err)
	default:
		return "", localErr(err)
	}
	name, err := incomingName(meta.Name)
	if err != nil {
		return "", &dropRefusal{"its file name is not allowed on every laptop (the name is in the delivering agent's log)", fmt.Errorf("its file name %q: %w", clipName(meta.Name, 200), err)}
	}
	var sum [32]byte
	dst.h.Sum(sum[:0])
	rel, err := m.installIncoming(ctx, d.ID, name, tmp, sum)
	if err != nil {
		return "", err
	}
	installed = true
	a.log.Info("client upload delivered into the matter", "matter", m.id, "drop", d.ID, "from", d.Sender, "path", rel, "bytes", size)
	return rel, nil
}

// dropSource counts what a drop's download gave and keeps its error, so
// a cut download is told from a damaged object.
type dropSource struct {
	r   io.Reader
	n   int64
	err error // the first error other than io.EOF
}

func (s *dropSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// dropSink writes a drop's plaintext to its temp file and hashes it, and
// keeps the file's error (a full disk is this laptop's problem, not the
// upload's).
type dropSink struct {
	w   io.Writer
	h   hash.Hash
	err error
}

func (s *dropSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.h.Write(p[:n])
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
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

// installIncoming renames tmp, a finished temp file in Incoming/ holding
// a drop's plaintext, to rel or, if something is there, to the first free
// "name (n).ext", durably; the journal learns of it before the rename
// makes it visible. On an error tmp is left for the caller to remove.
func (m *matterSync) installIncoming(ctx context.Context, drop, rel, tmp string, sum [32]byte) (string, error) {
	stem, ext := splitExt(path.Base(rel))
	for n := 1; n < 1000; n++ {
		cand := rel
		if n > 1 {
			cand = path.Join(IncomingFolder, fmt.Sprintf("%s (%d)%s", stem, n, ext))
		}
		if _, err := format.NormalizePath(cand); err != nil {
			return "", &dropRefusal{"its file name is not allowed here (the name is in the delivering agent's log)", err}
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
		if err := m.a.incoming.update(func(j map[string]incomingEntry) {
			j[drop] = incomingEntry{Matter: m.id, Path: cand, SHA256: fmt.Sprintf("%x", sum)}
		}); err != nil {
			return "", err
		}
		err = m.fs.install(tmp, cand, st, time.Now())
		if errors.Is(err, errLocalChanged) {
			continue // a file appeared there meanwhile: the next name
		}
		if err != nil {
			_ = m.a.incoming.update(func(j map[string]incomingEntry) { delete(j, drop) })
			return "", err
		}
		return cand, nil
	}
	// A name tried last may be in the journal: nothing was written there.
	_ = m.a.incoming.update(func(j map[string]incomingEntry) { delete(j, drop) })
	return "", &dropRefusal{"no free name in " + IncomingFolder, fmt.Errorf("no free name for %s in %s", path.Base(rel), IncomingFolder)}
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
