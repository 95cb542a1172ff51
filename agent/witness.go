package agent

// Agents as witnesses (issue 20). Each agent keeps, per matter in its
// index, the highest change-feed sequence number and the newest signed
// audit checkpoint it saw. Before every pass it asks the gateway for the
// matter's signed head (GET /v1/matters/{m}/head?after=<held checkpoint>)
// and checks that nothing went backwards: the feed head is not below what
// it saw, the newest checkpoint is the one it holds or extends it (each
// checkpoint signs the digest of the one before, so the path from the held
// one to the newest must link up). A gateway restored from a backup (or a
// malicious one) fails this: the agent stops syncing the matter, touches no
// local file, says so in status and the log, and reports an integrity
// event. IT's `mattersync-admin matter resync` raises the matter's resync
// count in the head; an agent that sees it grow starts again from the
// gateway as it is and commits, conflict-safe, what it holds that the
// gateway lacks (resync below). With gateway.public_key in the config
// every head and checkpoint must also carry the gateway's signature.

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/internal/fault"
)

// headSource is the optional part of a Remote that serves a matter's
// signed head (gateway/client implements it). Without it the agent
// witnesses nothing.
type headSource interface {
	Head(ctx context.Context, matter string, after, seq int64) (api.MatterHead, error)
}

// HaltedError says syncing a matter stopped because its gateway went
// backwards or forked from what this agent saw; it lasts (across
// restarts) until IT resyncs the matter.
type HaltedError struct {
	Matter string
	Reason string
}

func (e *HaltedError) Error() string {
	return "matter " + e.Matter + ": syncing stopped: " + e.Reason
}

// Fault classes it as a refusal (nothing to retry by itself).
func (e *HaltedError) Fault() fault.Kind { return fault.Refused }

// witness checks the matter's signed head against what this agent saw,
// and follows a resync. It returns a *HaltedError while the matter is
// stopped; any other error is the gateway's or the index's (the pass fails
// and is retried as usual).
func (m *matterSync) witness(ctx context.Context) error {
	a := m.a
	if a.heads == nil {
		return nil
	}
	w, err := a.idx.Witness(ctx, m.id)
	if err != nil {
		return err
	}
	cur, err := a.idx.Cursor(ctx, m.id)
	if err != nil {
		return err
	}
	seen := max(w.Seq, int64(cur))
	var held *audit.Checkpoint
	if w.Checkpoint != "" {
		held = new(audit.Checkpoint)
		if err := json.Unmarshal([]byte(w.Checkpoint), held); err != nil {
			return fmt.Errorf("witness: stored checkpoint: %w", err)
		}
	}
	pub, _ := a.gatewayKey()
	for page := 0; ; page++ {
		after := int64(0)
		if held != nil {
			after = held.Seq
		}
		h, err := a.heads.Head(ctx, m.id, after, w.AtSeq)
		if remoteCode(err) == api.CodeNotFound && pub == nil && w.Seq == 0 && w.Checkpoint == "" {
			// A gateway older than the signed head: nothing to witness.
			// With gateway.public_key set, or once this agent has
			// witnessed the matter, the head is required (a 404 then is
			// a downgrade, not an old gateway).
			a.noHead.Do(func() {
				a.log.Warn("the gateway serves no signed head (older than this agent?): rollbacks are not detected", "matter", m.id)
			})
			return nil
		}
		if err != nil {
			return fmt.Errorf("matter head: %w", err)
		}
		if pub != nil {
			if err := api.VerifyHead(pub, &h); err != nil {
				return m.halt(ctx, w, &h, api.IntegrityFork, "head:"+strconv.FormatInt(h.Seq, 10), err.Error())
			}
		}
		if h.Matter != m.id {
			return m.halt(ctx, w, &h, api.IntegrityFork, "head:"+strconv.FormatInt(h.Seq, 10), "the gateway answered with another matter's head")
		}
		if h.Resync > w.Resync {
			return m.followResync(ctx, w, &h)
		}
		if w.Halted != "" {
			return &HaltedError{Matter: m.id, Reason: w.Halted}
		}
		if h.Seq < seen {
			return m.halt(ctx, w, &h, api.IntegrityRollback, fmt.Sprintf("seq:%d:%d", seen, h.Seq),
				fmt.Sprintf("the gateway's change feed went back from %d to %d", seen, h.Seq))
		}
		if at := h.At; at != nil && at.Seq == w.AtSeq && (at.FileID != w.AtFile || at.Version != w.AtVersion) {
			return m.halt(ctx, w, &h, api.IntegrityFork, fmt.Sprintf("change:%d", w.AtSeq),
				fmt.Sprintf("the gateway's change %d is not the one this agent applied", w.AtSeq))
		}
		if h.Resync < w.Resync {
			return m.halt(ctx, w, &h, api.IntegrityRollback, fmt.Sprintf("resync:%d:%d", w.Resync, h.Resync),
				fmt.Sprintf("the gateway forgot resync %d of the matter", w.Resync))
		}
		next, err := extends(held, &h)
		if err != nil {
			obj := "checkpoint:0:0"
			if held != nil && h.Checkpoint != nil {
				obj = fmt.Sprintf("checkpoint:%d:%d", held.Seq, h.Checkpoint.Seq)
			}
			kind := api.IntegrityFork
			if held != nil && (h.Checkpoint == nil || h.Checkpoint.Seq < held.Seq) {
				kind = api.IntegrityRollback
			}
			return m.halt(ctx, w, &h, kind, obj, err.Error())
		}
		held = next
		if h.More && page < 1000 {
			continue // the next page of checkpoints, from the last one checked
		}
		w.Seq = max(seen, h.Seq)
		if held != nil {
			b, err := json.Marshal(held)
			if err != nil {
				return err
			}
			w.Checkpoint = string(b)
		}
		w.Good = h.Time
		return a.idx.PutWitness(ctx, w)
	}
}

