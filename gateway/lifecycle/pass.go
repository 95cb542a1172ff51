package lifecycle

// One run: purge, collect, sweep orphans, delete the queued objects.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// PassOptions say what one run does.
type PassOptions struct {
	// Matter limits the run to one matter ("" for every matter).
	Matter string
	// DryRun counts what would be removed and changes nothing.
	DryRun bool
	// Run is the run's ID, in its audit records (0: none recorded).
	Run int64
	// Now is the run's clock for retention and grace (zero: the runner's
	// clock): tests and benchmarks age the store without waiting.
	Now time.Time
	// Progress, if set, receives a line now and then.
	Progress func(string)
}

// Summary is what a run did (or, dry, would do).
type Summary = api.RunSummary

// execute runs run and records its progress and result.
func (r *Runner) execute(ctx context.Context, run store.LifecycleRun) {
	var mu sync.Mutex
	last := time.Time{}
	progress := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if r.now().Sub(last) < time.Second {
			return
		}
		last = r.now()
		run.Progress, run.Updated = line, r.now()
		if err := r.st.Runs.UpdateRun(ctx, run); err != nil {
			r.log.Warn("lifecycle run progress", "run", run.ID, "err", err)
		}
	}
	r.log.Info("lifecycle run started", "run", run.ID, "matter", run.Matter, "dry_run", run.DryRun, "requested_by", run.RequestedBy)
	sum, err := r.Pass(ctx, PassOptions{Matter: run.Matter, DryRun: run.DryRun, Run: run.ID, Progress: progress})
	b, _ := json.Marshal(sum)
	mu.Lock()
	defer mu.Unlock()
	run.Summary, run.State, run.Updated, run.Progress = string(b), store.RunDone, r.now(), "done"
	result := "ok"
	if err != nil {
		run.State, run.Error, run.Progress, result = store.RunFailed, err.Error(), "failed", "error"
		r.log.Error("lifecycle run failed", "run", run.ID, "err", err)
	} else {
		r.log.Info("lifecycle run done", "run", run.ID, "purged_versions", sum.PurgedVersions, "collected_chunks", sum.CollectedChunks,
			"orphans", sum.Orphans, "deleted", sum.Deleted, "deleted_bytes", sum.DeletedBytes, "queued", sum.Queued, "held", len(sum.Held))
	}
	r.metrics.runs.WithLabelValues(result).Inc()
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.st.Runs.UpdateRun(uctx, run); err != nil {
		r.log.Error("lifecycle run result not recorded", "run", run.ID, "err", err)
	}
}

