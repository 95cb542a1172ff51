// Package lifecycle is what the gateway does to a matter's storage over
// time: retention (purge of superseded versions and deleted files past
// their matter's policy), garbage collection (chunks no kept version
// references, objects no record names), and the deletion of their objects
// from the bucket (docs/LIFECYCLE.md).
//
// The Runner does it, on a schedule and when an administrator asks, one
// replica at a time (a lease in the store). Everything it removes goes in
// two steps: the records and a queue entry per object in one transaction
// (with its audit record, as a system action), then the objects, when the
// bucket answers. A matter on legal hold is skipped at every step, and its
// objects are refused deletion by the storage itself (S3 Object Lock).
package lifecycle

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// RetentionStore keeps each matter's own retention policy.
type RetentionStore interface {
	// MatterRetention returns matter's own policy; ok false: the firm's.
	MatterRetention(ctx context.Context, matter string) (r store.MatterRetention, ok bool, err error)
	// SetRetention gives matter its own policy (refused if it makes no
	// sense), with the change's audit record.
	SetRetention(ctx context.Context, r store.MatterRetention, rec *audit.Record) error
	// ClearRetention returns matter to the firm's policy; removed is
	// false (nothing written) if it had none of its own.
	ClearRetention(ctx context.Context, matter string, rec *audit.Record) (removed bool, err error)
}

// Collector removes what a matter no longer keeps from the records,
// queueing its objects for deletion (sqlcore documents each).
type Collector interface {
	LifecycleMatters(ctx context.Context) ([]store.MatterState, error)
	PurgeBatch(ctx context.Context, p store.Purge, rec *audit.Record) (store.PurgeResult, error)
	CollectBatch(ctx context.Context, c store.Collect, rec *audit.Record) (store.CollectResult, error)
	FreedBy(ctx context.Context, matter string, before time.Time, gone []store.VersionRef) (store.CollectResult, error)
	// Unreferenced and DoomOrphans take the grace's cut: a share object
	// is named by its share until the share ended before it.
	Unreferenced(ctx context.Context, matter string, before time.Time, objs []store.ObjectKey) ([]store.ObjectKey, error)
	DoomOrphans(ctx context.Context, matter, why string, before time.Time, objs []store.ObjectKey, rec *audit.Record) (n, bytes int64, err error)
	LifecycleUsage(ctx context.Context, matter string) (store.LifecycleUsage, error)
}

// Queue is the queue of objects to delete from the bucket.
type Queue interface {
	ClaimDoomed(ctx context.Context, claim, matter string, now, retryBefore, stale time.Time, limit int) ([]store.DoomedObject, error)
	FinishDoomed(ctx context.Context, claim string, now time.Time, deleted []string, failed map[string]string, rec *audit.Record) error
	DoomedCount(ctx context.Context, matter string) (n, bytes, failed int64, err error)
}

// RunStore keeps the runner's lease and its runs.
type RunStore interface {
	TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	AddRun(ctx context.Context, r store.LifecycleRun, rec *audit.Record) (int64, error)
	StartRun(ctx context.Context, replica string, now time.Time) (store.LifecycleRun, bool, error)
	UpdateRun(ctx context.Context, r store.LifecycleRun) error
	LifecycleRun(ctx context.Context, id int64) (store.LifecycleRun, error)
	LifecycleRuns(ctx context.Context, limit int) ([]store.LifecycleRun, error)
}

// HoldReader reads a matter's legal hold (gateway.HoldStore has it).
type HoldReader interface {
	Hold(ctx context.Context, matter string) (store.Hold, error)
}

// Stores is the store by the roles the lifecycle needs; one engine
// (sqlite.Store, postgres.Store) plays them all: StoresOf.
type Stores struct {
	Retention RetentionStore
	Collector Collector
	Queue     Queue
	Runs      RunStore
	Holds     HoldReader
	Worm      WormStore
	Shred     ShredStore
}

// StoresOf gives every role st plays to st.
func StoresOf(st any) Stores {
	var s Stores
	s.Retention, _ = st.(RetentionStore)
	s.Collector, _ = st.(Collector)
	s.Queue, _ = st.(Queue)
	s.Runs, _ = st.(RunStore)
	s.Holds, _ = st.(HoldReader)
	s.Worm, _ = st.(WormStore)
	s.Shred, _ = st.(ShredStore)
	return s
}