// extends checks that h's checkpoints continue held (nil: nothing held
// yet) and returns the newest one checked: h's newest, or with h.More
// the last of its path.
func extends(held *audit.Checkpoint, h *api.MatterHead) (*audit.Checkpoint, error) {
	if held == nil {
		if h.More && len(h.Path) > 0 {
			return &h.Path[len(h.Path)-1], nil
		}
		return h.Checkpoint, nil
	}
	c := h.Checkpoint
	switch {
	case c == nil || c.Seq < held.Seq:
		return nil, fmt.Errorf("the gateway's newest signed checkpoint (record %d) is older than the one this agent saw (record %d): its audit log went back", checkpointSeq(c), held.Seq)
	case c.Seq == held.Seq:
		if c.Digest() != held.Digest() {
			return nil, fmt.Errorf("the gateway's checkpoint of record %d is not the one this agent saw: its audit log forked", c.Seq)
		}
		return held, nil
	}
	prev := held
	for i := range h.Path {
		p := &h.Path[i]
		if p.Seq <= prev.Seq || (p.Chained() && (p.PrevSeq != prev.Seq || p.Prev != prev.Digest())) {
			return nil, fmt.Errorf("the gateway's checkpoint of record %d does not follow the one of record %d this agent saw: its audit log forked", p.Seq, prev.Seq)
		}
		prev = p
	}
	if h.More {
		return prev, nil
	}
	if prev.Digest() != c.Digest() {
		return nil, fmt.Errorf("the gateway's newest checkpoint (record %d) is not reached from the one this agent saw (record %d): its audit log forked", c.Seq, held.Seq)
	}
	return c, nil
}

func checkpointSeq(c *audit.Checkpoint) int64 {
	if c == nil {
		return 0
	}
	return c.Seq
}

// halt stops syncing the matter for good (until a resync): the reason and
// the head that showed it go to the index, the log and status, and the
// gateway gets an integrity event. No local file is touched.
func (m *matterSync) halt(ctx context.Context, w index.Witness, h *api.MatterHead, kind api.IntegrityKind, object, reason string) error {
	reason = "the firm's server went back in time or changed its history for this matter (" + reason + ")"
	ev, _ := json.Marshal(h)
	w.Halted, w.Evidence = reason, string(ev)
	if err := m.a.idx.PutWitness(context.WithoutCancel(ctx), w); err != nil {
		return err
	}
	m.a.log.Error("gateway went backwards: syncing of the matter stopped, local files kept as they are", "matter", m.id,
		"kind", kind, "object", object, "reason", reason, "feed_head", h.Seq, "resync", h.Resync, "checkpoint", checkpointSeq(h.Checkpoint))
	m.a.reportIntegrity(ctx, m.id, kind, object, 0)
	return &HaltedError{Matter: m.id, Reason: reason}
}

