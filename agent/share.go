package agent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/mail"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// Sharing a file with someone outside the firm (docs/SHARING.md): the
// agent seals the committed version's plaintext once more under a fresh
// random share key (format.SealShare, the name inside the encrypted
// metadata) and uploads it with the share's record; the key goes only into
// the link's fragment, which browsers never send. The gateway learns the
// file ID and version shared, the recipient and the bounds, never the key
// or the name. Neither is logged at INFO.

// Bounds of a share, checked here so the command names the problem before
// anything is read or sent. The gateway has its own, from its sharing:
// config (by default at most 30 days and 20 downloads), and refuses beyond
// them; these are the outer limits whatever it allows.
const (
	MaxShareExpiry    = 90 * 24 * time.Hour
	MinShareExpiry    = 10 * time.Minute // a code must be able to arrive and be typed
	MaxShareDownloads = 100
)

// ShareOptions are a share's recipient and bounds.
type ShareOptions struct {
	To string `json:"to"` // a bare e-mail address
	// Expires is how long the link works, MaxDownloads how many times it
	// can be downloaded; 0: the gateway's defaults (7 days and 3 unless
	// IT set others).
	Expires      time.Duration `json:"expires,omitempty"`
	MaxDownloads int           `json:"max_downloads,omitempty"`
}

// Validate names what is wrong with o.
func (o ShareOptions) Validate() error {
	a, err := mail.ParseAddress(o.To)
	switch {
	case o.To == "":
		return errors.New("give the recipient's e-mail address with --to")
	case err != nil || a.Address != o.To || a.Name != "" || strings.ContainsAny(o.To, " \t\r\n<>\"") || !strings.Contains(o.To[strings.LastIndexByte(o.To, '@')+1:], "."):
		return fmt.Errorf("--to %q is not an e-mail address (want a bare address, e.g. client@example.com)", o.To)
	case o.Expires != 0 && o.Expires < MinShareExpiry:
		return fmt.Errorf("--expires %s is too short: a link must live at least %s", o.Expires, MinShareExpiry)
	case o.Expires > MaxShareExpiry:
		return fmt.Errorf("--expires %s is too long: a link lives at most %d days", o.Expires, MaxShareExpiry/(24*time.Hour))
	case o.MaxDownloads < 0:
		return fmt.Errorf("--max-downloads %d: a link must allow at least one download", o.MaxDownloads)
	case o.MaxDownloads > MaxShareDownloads:
		return fmt.Errorf("--max-downloads %d is too many: at most %d", o.MaxDownloads, MaxShareDownloads)
	}
	return nil
}

// ParseShareExpiry reads a share's lifetime: Go durations ("36h", "90m")
// and days ("7d").
func ParseShareExpiry(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days < 1 {
			return 0, fmt.Errorf("--expires %q is not a duration (want e.g. 7d, 36h or 90m)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--expires %q is not a duration (want e.g. 7d, 36h or 90m)", s)
	}
	return d, nil
}

// ShareLink is a share made: the link to send, and what the gateway
// recorded.
type ShareLink struct {
	// Link is <gateway public URL>/s/<id>#<key>: the key is only in the
	// fragment. Send it to the recipient only.
	Link         string    `json:"link"`
	ID           string    `json:"id"`
	Recipient    string    `json:"recipient"`
	Expires      time.Time `json:"expires"`
	MaxDownloads int       `json:"max_downloads"`
	Version      int64     `json:"version"` // the file version shared
	Size         int64     `json:"size"`    // its plaintext bytes
}

// shareRemote creates shares: gateway/client implements it.
type shareRemote interface {
	CreateShare(ctx context.Context, matter string, req api.ShareRequest, body io.Reader, size int64) (api.Share, error)
}

// ErrNotCommitted: the file's bytes here are not a committed version (not
// synced yet, or changed since): nothing is shared.
var ErrNotCommitted = errors.New("not a committed version")