// Missing names the roles s lacks.
func (s Stores) Missing() []string {
	var m []string
	for _, r := range []struct {
		name string
		set  bool
	}{{"lifecycle.RetentionStore", s.Retention != nil}, {"lifecycle.Collector", s.Collector != nil},
		{"lifecycle.Queue", s.Queue != nil}, {"lifecycle.RunStore", s.Runs != nil}, {"lifecycle.HoldReader", s.Holds != nil}, {"lifecycle.WormStore", s.Worm != nil}, {"lifecycle.ShredStore", s.Shred != nil}} {
		if !r.set {
			m = append(m, r.name)
		}
	}
	return m
}

// Blobs is the bucket as the lifecycle uses it (blob.Store, memblob).
type Blobs interface {
	Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error
	KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error)
	Delete(ctx context.Context, vs []blob.ObjectVersion) []error
}

// Config is the gateway config's lifecycle section.
type Config struct {
	// Retention is the firm's default policy; a matter may have its own.
	Retention store.Retention `yaml:"retention"`
	// Interval is how often a run starts by itself (0: only on demand).
	Interval time.Duration `yaml:"interval"`
	// Grace is how long a chunk no version references, or an object no
	// record names, is kept before it is garbage: an upload whose commit
	// is still in flight is never collected.
	Grace time.Duration `yaml:"grace"`
	// Lease is how long a replica holds the runner's lease without
	// renewing it (it renews at a third of it while it works).
	Lease time.Duration `yaml:"lease"`
	// Poll is how often a replica looks for runs an administrator asked
	// for and holds to carry to the storage.
	Poll time.Duration `yaml:"poll"`
}

// DefaultConfig is the lifecycle configuration a gateway starts from.
func DefaultConfig() Config {
	return Config{
		Retention: store.Retention{VersionsDays: 90, MinVersions: 3, DeletedDays: 30},
		Interval:  6 * time.Hour,
		Grace:     24 * time.Hour,
		Lease:     2 * time.Minute,
		Poll:      2 * time.Second,
	}
}

// Validate reports every problem in c, named as in the config file.
func (c Config) Validate() error {
	var errs []error
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("lifecycle.retention: %w", err))
	}
	if c.Interval != 0 && c.Interval < time.Minute {
		errs = append(errs, errors.New("lifecycle.interval must be 0 (on demand only) or at least 1m"))
	}
	if c.Grace < time.Hour {
		errs = append(errs, errors.New("lifecycle.grace must be at least 1h: an upload whose commit is still in flight must never be collected"))
	}
	if c.Lease < 10*time.Second || c.Lease > time.Hour {
		errs = append(errs, errors.New("lifecycle.lease must be between 10s and 1h"))
	}
	if c.Poll < 100*time.Millisecond || c.Poll > time.Minute {
		errs = append(errs, errors.New("lifecycle.poll must be between 100ms and 1m"))
	}
	return errors.Join(errs...)
}

// Runner runs purge and garbage collection.
type Runner struct {
	cfg     Config
	st      Stores
	blobs   Blobs
	log     *slog.Logger
	metrics *metrics
	// replica names this process in leases, runs and audit records.
	replica string
	// now is the clock (tests move it forward).
	now func() time.Time
	// sign signs destruction records (nil: none written).
	sign func(record []byte) (sig []byte, keyID string)
}

// Options are a Runner's optional collaborators.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics not exported
	// Now replaces the clock (tests).
	Now func() time.Time
	// SigningKey signs destruction records (the gateway's audit key); nil:
	// none is written.
	SigningKey ed25519.PrivateKey
}