// gatewayKey is the gateway's audit public key from the config, if set.
func (a *Agent) gatewayKey() (ed25519.PublicKey, error) {
	if a.cfg.Gateway.PublicKey == "" {
		return nil, nil
	}
	return ParseGatewayKey(a.cfg.Gateway.PublicKey)
}

// followResync starts the matter again from the gateway as it is, after
// IT ran `matter resync`, and arranges for what this agent holds that the
// gateway lacks to be committed again, conflict-safe, by the pass that
// follows. For each file the index knows, the gateway's head decides:
//
//   - the gateway lacks the file: it is uploaded as a new file;
//   - the head was committed before the last head this agent checked out
//     (w.Good, gateway time), so it is history this agent saw: a local
//     version above it (lost by the restore) is committed on top of it as
//     a new version; otherwise nothing changes;
//   - the head was committed after that (after the restore, by someone
//     who did not see the lost versions): the pull compares it with the
//     local file; the same content is recorded, different content keeps
//     the local file as a conflict copy (uploaded) and the head takes the
//     name.
//
// Then the change feed is read again from its start. Nothing local is
// overwritten or deleted.
func (m *matterSync) followResync(ctx context.Context, w index.Witness, h *api.MatterHead) error {
	a := m.a
	rows, err := a.idx.Files(ctx, m.id)
	if err != nil {
		return err
	}
	heads, err := m.fileHeads(ctx, rows)
	if err != nil {
		return err
	}
	var changed []index.File
	var gone []string
	for i, r := range rows {
		unsynced := func(version uint64) {
			r.Version, r.Size, r.MtimeNs, r.Hash = version, -1, 0, make([]byte, 32)
			changed = append(changed, r)
		}
		head := heads[i]
		if head == nil { // the gateway lacks the file
			if st, serr := m.statLocal(r.Path); serr == nil && !st {
				gone = append(gone, r.Path) // deleted here too: nothing to bring back
				continue
			}
			unsynced(0)
			continue
		}
		hv := uint64(head.Version)
		if !w.Good.IsZero() && !head.Time.After(w.Good) {
			if hv < r.Version {
				unsynced(hv)
			}
			continue
		}
		unsynced(max(hv, 1) - 1)
	}
	witnessed := w.Seq > 0 || w.Checkpoint != "" || w.Resync > 0
	// A new baseline: what the gateway serves now, and no halt.
	w.Resync, w.Seq, w.Halted, w.Evidence = h.Resync, h.Seq, "", ""
	w.Checkpoint, w.AtSeq, w.AtFile, w.AtVersion = "", 0, "", 0
	if h.Checkpoint != nil && !h.More {
		b, err := json.Marshal(h.Checkpoint)
		if err != nil {
			return err
		}
		w.Checkpoint = string(b)
	}
	w.Good = h.Time
	if err := a.idx.Resynced(ctx, w, changed, gone); err != nil {
		return err
	}
	// Said to the gateway too, by an agent that had witnessed the matter
	// before (a new laptop just starts from here): a resync nobody in IT
	// ran (a database writer's) shows as integrity.resync without an
	// admin.matter.resync.
	if witnessed {
		a.reportIntegrity(ctx, m.id, api.IntegrityResync, "resync:"+strconv.FormatInt(h.Resync, 10), 0)
	}
	a.log.Warn("matter resynced by IT: syncing starts again; files the gateway lacks are committed again", "matter", m.id,
		"resync", h.Resync, "files_checked", len(rows), "files_to_commit_or_compare", len(changed), "feed_head", h.Seq)
	return nil
}

// fileHeads asks the gateway for the head of each row's file, a few at a time
// (one request per file: a resync is rare); nil where it has none.
func (m *matterSync) fileHeads(ctx context.Context, rows []index.File) ([]*api.FileVersion, error) {
	out := make([]*api.FileVersion, len(rows))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards first
		first error
	)
	next := make(chan int)
	for range min(8, len(rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				head, err := m.a.remote.File(ctx, m.id, rows[i].FileID, 0)
				switch {
				case remoteCode(err) == api.CodeNotFound:
				case err != nil:
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("resync: %w", err)
						cancel()
					}
					mu.Unlock()
				default:
					out[i] = &head
				}
			}
		}()
	}
	for i := range rows {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return out, first
}

// statLocal reports whether rel exists in the matter folder (the folder
// is open during a pass).
func (m *matterSync) statLocal(rel string) (bool, error) {
	if m.fs == nil {
		return false, errors.New("matter folder not open")
	}
	st, err := m.fs.lstat(rel)
	return st.exists, err
}
