package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// integrityReporter is the optional part of a Remote that tells the
// gateway what the agent refused (gateway/client implements it): the
// gateway audits it as integrity.<kind>, which raises an alert for IT. A
// Remote without it (an old test double) only logs and shows the event.
type integrityReporter interface {
	ReportIntegrity(ctx context.Context, matter string, rep api.IntegrityReport) error
}

// chunkFault marks an error as caused by one chunk (which did not open, or
// opened to the wrong size), so the integrity event names the chunk.
type chunkFault struct {
	id  format.ID
	err error
}

func (e *chunkFault) Error() string { return e.err.Error() }
func (e *chunkFault) Unwrap() error { return e.err }

// integrityEvent classes an integrity error (see integrity) for the
// gateway: its kind and the object it concerns (a chunk or file ID, never
// a name).
func integrityEvent(err error, fileID string) (api.IntegrityKind, string) {
	var cf *chunkFault
	switch {
	case errors.As(err, &cf):
		return api.IntegrityChunkAuth, cf.id.String()
	case errors.Is(err, format.ErrUnsafePath):
		return api.IntegrityRefusedPath, fileID
	case errors.Is(err, errTooLarge), errors.Is(err, format.ErrTooLarge):
		return api.IntegrityTooLarge, fileID
	}
	return api.IntegrityManifestAuth, fileID
}

// reportIntegrity tells the gateway about an integrity event, and says in
// the log whether it could. It never fails the pass: the event is in the
// log and status either way, and the next full pass after a restart finds
// (and reports) it again.
func (a *Agent) reportIntegrity(ctx context.Context, matter string, kind api.IntegrityKind, object string, version int64) {
	if a.reporter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	device := a.cfg.DeviceName
	if !api.ValidDevice(device) {
		device = "unknown"
	}
	err := a.reporter.ReportIntegrity(ctx, matter, api.IntegrityReport{Kind: kind, Object: object, Device: device, Version: version})
	if err != nil {
		a.log.Warn("integrity event not reported to the gateway", "matter", matter, "kind", kind, "object", object, "err", err)
		return
	}
	a.log.Info("integrity event reported to the gateway", "matter", matter, "kind", kind, "object", object, "version", version)
}

// integrityMessage is what status and `sync --once` say of a refused
// remote version: the file by its local name when this agent has one (the
// manifest that would name it may be what failed), and what to do.
func (m *matterSync) integrityMessage(ctx context.Context, c api.Change, err error) string {
	name := "file " + c.FileID
	if row, rerr := m.a.idx.FileByID(ctx, m.id, c.FileID); rerr == nil {
		name = strconv.Quote(row.Path) + " (file " + c.FileID + ")"
	}
	v := "the remote version"
	if c.Version > 0 && c.Version < 1<<62 {
		v = fmt.Sprintf("remote version %d", c.Version)
	}
	return fmt.Sprintf("integrity: %s of %s refused, local copy kept (reported to IT; tried again when the file changes or the agent restarts): %v", v, name, err)
}
