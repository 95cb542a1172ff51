package kms

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MatterInfo is a matter as the admin sees it.
type MatterInfo struct {
	ID       string
	Name     string // empty once shredded
	Created  string // RFC 3339
	Shredded string // RFC 3339, or empty
}

func validateDisplayName(op, name string) error {
	if strings.TrimSpace(name) == "" {
		return errorf(op, Invalid, "display name is empty")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200 {
		return errorf(op, Invalid, "display name must be valid UTF-8 of at most 200 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errorf(op, Invalid, "display name contains a control character")
		}
	}
	return nil
}

// CreateMatter creates matter id: transit key matter-<id> (not deletable
// until shredded), epoch 1, the member and screened policies, the groups
// matter-<id>-rw/-ro/-screened, and the metadata with the display name,
// written last. An existing matter is a Conflict error and nothing changes;
// a creation interrupted before the metadata was written is completed.
func (a *Admin) CreateMatter(ctx context.Context, id, name string, progress Progress) (MatterInfo, error) {
	op := "create matter " + id
	if err := validateMatter(op, id); err != nil {
		return MatterInfo{}, err
	}
	if err := validateDisplayName(op, name); err != nil {
		return MatterInfo{}, err
	}
	l := a.s.layout
	var meta matterMeta
	if _, err := a.s.kvRead(ctx, op, metaKey(id), &meta); err == nil {
		if meta.Shredded != "" {
			return MatterInfo{}, errorf(op, Conflict, "matter %s was shredded on %s; matter IDs are never reused", id, meta.Shredded)
		}
		return MatterInfo{}, errorf(op, Conflict, "matter %s already exists (%q)", id, meta.Name)
	} else if KindOf(err) != NotFound {
		return MatterInfo{}, err
	}

	step := func(name, detail string, err error) error {
		progress.report(Step{Name: name, Detail: detail, Err: err})
		return err
	}
	// type and deletion_allowed are explicit: the key must survive any
	// change of Vault defaults, and only Shred may make it deletable.
	if _, err := a.s.write(ctx, op, l.transitPath("keys", id), map[string]any{"type": "aes256-gcm96"}); err != nil {
		return MatterInfo{}, step("transit key "+l.transitKey(id), "", err)
	}
	if _, err := a.s.write(ctx, op, l.transitPath("keys", id)+"/config", map[string]any{"deletion_allowed": false}); err != nil {
		return MatterInfo{}, step("transit key "+l.transitKey(id), "", err)
	}
	step("transit key "+l.transitKey(id), "ready", nil)
	for _, p := range []struct{ name, file string }{{l.matterPolicy(id), "matter.hcl"}, {l.screenedPolicy(id), "screened.hcl"}} {
		r, err := a.s.putPolicy(ctx, op, p.name, p.file, id, false)
		if err := step("policy "+p.name, r, err); err != nil {
			return MatterInfo{}, err
		}
	}
	for _, g := range []struct {
		role   Role
		policy string
	}{{RoleRW, l.matterPolicy(id)}, {RoleRO, l.matterPolicy(id)}, {RoleScreened, l.screenedPolicy(id)}} {
		name := MatterGroup(id, g.role)
		r, err := a.ensureGroup(ctx, op, name, []string{g.policy}, map[string]string{"mattersync_matter": id, "mattersync_role": string(g.role)}, false)
		if err := step("group "+name, r, err); err != nil {
			return MatterInfo{}, err
		}
	}
	if _, _, err := a.s.readEpochs(ctx, op, id); err == nil {
		step("epoch 1", "kept from an interrupted creation", nil)
	} else if KindOf(err) != NotFound {
		return MatterInfo{}, step("epoch 1", "", err)
	} else {
		wrapped, err := a.newEpochKey(ctx, op, id)
		if err != nil {
			return MatterInfo{}, step("epoch 1", "", err)
		}
		set := epochSet{Current: 1, Epochs: map[string]epochEntry{"1": {Wrapped: wrapped, Created: nowString(a.s.now())}}}
		if _, err := a.s.kvWrite(ctx, op, epochsKey(id), 0, set); err != nil {
			return MatterInfo{}, step("epoch 1", "", err)
		}
		step("epoch 1", "created", nil)
	}
	meta = matterMeta{Name: name, Created: nowString(a.s.now())}
	if _, err := a.s.kvWrite(ctx, op, metaKey(id), 0, meta); err != nil {
		if KindOf(err) == Conflict {
			err = errorf(op, Conflict, "matter %s was created concurrently", id)
		}
		return MatterInfo{}, step("metadata", "", err)
	}
	step("metadata", "created", nil)
	return MatterInfo{ID: id, Name: name, Created: meta.Created}, nil
}

// newEpochKey asks transit for 32 random bytes wrapped with the matter's
// newest key version; the plaintext never reaches the admin.
func (a *Admin) newEpochKey(ctx context.Context, op, matter string) (string, error) {
	sec, err := a.s.write(ctx, op, a.s.layout.transitPath("datakey/wrapped", matter), map[string]any{"bits": EpochKeySize * 8})
	if err != nil {
		return "", err
	}
	ct, _ := sec.Data["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v") {
		return "", errorf(op, Other, "transit returned no wrapped key")
	}
	return ct, nil
}

// Matter returns matter id's metadata; an unknown matter is NotFound.
func (a *Admin) Matter(ctx context.Context, id string) (MatterInfo, error) {
	op := "matter " + id
	if err := validateMatter(op, id); err != nil {
		return MatterInfo{}, err
	}
	var meta matterMeta
	if _, err := a.s.kvRead(ctx, op, metaKey(id), &meta); err != nil {
		if KindOf(err) == NotFound {
			return MatterInfo{}, errorf(op, NotFound, "no such matter %s", id)
		}
		return MatterInfo{}, err
	}
	return MatterInfo{ID: id, Name: meta.Name, Created: meta.Created, Shredded: meta.Shredded}, nil
}

// liveMatter is Matter, refusing shredded matters.
func (a *Admin) liveMatter(ctx context.Context, id string) (MatterInfo, error) {
	m, err := a.Matter(ctx, id)
	if err == nil && m.Shredded != "" {
		err = errorf("matter "+id, NotFound, "matter %s was shredded on %s", id, m.Shredded)
	}
	return m, err
}

// ListMatters lists every matter, shredded ones included.
func (a *Admin) ListMatters(ctx context.Context) ([]MatterInfo, error) {
	keys, err := a.s.list(ctx, "list matters", a.s.layout.kvMetadata("matters"))
	if err != nil {
		return nil, err
	}
	var out []MatterInfo
	for _, k := range keys {
		id := strings.TrimSuffix(k, "/")
		m, err := a.Matter(ctx, id)
		if KindOf(err) == NotFound || KindOf(err) == Invalid {
			continue // interrupted creation, or not ours
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Grant makes user a member of matter with role rw or ro (moving them from
// the other role if needed) and reports whether anything changed. A
// screened user is refused: lift the wall with Unscreen first.
func (a *Admin) Grant(ctx context.Context, matter, user string, role Role) (bool, error) {
	op := fmt.Sprintf("grant %s on %s to %s", role, matter, user)
	if role != RoleRW && role != RoleRO {
		return false, errorf(op, Invalid, "role must be rw or ro")
	}
	if _, err := a.liveMatter(ctx, matter); err != nil {
		return false, err
	}
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	if u.role(matter, RoleScreened) {
		return false, errorf(op, Invalid, "%s is screened from matter %s (ethical wall): run `matter unscreen` first if the wall is lifted", user, matter)
	}
	changed, err := a.setMember(ctx, op, MatterGroup(matter, role), u.EntityID, true)
	if err != nil {
		return false, err
	}
	other := RoleRO
	if role == RoleRO {
		other = RoleRW
	}
	moved, err := a.setMember(ctx, op, MatterGroup(matter, other), u.EntityID, false)
	return changed || moved, err
}

// Remove takes user out of matter's rw and ro groups and reports whether
// they were a member. It does not rotate: the caller decides (the CLI
// rotates by default).
func (a *Admin) Remove(ctx context.Context, matter, user string) (bool, error) {
	op := fmt.Sprintf("remove %s from %s", user, matter)
	if _, err := a.Matter(ctx, matter); err != nil {
		return false, err
	}
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	var removed bool
	for _, r := range []Role{RoleRW, RoleRO} {
		ch, err := a.setMember(ctx, op, MatterGroup(matter, r), u.EntityID, false)
		if err != nil {
			return removed, err
		}
		removed = removed || ch
	}
	return removed, nil
}

// Screen puts user behind matter's ethical wall: into matter-<id>-screened
// (denied by Vault and the gateway whatever else they have) and out of its
// rw and ro groups. It reports whether the user had been a member, in which
// case the matter should be rotated.
func (a *Admin) Screen(ctx context.Context, matter, user string) (wasMember bool, err error) {
	op := fmt.Sprintf("screen %s from %s", user, matter)
	if _, err := a.liveMatter(ctx, matter); err != nil {
		return false, err
	}
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	// The wall first, so there is no moment with neither wall nor removal.
	if _, err := a.setMember(ctx, op, MatterGroup(matter, RoleScreened), u.EntityID, true); err != nil {
		return false, err
	}
	for _, r := range []Role{RoleRW, RoleRO} {
		ch, err := a.setMember(ctx, op, MatterGroup(matter, r), u.EntityID, false)
		if err != nil {
			return wasMember, err
		}
		wasMember = wasMember || ch
	}
	return wasMember, nil
}

// Unscreen lifts user's ethical wall on matter; it grants nothing.
func (a *Admin) Unscreen(ctx context.Context, matter, user string) (bool, error) {
	op := fmt.Sprintf("unscreen %s from %s", user, matter)
	if _, err := a.liveMatter(ctx, matter); err != nil {
		return false, err
	}
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	return a.setMember(ctx, op, MatterGroup(matter, RoleScreened), u.EntityID, false)
}

// Member is a user's membership in a matter.
type Member struct {
	User     string // entity name
	EntityID string
	Role     Role
	Disabled bool // revoked
}

// Members lists matter's members and screened users, sorted by role then name.
func (a *Admin) Members(ctx context.Context, matter string) ([]Member, error) {
	op := "members of " + matter
	if _, err := a.Matter(ctx, matter); err != nil {
		return nil, err
	}
	var out []Member
	for _, r := range []Role{RoleRW, RoleRO, RoleScreened} {
		g, err := a.s.readGroup(ctx, op, MatterGroup(matter, r))
		if err != nil {
			return nil, err
		}
		if g == nil {
			continue
		}
		for _, id := range g.Members {
			sec, err := a.s.readOpt(ctx, op, "identity/entity/id/"+id)
			if err != nil {
				return nil, err
			}
			m := Member{EntityID: id, Role: r, User: "(deleted entity)"}
			if sec != nil {
				m.User, _ = sec.Data["name"].(string)
				m.Disabled, _ = sec.Data["disabled"].(bool)
			}
			out = append(out, m)
		}
	}
	rank := map[Role]int{RoleRW: 0, RoleRO: 1, RoleScreened: 2}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return rank[out[i].Role] < rank[out[j].Role]
		}
		return out[i].User < out[j].User
	})
	return out, nil
}

// RotateResult is what Rotate did.
type RotateResult struct {
	Epoch      uint32 // the new current epoch
	KeyVersion int    // the transit key version everything is now wrapped with
	Rewrapped  int    // older epochs rewrapped
}

// Rotate starts a new epoch of matter: it rotates the transit key, creates
// the new epoch key, rewraps every older epoch key to the new key version,
// stores them all in one check-and-set write, and only then raises the
// transit key's min_decryption_version, so old data stays readable and
// ciphertext wrapped under retired key versions no longer opens.
func (a *Admin) Rotate(ctx context.Context, matter string, progress Progress) (RotateResult, error) {
	op := "rotate " + matter
	l := a.s.layout
	var res RotateResult
	if _, err := a.liveMatter(ctx, matter); err != nil {
		return res, err
	}
	fail := func(name string, err error) (RotateResult, error) {
		progress.report(Step{Name: name, Err: err})
		return res, err
	}
	set, version, err := a.s.readEpochs(ctx, op, matter)
	if err != nil {
		return fail("read epochs", err)
	}
	progress.report(Step{Name: "read epochs", Detail: fmt.Sprintf("current epoch %d", set.Current)})
	if _, err := a.s.write(ctx, op, l.transitPath("keys", matter)+"/rotate", nil); err != nil {
		return fail("rotate transit key", err)
	}
	sec, err := a.s.read(ctx, op, l.transitPath("keys", matter))
	if err != nil {
		return fail("rotate transit key", err)
	}
	latest, err := number(sec.Data["latest_version"])
	if err != nil {
		return fail("rotate transit key", errorf(op, Other, "latest_version: %w", err))
	}
	res.KeyVersion = int(latest)
	progress.report(Step{Name: "rotate transit key", Detail: fmt.Sprintf("now version %d", latest)})

	prefix := fmt.Sprintf("vault:v%d:", latest)
	ns, _ := set.numbers()
	var batch []map[string]any
	var stale []string
	for _, n := range ns {
		k := strconv.FormatUint(uint64(n), 10)
		if !strings.HasPrefix(set.Epochs[k].Wrapped, prefix) {
			stale = append(stale, k)
			batch = append(batch, map[string]any{"ciphertext": set.Epochs[k].Wrapped})
		}
	}
	if len(batch) > 0 {
		sec, err := a.s.write(ctx, op, l.transitPath("rewrap", matter), map[string]any{"batch_input": batch, "key_version": latest})
		if err != nil {
			return fail("rewrap older epochs", err)
		}
		results, _ := sec.Data["batch_results"].([]any)
		if len(results) != len(batch) {
			return fail("rewrap older epochs", errorf(op, Other, "rewrap returned %d results for %d epochs", len(results), len(batch)))
		}
		for i, r := range results {
			m, _ := r.(map[string]any)
			ct, _ := m["ciphertext"].(string)
			if e, _ := m["error"].(string); e != "" || !strings.HasPrefix(ct, prefix) {
				return fail("rewrap older epochs", errorf(op, Other, "epoch %s: rewrap failed: %s", stale[i], e))
			}
			e := set.Epochs[stale[i]]
			e.Wrapped = ct
			set.Epochs[stale[i]] = e
		}
	}
	res.Rewrapped = len(batch)
	progress.report(Step{Name: "rewrap older epochs", Detail: fmt.Sprintf("%d rewrapped to key version %d", len(batch), latest)})

	if set.Current == ^uint32(0) {
		return fail("new epoch", errorf(op, Invalid, "matter %s has used every epoch number", matter))
	}
	wrapped, err := a.newEpochKey(ctx, op, matter)
	if err != nil {
		return fail("new epoch", err)
	}
	next := set.Current + 1
	set.Epochs[strconv.FormatUint(uint64(next), 10)] = epochEntry{Wrapped: wrapped, Created: nowString(a.s.now())}
	set.Current = next
	if _, err := a.s.kvWrite(ctx, op, epochsKey(matter), version, set); err != nil {
		return fail("store epochs", err)
	}
	res.Epoch = next
	progress.report(Step{Name: "store epochs", Detail: fmt.Sprintf("epoch %d is current", next)})

	if _, err := a.s.write(ctx, op, l.transitPath("keys", matter)+"/config", map[string]any{"min_decryption_version": latest}); err != nil {
		return fail("retire old key versions", err)
	}
	progress.report(Step{Name: "retire old key versions", Detail: fmt.Sprintf("min_decryption_version %d", latest)})
	return res, nil
}

// Shred crypto-shreds matter: it deletes the transit key (the only way to
// unwrap its epoch keys) and every stored version of the wrapped keys, the
// matter's policies and groups, and the display name, keeping a tombstone
// so the ID is never reused. Re-running it finishes an interrupted shred.
// Legal holds are the gateway's: the caller must check them first.
func (a *Admin) Shred(ctx context.Context, matter string, progress Progress) error {
	op := "shred " + matter
	l := a.s.layout
	m, err := a.Matter(ctx, matter)
	if err != nil {
		return err
	}
	var steps []Step
	run := func(name string, f func() error) {
		err := f()
		detail := "done"
		if KindOf(err) == NotFound {
			err, detail = nil, "already gone"
		}
		steps = append(steps, progress.report(Step{Name: name, Detail: detail, Err: err}))
	}
	run("delete transit key "+l.transitKey(matter), func() error {
		if _, err := a.s.write(ctx, op, l.transitPath("keys", matter)+"/config", map[string]any{"deletion_allowed": true}); err != nil {
			if strings.Contains(err.Error(), "no existing key") || KindOf(err) == NotFound {
				return errorf(op, NotFound, "no transit key")
			}
			return err
		}
		return a.s.delete(ctx, op, l.transitPath("keys", matter))
	})
	run("destroy wrapped epoch keys", func() error { return a.s.delete(ctx, op, l.kvMetadata(epochsKey(matter))) })
	for _, r := range []Role{RoleRW, RoleRO, RoleScreened} {
		run("delete group "+MatterGroup(matter, r), func() error {
			return a.s.delete(ctx, op, "identity/group/name/"+MatterGroup(matter, r))
		})
	}
	for _, p := range []string{l.matterPolicy(matter), l.screenedPolicy(matter)} {
		run("delete policy "+p, func() error { return a.s.delete(ctx, op, "sys/policies/acl/"+p) })
	}
	if err := joinSteps(op, steps); err != nil {
		return err
	}
	if m.Shredded == "" {
		var meta matterMeta
		version, err := a.s.kvRead(ctx, op, metaKey(matter), &meta)
		if err == nil {
			_, err = a.s.kvWrite(ctx, op, metaKey(matter), version, matterMeta{Created: meta.Created, Shredded: nowString(a.s.now())})
		}
		progress.report(Step{Name: "tombstone", Detail: "display name removed, ID retired", Err: err})
		return err
	}
	return nil
}