// New returns a Runner. st must play every role.
func New(cfg Config, st Stores, blobs Blobs, o Options) (*Runner, error) {
	if m := st.Missing(); len(m) > 0 {
		return nil, fmt.Errorf("lifecycle: the store lacks %s", strings.Join(m, ", "))
	}
	if blobs == nil {
		return nil, errors.New("lifecycle: no blob store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	r := &Runner{cfg: cfg, st: st, blobs: blobs, log: o.Logger, now: o.Now, replica: replicaName()}
	if o.SigningKey != nil {
		keyID := audit.KeyID(o.SigningKey.Public().(ed25519.PublicKey))
		r.sign = func(b []byte) ([]byte, string) { return SignDestruction(o.SigningKey, b), keyID }
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var err error
	if r.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	return r, nil
}

// Config returns the runner's configuration.
func (r *Runner) Config() Config { return r.cfg }

// replicaName is the host, the process and a random tag: unique among
// replicas, readable in a run's record.
func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// leaseName is the store lease of the runner.
const leaseName = "lifecycle"

// rec is the audit record of a system action on matter in run.
func (r *Runner) rec(action, matter string, run int64) *audit.Record {
	return &audit.Record{Time: r.now(), Entity: "system", User: "mattersync-gateway", Device: r.replica, Matter: matter,
		Action: action, Result: audit.ResultOK, Status: 200, RequestID: fmt.Sprintf("lifecycle-run-%d", run)}
}

// Run works until ctx ends: every Poll it looks for runs administrators
// asked for and holds to carry to the storage, and every Interval it
// starts a run, one replica at a time.
func (r *Runner) Run(ctx context.Context) error {
	held := make(chan struct{})
	go func() { r.holdsLoop(ctx); close(held) }()
	defer func() { <-held }()
	poll := time.NewTicker(r.cfg.Poll)
	defer poll.Stop()
	// The first scheduled run a little after start: tests and restarts do
	// not each start one, and the store says whether one ran recently.
	next := r.now().Add(min(r.cfg.Interval, time.Minute))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
		scheduled := r.cfg.Interval > 0 && !r.now().Before(next)
		if scheduled {
			next = r.now().Add(r.cfg.Interval)
		}
		if err := r.tick(ctx, scheduled); err != nil && ctx.Err() == nil {
			r.log.Warn("lifecycle runner", "err", err)
		}
	}
}

// tick does, under the lease, what is asked for: requested runs first,
// then a scheduled run if none ran within the interval.
func (r *Runner) tick(ctx context.Context, scheduled bool) error {
	pending, err := r.pending(ctx)
	if err != nil || !pending && !scheduled {
		return err
	}
	return r.leasedAs(ctx, leaseName, func(ctx context.Context) error {
		for {
			run, ok, err := r.st.Runs.StartRun(ctx, r.replica, r.now())
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			r.execute(ctx, run)
		}
		if !scheduled {
			return nil
		}
		runs, err := r.st.Runs.LifecycleRuns(ctx, 50)
		if err != nil {
			return err
		}
		for _, run := range runs {
			if run.RequestedBy == "" && !run.DryRun && run.Matter == "" && r.now().Sub(run.Started) < r.cfg.Interval*9/10 {
				return nil // another replica ran it
			}
		}
		now := r.now()
		run := store.LifecycleRun{State: store.RunRunning, Replica: r.replica, Requested: now, Started: now, Updated: now}
		if run.ID, err = r.st.Runs.AddRun(ctx, run, nil); err != nil {
			return err
		}
		r.execute(ctx, run)
		return nil
	})
}

// pending reports whether a run is requested, reading the latest runs.
func (r *Runner) pending(ctx context.Context) (bool, error) {
	runs, err := r.st.Runs.LifecycleRuns(ctx, 20)
	if err != nil {
		return false, err
	}
	for _, run := range runs {
		if run.State == store.RunRequested {
			return true, nil
		}
	}
	return false, nil
}

// leasedAs runs fn while this replica holds the lease name, renewing it;
// fn's context ends if the lease is lost. Without the lease it does
// nothing.
func (r *Runner) leasedAs(ctx context.Context, name string, fn func(context.Context) error) error {
	ok, err := r.st.Runs.TakeLease(ctx, name, r.replica, r.now(), r.now().Add(r.cfg.Lease))
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(r.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := r.st.Runs.TakeLease(ctx, name, r.replica, r.now(), r.now().Add(r.cfg.Lease))
			if ctx.Err() != nil {
				return
			}
			if err != nil || !ok {
				r.log.Error("lifecycle lease lost: stopping", "lease", name, "err", err)
				cancel(errors.New("lifecycle lease lost"))
				return
			}
		}
	}()
	err = fn(ctx)
	cancel(nil)
	<-renewed
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if rerr := r.st.Runs.ReleaseLease(rctx, name, r.replica); rerr != nil {
		r.log.Warn("lifecycle lease release", "err", rerr)
	}
	return err
}
