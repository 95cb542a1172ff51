package admin

// The storage of matters at the gateway: what it is kept for, and runs of
// purge and garbage collection (docs/LIFECYCLE.md).

import (
	"context"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// StorageRuns is the gateway's matter storage and its lifecycle runs.
type StorageRuns interface {
	Storage(ctx context.Context, matter string) (api.Storage, error)
	StartRun(ctx context.Context, req api.RunRequest) (api.Run, error)
	Run(ctx context.Context, id int64) (api.Run, error)
	Runs(ctx context.Context, limit int) ([]api.Run, error)
	HoldStorage(ctx context.Context, matter string) (api.HoldStorage, error)
}

// MatterStorage says what matter's bytes in the bucket are kept for. A
// matter unknown to Vault is fault.NotFound.
func (s *Session) MatterStorage(ctx context.Context, matter string) (api.Storage, error) {
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.Storage{}, err
	}
	return gw.Storage(ctx, matter)
}

// RunOptions tune CollectGarbage.
type RunOptions struct {
	// Poll is how often the run's progress is read (default 1s).
	Poll time.Duration
}

// CollectGarbage asks the gateway for a run of purge and garbage
// collection (of one matter if req.Matter is set, which must exist in
// Vault), reports its progress lines to Progress as they change, and
// returns the finished run. A run that failed is fault.Other; one that
// went through with errors (a matter it could not purge, objects the
// bucket did not delete) is fault.Incomplete, with the run.
func (s *Session) CollectGarbage(ctx context.Context, req api.RunRequest, o RunOptions) (api.Run, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Run{}, err
	}
	if req.Matter != "" {
		if err := s.RequireMatter(ctx, req.Matter); err != nil {
			return api.Run{}, err
		}
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	run, err := gw.StartRun(ctx, req)
	if err != nil {
		return run, err
	}
	s.note("run %d asked for at %s; the gateway's runner takes it within seconds", run.ID, s.GatewayURL)
	last := ""
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for run.State == api.RunRequested || run.State == api.RunRunning {
		select {
		case <-ctx.Done():
			return run, fmt.Errorf("run %d still %s at the gateway (follow it with `mattersync-admin storage runs`): %w", run.ID, run.State, ctx.Err())
		case <-t.C:
		}
		if run, err = gw.Run(ctx, run.ID); err != nil {
			return run, err
		}
		if run.Progress != "" && run.Progress != last && run.State == api.RunRunning {
			last = run.Progress
			s.note("  %s", run.Progress)
		}
	}
	switch {
	case run.State == api.RunFailed:
		return run, fault.Errorf(fault.Other, "run %d failed: %s", run.ID, run.Error)
	case run.Summary != nil && len(run.Summary.Errors) > 0:
		return run, fault.Errorf(fault.Incomplete, "run %d finished with %d problems (the next run tries again)", run.ID, len(run.Summary.Errors))
	}
	return run, nil
}

// StorageRuns returns the gateway's latest runs, newest first.
func (s *Session) StorageRuns(ctx context.Context, limit int) ([]api.Run, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	return gw.Runs(ctx, limit)
}

// HoldStorage says how far matter's objects carry the storage's legal
// hold (S3 Object Lock) its hold asks for.
func (s *Session) HoldStorage(ctx context.Context, matter string) (api.HoldStorage, error) {
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.HoldStorage{}, err
	}
	return gw.HoldStorage(ctx, matter)
}

// WaitHoldStorage follows the gateway's pass that carries matter's hold
// (on: set; off: cleared) to every object of the matter, reporting its
// progress, until it is done. A pass that failed (a bucket without Object
// Lock, the bucket down) is fault.Incomplete: the hold is in force at the
// gateway, not yet in the storage; the gateway tries again by itself.
func (s *Session) WaitHoldStorage(ctx context.Context, matter string, on bool, o RunOptions) (api.HoldStorage, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.HoldStorage{}, err
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	var last int64 = -1
	for {
		h, err := gw.HoldStorage(ctx, matter)
		if err != nil {
			return h, err
		}
		switch {
		case h.On != on:
			return h, fault.Errorf(fault.Conflict, "the hold of matter %s changed meanwhile (it is now %s)", matter, map[bool]string{true: "on", false: "off"}[h.On])
		case h.State == api.HoldStorageFailed:
			return h, fault.Errorf(fault.Incomplete, "the storage's legal hold of matter %s is not done: %s (the gateway tries again every minute; follow it with `mattersync-admin hold storage %s`)", matter, h.Error, matter)
		case on && h.State == api.HoldStorageApplied, !on && h.State == api.HoldStorageNone:
			return h, nil
		}
		if h.Objects != last {
			last = h.Objects
			s.note("  storage legal hold: %s, %d objects so far", h.State, h.Objects)
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("the storage's legal hold of matter %s is still %s (follow it with `mattersync-admin hold storage %s`): %w", matter, h.State, matter, ctx.Err())
		case <-t.C:
		}
	}
}
