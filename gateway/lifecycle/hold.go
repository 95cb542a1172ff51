package lifecycle

// Legal holds the storage enforces: a matter's hold sets the S3 Object
// Lock legal hold on every one of its objects (and lifting it clears
// them), in a pass that resumes where it stopped. Objects written while
// the hold lasts carry it from the start (the gateway's writes check the
// hold, gateway/storage.go).

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// WormStore keeps how far each matter's objects carry its hold.
type WormStore interface {
	Worm(ctx context.Context, matter string) (store.Worm, error)
	WormPending(ctx context.Context) ([]store.Worm, error)
	WormProgress(ctx context.Context, w store.Worm, rec *audit.Record) (ok bool, err error)
}

// LegalHolds is the bucket's S3 Object Lock legal holds (blob.Store,
// memblob).
type LegalHolds interface {
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
	ObjectLockEnabled(ctx context.Context) (bool, error)
}

// holdLease is the store lease of the passes that carry holds to the
// storage: not the runs' one, so a long run never delays a hold.
const holdLease = "lifecycle-holds"

// holdBatch is how many objects a pass does between two progress records.
const holdBatch = 500

// retryFailed is how long a failed pass waits before it is tried again.
const retryFailed = time.Minute

// holdsLoop carries holds to the storage until ctx ends.
func (r *Runner) holdsLoop(ctx context.Context) {
	lh, ok := r.blobs.(LegalHolds)
	if !ok {
		r.log.Warn("lifecycle: the blob store has no legal holds: holds are not carried to the storage")
		return
	}
	poll := time.NewTicker(r.cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if err := r.carryHolds(ctx, lh); err != nil && ctx.Err() == nil {
			r.log.Warn("lifecycle: carrying holds to the storage", "err", err)
		}
	}
}

// carryHolds runs the pending passes, under the holds' lease.
func (r *Runner) carryHolds(ctx context.Context, lh LegalHolds) error {
	pending, err := r.st.Worm.WormPending(ctx)
	if err != nil {
		return err
	}
	due := pending[:0]
	for _, w := range pending {
		if w.State != store.WormFailed || r.now().Sub(w.Time) >= retryFailed {
			due = append(due, w)
		}
	}
	if len(due) == 0 {
		return nil
	}
	return r.leasedAs(ctx, holdLease, func(ctx context.Context) error {
		for _, w := range due {
			if err := r.HoldPass(ctx, lh, w.Matter, nil); err != nil {
				if ctx.Err() != nil {
					return err
				}
				r.log.Error("lifecycle: hold not carried to the storage", "matter", w.Matter, "err", err)
			}
		}
		return nil
	})
}

// HoldPass sets (hold on) or clears (hold off) the legal hold of every
// object version of matter, from where the last pass stopped, recording
// progress every few hundred objects and reporting it to progress (if
// set). It stops, without error, when the hold changes meanwhile (the
// next pass follows the new one). A failure is recorded with the pass
// (state failed), which is tried again later, and returned.
func (r *Runner) HoldPass(ctx context.Context, lh LegalHolds, matter string, progress func(store.Worm)) error {
	w, err := r.st.Worm.Worm(ctx, matter)
	if err != nil {
		return err
	}
	switch {
	case w.State == store.WormApplied && w.On, w.State == store.WormNone:
		return nil
	case w.On:
		w.State = store.WormApplying
	default:
		w.State = store.WormClearing
	}
	fail := func(err error) error {
		w.State, w.Error, w.Time = store.WormFailed, err.Error(), r.now()
		if _, perr := r.st.Worm.WormProgress(context.WithoutCancel(ctx), w, nil); perr != nil {
			r.log.Error("lifecycle: hold pass state", "matter", matter, "err", perr)
		}
		return err
	}
	if ok, err := lh.ObjectLockEnabled(ctx); err != nil {
		return fail(err)
	} else if !ok {
		return fail(fmt.Errorf("%w: create the bucket with Object Lock (docs/LIFECYCLE.md, \"The bucket\")", blob.ErrNoObjectLock))
	}
	prefix, err := blob.MatterPrefix(matter)
	if err != nil {
		return err
	}
	w.Error = ""
	var batch []blob.ObjectVersion
	stopped := errors.New("hold changed")
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		var done atomic.Int64
		for _, v := range batch {
			g.Go(func() error {
				err := lh.SetLegalHold(gctx, v.Key, v.VersionID, w.On)
				if errors.Is(err, blob.ErrNotFound) {
					return nil // deleted meanwhile (before the hold)
				}
				if err == nil {
					done.Add(1)
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		w.Objects += done.Load()
		w.Cursor, w.Time = batch[len(batch)-1].Key, r.now()
		batch = batch[:0]
		ok, err := r.st.Worm.WormProgress(ctx, w, nil)
		if err != nil {
			return err
		}
		if !ok {
			return stopped
		}
		if progress != nil {
			progress(w)
		}
		return nil
	}
	err = r.blobs.Versions(ctx, prefix, w.Cursor, func(v blob.ObjectVersion) error {
		// A batch ends with a key's last version: the cursor is a key
		// whose versions are all done.
		if len(batch) >= holdBatch && batch[len(batch)-1].Key != v.Key {
			if err := flush(); err != nil {
				return err
			}
		}
		if !v.DeleteMarker { // a delete marker carries no hold
			batch = append(batch, v)
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	switch {
	case errors.Is(err, stopped):
		return nil
	case err != nil:
		return fail(err)
	}
	action, state := "lifecycle.hold.clear", store.WormNone
	if w.On {
		action, state = "lifecycle.hold.apply", store.WormApplied
	}
	rec := r.rec(action, matter, 0)
	rec.Object = fmt.Sprintf("matter=%s objects=%d (S3 Object Lock legal hold %s)", matter, w.Objects, map[bool]string{true: "set", false: "cleared"}[w.On])
	w.State, w.Cursor, w.Time = state, "", r.now()
	ok, err := r.st.Worm.WormProgress(ctx, w, rec)
	if err != nil || !ok {
		return err
	}
	if progress != nil {
		progress(w)
	}
	r.log.Info("lifecycle: hold carried to the storage", "matter", matter, "on", w.On, "objects", w.Objects)
	return nil
}
