package lifecycle

// Deleting the queued objects from the bucket.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// deleteBatch is how many queued objects one claim takes.
const deleteBatch = 1000

// deleteQueued deletes the queued objects of matters not on hold, batch
// by batch: claim (the store marks them deleting), find their versions,
// look at the holds once more, delete, and finish (the store forgets the
// deleted and puts back what the storage refused). A deletion whose
// outcome is unknown (the bucket did not answer) stays claimed; the next
// run takes it again once the claim is stale.
func (r *Runner) deleteQueued(ctx context.Context, o PassOptions, sum *Summary, progress func(string)) error {
	claim := fmt.Sprintf("%s/run-%d", r.replica, o.Run)
	start := r.now()
	for {
		now := r.now()
		// What this run could not delete waits for the next run.
		objs, err := r.st.Queue.ClaimDoomed(ctx, claim, o.Matter, now, start, now.Add(-2*r.cfg.Lease), deleteBatch)
		if err != nil || len(objs) == 0 {
			return err
		}
		failed, unknown, err := r.deleteObjects(ctx, objs, sum)
		if err != nil {
			return err
		}
		var deleted []string
		var bytes int64
		for _, ob := range objs {
			if _, ok := failed[ob.Key]; !ok && !unknown[ob.Key] {
				deleted = append(deleted, ob.Key)
				bytes += ob.Size
			}
		}
		rec := r.rec("lifecycle.delete", matterOf(objs), o.Run)
		if err := r.st.Queue.FinishDoomed(ctx, claim, r.now(), deleted, failed, rec); err != nil {
			return err
		}
		sum.Deleted += int64(len(deleted))
		sum.DeletedBytes += bytes
		r.metrics.reclaimed.Add(float64(bytes))
		progress(fmt.Sprintf("deleting: %d objects (%d bytes) deleted so far", sum.Deleted, sum.DeletedBytes))
		if len(objs) < deleteBatch {
			return nil
		}
	}
}

// errRangeDone stops a range listing.
var errRangeDone = errors.New("range listed")

// findVersions returns the versions of each of objs (sorted by key, as
// claimed), and the errors of those it could not list. One listing of
// the key range they span finds them all when they lie close together (a
// collection's garbage): a request per thousand keys instead of one per
// key. Listing is given up for the keys left when the range holds many
// more keys than objs (live objects between them), and each of those is
// listed alone.
func (r *Runner) findVersions(ctx context.Context, objs []store.DoomedObject) ([][]blob.ObjectVersion, map[int]error) {
	versions := make([][]blob.ObjectVersion, len(objs))
	lost := map[int]error{}
	if len(objs) == 0 {
		return versions, lost
	}
	at := make(map[string]int, len(objs))
	for i, ob := range objs {
		at[ob.Key] = i
	}
	first, last := objs[0].Key, objs[len(objs)-1].Key
	prefix := first[:commonPrefix(first, last)]
	budget := 4*len(objs) + 1000
	// Every version of the keys below upTo has been seen (all of them
	// if all).
	listed, upTo, all := 0, "", false
	err := r.blobs.Versions(ctx, prefix, first[:len(first)-1], func(v blob.ObjectVersion) error {
		if v.Key > last {
			all = true
			return errRangeDone
		}
		if listed++; listed > budget {
			return errRangeDone
		}
		if i, ok := at[v.Key]; ok {
			versions[i] = append(versions[i], v)
		}
		upTo = v.Key
		return nil
	})
	if err == nil {
		all = true
	} else if !errors.Is(err, errRangeDone) {
		upTo, all = "", false
	}
	// The rest are listed one by one.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var mu sync.Mutex
	for i, ob := range objs {
		if all || ob.Key < upTo {
			continue
		}
		g.Go(func() error {
			vs, err := r.blobs.KeyVersions(gctx, ob.Key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lost[i] = err
				versions[i] = nil
				return nil
			}
			versions[i] = vs
			return nil
		})
	}
	g.Wait()
	return versions, lost
}

// commonPrefix is the length of a's and b's common prefix.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// matterOf is the matter of objs if they share one, else "".
func matterOf(objs []store.DoomedObject) string {
	m := ""
	for i, ob := range objs {
		if i > 0 && ob.Matter != m {
			return ""
		}
		m = ob.Matter
	}
	return m
}

// deleteObjects deletes every version of each of objs. failed maps the
// keys the storage kept for certain (legal hold, a matter held meanwhile)
// to why; unknown holds those whose outcome is not known.
func (r *Runner) deleteObjects(ctx context.Context, objs []store.DoomedObject, sum *Summary) (failed map[string]string, unknown map[string]bool, err error) {
	failed, unknown = map[string]string{}, map[string]bool{}
	versions, lost := r.findVersions(ctx, objs)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for i, err := range lost {
		unknown[objs[i].Key] = true
		sum.Failed++
		r.log.Warn("lifecycle: object not deleted", "key", objs[i].Key, "err", err)
	}
	// A hold set since the claim wins: its matter's objects are kept.
	heldNow := map[string]bool{}
	for _, ob := range objs {
		if _, ok := heldNow[ob.Matter]; ok {
			continue
		}
		h, err := r.st.Holds.Hold(ctx, ob.Matter)
		if err != nil {
			return nil, nil, err
		}
		heldNow[ob.Matter] = h.On
	}
	var vs []blob.ObjectVersion
	var owner []string
	for i, ob := range objs {
		if heldNow[ob.Matter] {
			failed[ob.Key] = "matter on legal hold"
			sum.Refused++
			continue
		}
		for _, v := range versions[i] {
			vs = append(vs, v)
			owner = append(owner, ob.Key)
		}
	}
	for i, err := range r.blobs.Delete(ctx, vs) {
		k := owner[i]
		switch {
		case err == nil:
		case errors.Is(err, blob.ErrHeld):
			if _, ok := failed[k]; !ok && !unknown[k] {
				sum.Refused++
			}
			failed[k] = "kept by the storage: legal hold (S3 Object Lock)"
		default:
			if !unknown[k] {
				sum.Failed++
				r.log.Warn("lifecycle: object not deleted", "key", k, "err", err)
			}
			unknown[k] = true
		}
	}
	for k := range unknown {
		delete(failed, k) // unknown wins: nothing is put back that may be gone
	}
	return failed, unknown, nil
}