// Pass runs purge, garbage collection, the orphan sweep and the deletion
// of queued objects, over every matter or one. A matter on legal hold is
// skipped (Summary.Held). It goes on past one matter's failure (named in
// Summary.Errors) and fails only when it cannot go on at all.
func (r *Runner) Pass(ctx context.Context, o PassOptions) (Summary, error) {
	start := r.now()
	now := o.Now
	if now.IsZero() {
		now = start
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	var sum Summary
	matters, err := r.st.Collector.LifecycleMatters(ctx)
	if err != nil {
		return sum, err
	}
	if o.Matter != "" {
		matters = slices.DeleteFunc(matters, func(m store.MatterState) bool { return m.Matter != o.Matter })
		if len(matters) == 0 {
			matters = []store.MatterState{{Matter: o.Matter}}
		}
	}
	held, shredded := map[string]bool{}, map[string]bool{}
	for _, m := range matters {
		if m.Hold {
			held[m.Matter] = true
			sum.Held = append(sum.Held, m.Matter)
		}
		if !m.Shredded.IsZero() {
			shredded[m.Matter] = true
		}
	}
	sum.Matters = len(matters)
	for i, m := range matters {
		if held[m.Matter] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		policy := r.cfg.Retention
		if m.Retention != nil {
			policy = m.Retention.Retention
		}
		where := fmt.Sprintf("matter %s (%d of %d)", m.Matter, i+1, len(matters))
		gone, err := r.purge(ctx, m.Matter, policy, now, o, &sum, func(s string) { progress(where + ": " + s) })
		if err == nil && o.DryRun {
			// The dry purge changed nothing, so the dry collection
			// cannot see what it would free: counted here.
			var freed store.CollectResult
			if freed, err = r.st.Collector.FreedBy(ctx, m.Matter, now.Add(-r.cfg.Grace), gone); err == nil {
				sum.CollectedChunks += freed.Chunks
				sum.CollectedObjects += freed.Objects
				sum.CollectedBytes += freed.Bytes
			}
		}
		if err != nil {
			if errors.Is(err, store.ErrLegalHold) {
				sum.Held = append(sum.Held, m.Matter)
				held[m.Matter] = true
				continue
			}
			sum.Errors = append(sum.Errors, fmt.Sprintf("matter %s: purge: %v", m.Matter, err))
			continue
		}
		if err := r.collect(ctx, m.Matter, now.Add(-r.cfg.Grace), o, &sum, func(s string) { progress(where + ": " + s) }); err != nil {
			if errors.Is(err, store.ErrLegalHold) {
				sum.Held = append(sum.Held, m.Matter)
				held[m.Matter] = true
				continue
			}
			sum.Errors = append(sum.Errors, fmt.Sprintf("matter %s: collect: %v", m.Matter, err))
		}
	}
	prefix := "m/"
	if o.Matter != "" {
		if prefix, err = blob.MatterPrefix(o.Matter); err != nil {
			return sum, err
		}
	}
	if err := r.sweep(ctx, prefix, now.Add(-r.cfg.Grace), held, shredded, o, &sum, progress); err != nil {
		if ctx.Err() != nil {
			return sum, err
		}
		sum.Errors = append(sum.Errors, fmt.Sprintf("orphan sweep: %v", err))
	}
	if !o.DryRun {
		if err := r.deleteQueued(ctx, o, &sum, progress); err != nil {
			if ctx.Err() != nil {
				return sum, err
			}
			sum.Errors = append(sum.Errors, fmt.Sprintf("deleting objects: %v", err))
		}
	}
	if !o.DryRun && len(shredded) > 0 {
		if err := r.destroyed(ctx, matters, o.Run); err != nil {
			sum.Errors = append(sum.Errors, fmt.Sprintf("destruction records: %v", err))
		}
	}
	n, bytes, _, err := r.st.Queue.DoomedCount(ctx, o.Matter)
	if err == nil {
		sum.Queued, sum.QueuedBytes = n, bytes
	}
	slices.Sort(sum.Held)
	sum.Held = slices.Compact(sum.Held)
	sum.Seconds = r.now().Sub(start).Seconds()
	if !o.DryRun && o.Matter == "" {
		r.observe(ctx, matters)
	}
	return sum, nil
}

// purge purges matter batch by batch; a dry run returns the versions it
// would purge.
func (r *Runner) purge(ctx context.Context, matter string, policy store.Retention, now time.Time, o PassOptions, sum *Summary, progress func(string)) ([]store.VersionRef, error) {
	var after format.ID
	var gone []store.VersionRef
	for {
		b, err := r.st.Collector.PurgeBatch(ctx, store.Purge{Matter: matter, Policy: policy, Now: now, After: after, DryRun: o.DryRun},
			r.rec("lifecycle.purge", matter, o.Run))
		if err != nil {
			return nil, err
		}
		gone = append(gone, b.Gone...)
		sum.PurgedVersions += b.Versions
		sum.PurgedTombstones += b.Tombstones
		sum.PurgedFiles += b.Files
		sum.PurgedBytes += b.Bytes
		progress(fmt.Sprintf("purge: %d versions, %d deleted files so far", sum.PurgedVersions, sum.PurgedFiles))
		if b.Done {
			return gone, nil
		}
		after = b.Next
	}
}

// collect collects matter's garbage batch by batch.
func (r *Runner) collect(ctx context.Context, matter string, before time.Time, o PassOptions, sum *Summary, progress func(string)) error {
	var after format.ID
	for {
		b, err := r.st.Collector.CollectBatch(ctx, store.Collect{Matter: matter, Before: before, After: after, DryRun: o.DryRun},
			r.rec("lifecycle.gc", matter, o.Run))
		if err != nil {
			return err
		}
		sum.CollectedChunks += b.Chunks
		sum.CollectedObjects += b.Objects
		sum.CollectedBytes += b.Bytes
		progress(fmt.Sprintf("garbage: %d chunks (%d bytes) so far", sum.CollectedChunks, sum.CollectedBytes))
		if b.Done {
			return nil
		}
		after = b.Next
	}
}

// sweep lists the bucket under prefix and queues the objects no record
// names, stored before before (any, of a shredded matter), of matters not
// on hold. A key's versions are listed together; the newest decides its
// age.
func (r *Runner) sweep(ctx context.Context, prefix string, before time.Time, held, shredded map[string]bool, o PassOptions, sum *Summary, progress func(string)) error {
	var batch []store.ObjectKey
	matter := ""
	var listed int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		if o.DryRun {
			// Counted, not queued: a dry run writes nothing.
			objs, err := r.st.Collector.Unreferenced(ctx, matter, before, batch)
			if err != nil {
				return err
			}
			for _, ob := range objs {
				sum.Orphans++
				sum.OrphanBytes += ob.Size
			}
			return nil
		}
		why, action := store.DoomOrphan, "lifecycle.orphans"
		if shredded[matter] {
			why, action = store.DoomShred, "lifecycle.shred"
		}
		n, bytes, err := r.st.Collector.DoomOrphans(ctx, matter, why, before, batch, r.rec(action, matter, o.Run))
		if errors.Is(err, store.ErrLegalHold) {
			held[matter] = true
			return nil
		}
		sum.Orphans += n
		sum.OrphanBytes += bytes
		return err
	}
	var key blob.ObjectVersion // the newest version of the key being read
	end := func() error {
		if key.Key == "" {
			return nil
		}
		k := blob.ParseKey(key.Key)
		if k.Kind == blob.KeyOther || held[k.Matter] || !key.Modified.Before(before) && !shredded[k.Matter] {
			return nil
		}
		if k.Matter != matter {
			if err := flush(); err != nil {
				return err
			}
			matter = k.Matter
		}
		batch = append(batch, store.ObjectKey{Key: key.Key, Matter: k.Matter, Kind: store.KeyKind(k.Kind), ID: k.ID, Version: k.Version,
			Plain: k.Attempt == "", Size: key.Size, Time: key.Modified})
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	}
	err := r.blobs.Versions(ctx, prefix, "", func(v blob.ObjectVersion) error {
		listed++
		if listed%10000 == 0 {
			progress(fmt.Sprintf("orphan sweep: %d object versions listed", listed))
		}
		if v.Key != key.Key {
			if err := end(); err != nil {
				return err
			}
			key = v
		} else if key.DeleteMarker && !v.DeleteMarker && key.Size == 0 {
			key.Size = v.Size // the data under a delete marker
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := end(); err != nil {
		return err
	}
	return flush()
}
