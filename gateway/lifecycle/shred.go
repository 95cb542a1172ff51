package lifecycle

// Closing a matter with --shred: its records go at once (ShredMatter), its
// objects with the next run (every object under its prefix, whatever its
// age), and once none is left a destruction record signed with the
// gateway's audit key says who, when, why and how much.

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// ShredStore keeps shredded matters and their destruction records.
type ShredStore interface {
	ShredMatter(ctx context.Context, matter, by, reason string, now time.Time, rec *audit.Record) (store.Shred, error)
	ShredState(ctx context.Context, matter string) (store.ShredState, error)
	AddDestruction(ctx context.Context, d store.Destruction, rec *audit.Record) (added bool, err error)
	Destruction(ctx context.Context, matter string) (store.Destruction, error)
}

// DestructionRecord is what a destruction record says, as signed.
type DestructionRecord struct {
	Version     int       `json:"version"` // 1
	Matter      string    `json:"matter"`
	ShreddedAt  time.Time `json:"shredded_at"`
	ShreddedBy  string    `json:"shredded_by"`
	Reason      string    `json:"reason"`
	Objects     int64     `json:"objects_destroyed"`
	Bytes       int64     `json:"bytes_destroyed"`
	CompletedAt time.Time `json:"completed_at"`
	Gateway     string    `json:"gateway"`
}

// destructionContext starts every signed destruction record.
const destructionContext = "mattersync destruction record v1\n"

// SignDestruction signs a destruction record's JSON with key.
func SignDestruction(key ed25519.PrivateKey, record []byte) []byte {
	return ed25519.Sign(key, append([]byte(destructionContext), record...))
}

// VerifyDestruction checks a destruction record's signature with pub
// and returns what it says.
func VerifyDestruction(pub ed25519.PublicKey, record, sig []byte) (DestructionRecord, error) {
	var d DestructionRecord
	if !ed25519.Verify(pub, append([]byte(destructionContext), record...), sig) {
		return d, errors.New("lifecycle: the destruction record's signature does not verify with this key")
	}
	if err := json.Unmarshal(record, &d); err != nil {
		return d, fmt.Errorf("lifecycle: destruction record: %w", err)
	}
	return d, nil
}

// Shred removes every record of matter's storage and asks for a run of
// that matter, which deletes its objects; a matter on hold is refused
// (store.ErrLegalHold). rec is the request's audit record.
func (r *Runner) Shred(ctx context.Context, matter, by, reason string, rec *audit.Record) (store.Shred, int64, error) {
	sh, err := r.st.Shred.ShredMatter(ctx, matter, by, reason, r.now(), rec)
	if err != nil {
		return store.Shred{}, 0, err
	}
	// Its own audit record: the run is the system's, asked for by the shred.
	run, err := r.st.Runs.AddRun(ctx, store.LifecycleRun{Matter: matter, RequestedBy: by, State: store.RunRequested, Requested: r.now()},
		r.rec("lifecycle.shred", matter, 0))
	return sh, run, err
}

// destroyed writes the destruction record of each shredded matter among
// matters whose objects are all gone, if it has none yet.
func (r *Runner) destroyed(ctx context.Context, matters []store.MatterState, run int64) error {
	for _, m := range matters {
		if m.Shredded.IsZero() {
			continue
		}
		if _, err := r.st.Shred.Destruction(ctx, m.Matter); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		n, _, _, err := r.st.Queue.DoomedCount(ctx, m.Matter)
		if err != nil || n > 0 {
			return err
		}
		prefix, err := blob.MatterPrefix(m.Matter)
		if err != nil {
			return err
		}
		left := errors.New("left")
		if err := r.blobs.Versions(ctx, prefix, "", func(blob.ObjectVersion) error { return left }); errors.Is(err, left) {
			continue // the next run deletes them
		} else if err != nil {
			return err
		}
		if r.sign == nil {
			r.log.Warn("lifecycle: no signing key: destruction record not written", "matter", m.Matter)
			continue
		}
		st, err := r.st.Shred.ShredState(ctx, m.Matter)
		if err != nil {
			return err
		}
		rec := DestructionRecord{Version: 1, Matter: m.Matter, ShreddedAt: st.Time, ShreddedBy: st.By, Reason: st.Reason,
			Objects: st.Objects, Bytes: st.Bytes, CompletedAt: r.now().UTC().Truncate(time.Microsecond), Gateway: r.replica}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		sig, keyID := r.sign(b)
		ar := r.rec("lifecycle.shred.done", m.Matter, run)
		ar.Object = fmt.Sprintf("matter=%s objects_destroyed=%d bytes_destroyed=%d key=%s", m.Matter, st.Objects, st.Bytes, keyID)
		ar.Bytes = st.Bytes
		if _, err := r.st.Shred.AddDestruction(ctx, store.Destruction{Matter: m.Matter, Record: b, KeyID: keyID, Signature: sig, Time: r.now()}, ar); err != nil {
			return err
		}
		r.log.Info("lifecycle: matter's storage destroyed", "matter", m.Matter, "objects", st.Objects, "bytes", st.Bytes)
	}
	return nil
}