// Share shares the committed version of the file at path with o.To: only
// when the bytes here are exactly that version (a file not yet synced, or
// changed since, is refused: wait for sync), so the recipient gets what the
// matter's record holds.
func (a *Agent) Share(ctx context.Context, path string, o ShareOptions) (ShareLink, error) {
	if err := o.Validate(); err != nil {
		return ShareLink{}, err
	}
	if a.shares == nil {
		return ShareLink{}, errors.New("this gateway does not offer sharing")
	}
	m, rel, err := a.matterOf(ctx, path)
	if err != nil {
		return ShareLink{}, err
	}
	return a.shareIn(ctx, m, rel, o)
}

// ShareFile is Share for a file named by matter and matter-relative path,
// as the status page names it: the same checks and the same work.
func (a *Agent) ShareFile(ctx context.Context, matter, rel string, o ShareOptions) (ShareLink, error) {
	if err := o.Validate(); err != nil {
		return ShareLink{}, err
	}
	if a.shares == nil {
		return ShareLink{}, errors.New("this gateway does not offer sharing")
	}
	m, err := a.matterByID(ctx, matter)
	if err != nil {
		return ShareLink{}, err
	}
	clean, err := cleanRel(rel)
	if err != nil {
		return ShareLink{}, fmt.Errorf("%q does not name a file: %w", SafeText(rel), err)
	}
	if clean == "" {
		return ShareLink{}, errors.New("choose a file to share, not the matter folder")
	}
	return a.shareIn(ctx, m, rel, o)
}

// shareIn shares the committed version of rel in m (see Share); o is
// valid.
func (a *Agent) shareIn(ctx context.Context, m *matterSync, rel string, o ShareOptions) (ShareLink, error) {
	l, err := openLocal(m.dir)
	if err != nil {
		return ShareLink{}, fmt.Errorf("matter folder: %w", err)
	}
	defer l.Close()
	l.fold = a.foldCase
	changed := fmt.Errorf("%s has changes not synced yet: %w; wait until `mattersync status` shows it synced, then share again", SafeText(rel), ErrNotCommitted)
	before, err := l.lstat(rel)
	if err != nil {
		return ShareLink{}, err
	}
	if !before.exists {
		return ShareLink{}, fmt.Errorf("%s: no such file", SafeText(rel))
	}
	if !before.mode.IsRegular() {
		return ShareLink{}, fmt.Errorf("%s is not a file", SafeText(rel))
	}
	row, err := a.idx.File(ctx, m.id, rel)
	if errors.Is(err, index.ErrNotFound) || (err == nil && row.Version == 0) {
		return ShareLink{}, fmt.Errorf("%s is not synced yet: %w; wait until `mattersync status` shows it synced, then share again", SafeText(rel), ErrNotCommitted)
	}
	if err != nil {
		return ShareLink{}, err
	}
	if !before.matches(row.Size, row.MtimeNs) {
		return ShareLink{}, changed
	}
	// The version the index says these bytes are, as the gateway holds it:
	// its sealed manifest's content hash is what the bytes must equal.
	mk, err := loadMatterKeys(ctx, a.keys, m.id)
	if err != nil {
		return ShareLink{}, err
	}
	fid, err := mk.fileIDs.FileID(rel)
	if err != nil {
		return ShareLink{}, err
	}
	version := int64(row.Version)
	fv, err := a.remote.File(ctx, m.id, fid.String(), version)
	if err != nil {
		return ShareLink{}, fmt.Errorf("version %d of %s: %w", version, SafeText(rel), err)
	}
	man, _, err := mk.openVersion(ctx, fv, fid, uint64(version))
	if err != nil {
		return ShareLink{}, fmt.Errorf("version %d of %s: %w", version, SafeText(rel), err)
	}
	if man.Deleted || man.Size != uint64(row.Size) || man.ContentHash != [32]byte(row.Hash) {
		return ShareLink{}, changed
	}

	key := format.NewShareKey()
	defer clear(key[:])
	obj, size, sum, err := a.sealShare(l, rel, key, man.ContentHash, row.Size)
	if err != nil {
		return ShareLink{}, err
	}
	defer func() { obj.Close(); os.Remove(obj.Name()) }()
	if after, err := l.lstat(rel); err != nil || !after.same(before) {
		return ShareLink{}, changed
	}
	rec, err := a.shares.CreateShare(ctx, m.id, api.ShareRequest{File: fid.String(), Version: version, To: o.To, Expires: o.Expires,
		MaxDownloads: int64(o.MaxDownloads), SHA256: sum}, obj, size)
	if err != nil {
		return ShareLink{}, fmt.Errorf("share %s: %w", SafeText(rel), explainShareRefusal(err, o))
	}
	a.log.Info("share created", "matter", m.id, "share", rec.ID, "file", fid.String(), "version", version, "expires", rec.Expires, "max_downloads", rec.MaxDownloads)
	a.log.Debug("share created", "share", rec.ID, "path", rel)
	return ShareLink{Link: rec.URL + "#" + base64.RawURLEncoding.EncodeToString(key[:]), ID: rec.ID, Recipient: rec.Recipient,
		Expires: rec.Expires, MaxDownloads: int(rec.MaxDownloads), Version: version, Size: row.Size}, nil
}

