package agent

// Closed matters: the firm closed the matter (mattersync-admin matter
// close). The gateway refuses its writes and its changes feed and lists it
// as closed; the agent stops syncing it and keeps or removes its folder as
// on_matter_closed says (docs/AGENT.md, docs/LIFECYCLE.md).

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/api"
)

// The fates on_matter_closed offers the folder of a closed matter.
const (
	ClosedKeep       = "keep"       // the folder stays, no longer synced (default)
	ClosedQuarantine = "quarantine" // unsynced work to the quarantine, the rest removed
	ClosedRemove     = "remove"     // everything removed (listed in the report)
)

// closedState is the index state of a matter closed by the firm.
const closedState = "closed"

// moveClosed moves the matters the gateway says are closed from ms (still
// listed by Vault: their members not removed yet) to lost, where forget
// stops their loops and applies on_matter_closed. If the gateway cannot
// be asked, nothing moves: the next refresh asks again.
func (a *Agent) moveClosed(ctx context.Context, ms []*matterSync, lost []index.Matter) ([]*matterSync, []index.Matter) {
	who, err := a.remote.Matters(ctx)
	if err != nil || len(who.Closed) == 0 {
		return ms, lost
	}
	closed := map[string]bool{}
	for _, c := range who.Closed {
		closed[c.ID] = true
	}
	known, err := a.idx.Matters(ctx)
	if err != nil {
		return ms, lost
	}
	byID := map[string]index.Matter{}
	for _, m := range known {
		byID[m.ID] = m
	}
	out := ms[:0]
	for _, m := range ms {
		if k, ok := byID[m.id]; ok && closed[m.id] {
			lost = append(lost, k)
			continue
		}
		out = append(out, m)
	}
	return out, lost
}

// closedOf maps the matters who lists as closed to when.
func closedOf(who api.WhoAmI) map[string]time.Time {
	out := map[string]time.Time{}
	for _, c := range who.Closed {
		out[c.ID] = c.Closed
	}
	return out
}

// matterClosed stops syncing m for good and applies on_matter_closed to its
// folder; it returns the sentence status shows. The trash goes in every
// case: nothing more will be restored from it.
func (a *Agent) matterClosed(ctx context.Context, m index.Matter, at time.Time) (string, error) {
	if err := a.idx.SetMatterState(ctx, m.ID, closedState); err != nil {
		return "", err
	}
	dir := filepath.Join(a.cfg.Root, m.Folder)
	head := fmt.Sprintf("Matter %s: closed by the firm on %s", m.ID, at.Local().Format("2006-01-02"))
	a.log.Warn("matter closed by the firm: it is no longer synced", "matter", m.ID, "on_matter_closed", a.cfg.OnMatterClosed)
	var notice string
	if a.cfg.OnMatterClosed == ClosedKeep {
		notice = head + "; the folder is kept (firm policy) but no longer synced"
		if _, err := a.purgeTrash(m.ID, dir, time.Now(), true, "matter closed"); err != nil {
			notice = head + "; the folder is kept but no longer synced (its trash could not be emptied: tell IT)"
		}
	} else {
		w := a.newWipe(a.cfg.OnMatterClosed == ClosedQuarantine, "matter closed")
		r := w.matter(m)
		w.finish()
		switch {
		case r.missing:
			notice = head + "; there was no local folder"
		case !r.done:
			notice = head + "; the local folder could not be checked and was kept: tell IT"
		case r.kept > 0:
			notice = fmt.Sprintf("%s; the local copy was removed; your unsynced edits (%d files) were kept for IT in %s", head, r.kept, w.dir)
		case r.unsyncedRemoved > 0:
			notice = fmt.Sprintf("%s; the local copy was removed, with %d unsynced files (firm policy; list in %s)", head, r.unsyncedRemoved, w.reportPath())
		default:
			notice = head + "; the local copy was removed (everything in it was synced)"
		}
	}
	if err := a.idx.SetSyncResult(ctx, m.ID, time.Now(), notice); err != nil {
		return notice, err
	}
	a.board.matter(m.ID, func(s *MatterStatus) {
		s.Name, s.Folder, s.State, s.Role, s.Queue, s.Errors = m.Name, m.Folder, closedState, "", 0, []string{notice}
	})
	return notice, nil
}
