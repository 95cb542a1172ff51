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

// pauseClosed takes out of ms the matters the gateway says are closed
// while Vault still lists them (their members not removed yet, or a
// gateway's word alone, which nothing signs): their syncing pauses, the
// folder and its trash are left alone, and every refresh asks again, so a
// wrong answer costs a pause, never a file. Only when Vault stops listing
// the matter too does forget apply on_matter_closed. If the gateway cannot
// be asked, nothing is paused: the passes themselves meet its 410.
func (a *Agent) pauseClosed(ctx context.Context, ms []*matterSync) []*matterSync {
	who, err := a.remote.Matters(ctx)
	if err != nil || len(who.Closed) == 0 {
		return ms
	}
	closed := closedOf(who)
	out := ms[:0]
	for _, m := range ms {
		at, ok := closed[m.id]
		if !ok {
			out = append(out, m)
			continue
		}
		a.mu.Lock()
		if a.closedSeen == nil {
			a.closedSeen = map[string]time.Time{}
		}
		a.closedSeen[m.id] = at
		a.mu.Unlock()
		msg := fmt.Sprintf("Matter %s: the gateway says the firm closed it on %s; syncing is paused until IT removes its members (the folder is left as it is)", m.id, at.Local().Format("2006-01-02"))
		a.board.matter(m.id, func(s *MatterStatus) { s.State, s.Errors = "paused", []string{msg} })
	}
	return out
}

// closedOf maps the matters who lists as closed to when.
func closedOf(who api.WhoAmI) map[string]time.Time {
	out := map[string]time.Time{}
	for _, c := range who.Closed {
		out[c.ID] = c.Closed
	}
	return out
}

// closedKnown is closedOf(who) and the matters pauseClosed saw closed
// while Vault still listed them: once their members are gone the gateway
// may no longer list them to this user.
func (a *Agent) closedKnown(who api.WhoAmI) map[string]time.Time {
	out := closedOf(who)
	a.mu.Lock()
	defer a.mu.Unlock()
	for m, at := range a.closedSeen {
		if _, ok := out[m]; !ok {
			out[m] = at
		}
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