// explainShareRefusal says the gateway's refusal of a share's bounds in the
// command's terms: the gateway speaks of query parameters in seconds, and
// its maxima are IT's settings, which the command cannot know before.
func explainShareRefusal(err error, o ShareOptions) error {
	var ce codeError
	if !errors.As(err, &ce) || ce.APIError().Code != api.CodeInvalidRequest {
		return err
	}
	msg := ce.APIError().Message
	var lo, hi int64
	if _, e := fmt.Sscanf(msg, "expires must be an integer from %d to %d", &lo, &hi); e == nil {
		return fmt.Errorf("--expires %s is longer than this gateway allows (at most %s): %w", days(o.Expires), days(time.Duration(hi)*time.Second), err)
	}
	if _, e := fmt.Sscanf(msg, "max_downloads must be an integer from %d to %d", &lo, &hi); e == nil {
		return fmt.Errorf("--max-downloads %d is more than this gateway allows (at most %d): %w", o.MaxDownloads, hi, err)
	}
	return err
}

// days renders a duration in days when it is whole days.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := d / (24 * time.Hour)
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}

// sealShare seals the file at rel under key into a temporary file of the
// data dir, rewound, and returns it with its size and SHA-256 (the
// gateway checks the upload against it). The bytes read must
// hash to want: a file changed while it was read is refused (nothing has
// been sent). Only ciphertext under a key held in memory touches the disk.
func (a *Agent) sealShare(l *localFS, rel string, key [format.ShareKeySize]byte, want [32]byte, size int64) (*os.File, int64, [32]byte, error) {
	var sum [32]byte
	f, err := l.open(rel)
	if err != nil {
		return nil, 0, sum, err
	}
	defer f.Close()
	removeStaleShareTemps(a.cfg.DataDir)
	tmp, err := os.CreateTemp(a.cfg.DataDir, "share-*.tmp")
	if err != nil {
		return nil, 0, sum, err
	}
	fail := func(err error) (*os.File, int64, [32]byte, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, sum, err
	}
	objHash := sha256.New()
	h := &countingHash{Hash: sha256.New()}
	meta := format.ShareMeta{Name: path.Base(rel), Size: size}
	err = format.SealShare(io.MultiWriter(tmp, objHash), key, meta, io.TeeReader(f, h))
	// Fewer or more bytes than the size: the file changed under the read.
	grew := h.n > size
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !grew {
		return fail(fmt.Errorf("seal %s: %w", SafeText(rel), localErr(err)))
	}
	if err != nil || [32]byte(h.Sum(nil)) != want {
		return fail(fmt.Errorf("%s changed while it was read: %w; wait until it is synced, then share again", SafeText(rel), ErrNotCommitted))
	}
	n, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	copy(sum[:], objHash.Sum(nil))
	return tmp, n, sum, nil
}

// removeStaleShareTemps removes share objects a share that stopped half
// way (a crash, a kill) left in the data dir: ciphertext under a key that
// is gone, only taking space. A day old: no share takes that long, and one
// running beside (the agent's and a command's) is never touched.
func removeStaleShareTemps(dataDir string) {
	names, _ := filepath.Glob(filepath.Join(dataDir, "share-*.tmp"))
	for _, n := range names {
		if fi, err := os.Lstat(n); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(n)
		}
	}
}

// countingHash counts what it hashes.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}
