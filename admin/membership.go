package admin

// Membership history: after every change of a matter's membership the
// admin tool reports the matter's membership, as Vault now has it, to the
// gateway, which records the differences with who, when and why; a sync
// (on a schedule) reports every matter's, so changes made directly in
// Vault are recorded as such. `report who-could-open` answers from it.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// Memberships is the gateway's membership history.
type Memberships interface {
	RecordMembership(ctx context.Context, matter string, snap api.MembershipSnapshot) ([]api.MembershipChange, error)
	MembershipHistory(ctx context.Context, matter string) ([]api.MembershipChange, error)
}

// memberships returns the gateway's membership history, or an error
// wrapping ErrNoGateway.
func (s *Session) memberships(ctx context.Context) (Memberships, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	m, ok := gw.(Memberships)
	if !ok {
		return nil, fmt.Errorf("%w: this gateway client keeps no membership history", ErrNoGateway)
	}
	return m, nil
}

// snapshot is matter's membership as Vault has it.
func (s *Session) snapshot(ctx context.Context, matter string) ([]api.Member, []kms.Member, error) {
	ms, err := s.Vault.Members(ctx, matter)
	if err != nil {
		return nil, nil, err
	}
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Member{Entity: m.EntityID, Name: m.User, Role: string(m.Role)})
	}
	return out, ms, nil
}

// recordMembership tells the gateway matter's membership after the admin
// changed user's (or created the matter: user ""), with reason. It never
// fails the operation: the Vault change is made; a failure is a warning
// naming the repair (the next sync records the change as found in Vault).
func (s *Session) recordMembership(ctx context.Context, matter, user, reason string) {
	step := "gateway membership history " + matter
	repair := fmt.Sprintf("run `mattersync-admin membership sync %s` (the change is then recorded as found in Vault, without this reason)", matter)
	mem, err := s.memberships(ctx)
	if errors.Is(err, ErrNoGateway) {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("%v: the change is not in the membership history; %s", err, repair)})
		return
	}
	var members []api.Member
	var vm []kms.Member
	if err == nil {
		members, vm, err = s.snapshot(ctx, matter)
	}
	var cs []api.MembershipChange
	if err == nil {
		subject := ""
		for _, m := range vm {
			if m.User == user {
				subject = m.EntityID
			}
		}
		if subject == "" && user != "" {
			// Removed from every group: find the entity in Vault.
			if u, uerr := s.Vault.User(ctx, user); uerr == nil {
				subject = u.EntityID
			}
		}
		cs, err = mem.RecordMembership(ctx, matter, api.MembershipSnapshot{Members: members, Subject: subject, Source: "admin", Reason: reason})
	}
	if err != nil {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("not recorded (%v); %s", err, repair)})
		return
	}
	s.report(Step{Name: step, Detail: describeChanges(cs)})
}

// describeChanges says what a recording changed, briefly.
func describeChanges(cs []api.MembershipChange) string {
	var parts []string
	for _, c := range cs {
		switch {
		case c.Entity == "":
			parts = append(parts, "history begins")
		case c.Added:
			parts = append(parts, fmt.Sprintf("+%s %s (%s)", c.Role, c.Name, c.Source))
		default:
			parts = append(parts, fmt.Sprintf("-%s %s (%s)", c.Role, c.Name, c.Source))
		}
	}
	if len(parts) == 0 {
		return "unchanged"
	}
	return strings.Join(parts, ", ")
}

// MembershipSync is what a sync found for one matter.
type MembershipSync struct {
	Matter  string
	Changes []api.MembershipChange
	Err     error
}

// SyncMembership reports the membership of matters (every live matter if
// none is named) to the gateway; differences from the recorded history
// are recorded as changed in Vault outside mattersync-admin (or, for a
// matter without history, as its baseline). Run it on a schedule. A
// matter that failed is in its result's Err and the error is
// fault.Incomplete.
func (s *Session) SyncMembership(ctx context.Context, matters []string) ([]MembershipSync, error) {
	mem, err := s.memberships(ctx)
	if err != nil {
		return nil, err
	}
	if len(matters) == 0 {
		all, err := s.Vault.ListMatters(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range all {
			if m.Shredded == "" {
				matters = append(matters, m.ID)
			}
		}
	} else {
		for _, m := range matters {
			if err := s.RequireMatter(ctx, m); err != nil {
				return nil, err
			}
		}
	}
	var out []MembershipSync
	failed := 0
	for _, m := range matters {
		r := MembershipSync{Matter: m}
		members, _, err := s.snapshot(ctx, m)
		if err == nil {
			r.Changes, err = mem.RecordMembership(ctx, m, api.MembershipSnapshot{Members: members, Source: "vault", Reason: "found in Vault by a membership sync: changed outside mattersync-admin"})
		}
		r.Err = err
		if err != nil {
			failed++
			s.report(Step{Name: "membership sync " + m, Err: err})
		} else {
			s.report(Step{Name: "membership sync " + m, Detail: describeChanges(r.Changes)})
		}
		out = append(out, r)
	}
	if failed > 0 {
		return out, fault.Errorf(fault.Incomplete, "membership sync: %d of %d matters not recorded", failed, len(matters))
	}
	return out, nil
}

// MembershipHistory returns a matter's recorded membership changes.
func (s *Session) MembershipHistory(ctx context.Context, matter string) ([]api.MembershipChange, error) {
	mem, err := s.memberships(ctx)
	if err != nil {
		return nil, err
	}
	if s.Vault != nil {
		if err := s.RequireMatter(ctx, matter); err != nil {
			return nil, err
		}
	}
	return mem.MembershipHistory(ctx, matter)
}

// Holder is one entity's access to a matter at a time.
type Holder struct {
	Entity string
	Name   string
	// Roles held then (rw, ro, screened), sorted.
	Roles []string
	// CouldOpen: rw or ro, not screened, not revoked then.
	CouldOpen bool
	// Since is when the entity's current state began (its last change).
	Since time.Time
	// Source and Reason are those of that change (admin, vault,
	// baseline).
	Source, Reason, By string
	// Revoked is when the entity was put on the deny list, if before the
	// time asked about (and still on it).
	Revoked time.Time
}

// WhoCouldOpen is the answer of report who-could-open.
type WhoCouldOpen struct {
	Matter string
	At     time.Time
	// HistoryStart is when the matter's history began: before it, only
	// the baseline is known. Zero if there is no history.
	HistoryStart time.Time
	// Holders are every entity that was in one of the matter's groups at
	// At, could-open first.
	Holders []Holder
}

// WhoCouldOpen answers from the membership history who could open matter
// at time at: members rw or ro, not screened, not revoked then.
func (s *Session) WhoCouldOpen(ctx context.Context, matter string, at time.Time) (WhoCouldOpen, error) {
	res := WhoCouldOpen{Matter: matter, At: at}
	hist, err := s.MembershipHistory(ctx, matter)
	if err != nil {
		return res, err
	}
	if len(hist) == 0 {
		return res, fault.Errorf(fault.NotFound, "matter %s has no membership history at the gateway: run `mattersync-admin membership sync %s` (history starts then)", matter, matter)
	}
	res.HistoryStart = hist[0].Time
	if at.Before(res.HistoryStart) {
		return res, fault.Errorf(fault.Invalid, "matter %s's membership history begins at %s, after %s: who could open it before is not known to mattersync (Vault's audit device log may tell)",
			matter, res.HistoryStart.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	type state struct {
		h     Holder
		roles map[string]bool
	}
	by := map[string]*state{}
	for _, c := range hist {
		if c.Entity == "" || c.Time.After(at) {
			continue
		}
		st := by[c.Entity]
		if st == nil {
			st = &state{roles: map[string]bool{}}
			by[c.Entity] = st
		}
		st.roles[c.Role] = c.Added
		st.h.Entity, st.h.Name, st.h.Since, st.h.Source, st.h.Reason, st.h.By = c.Entity, c.Name, c.Time, c.Source, c.Reason, c.By
	}
	revoked := map[string]time.Time{}
	if gw, err := s.gateway(ctx); err == nil {
		if dl, err := gw.Denials(ctx); err == nil {
			for _, d := range dl.Entries {
				if !d.Time.After(at) {
					revoked[d.EntityID] = d.Time
				}
			}
		}
	}
	for _, st := range by {
		for r, in := range st.roles {
			if in {
				st.h.Roles = append(st.h.Roles, r)
			}
		}
		if len(st.h.Roles) == 0 {
			continue
		}
		slices.Sort(st.h.Roles)
		st.h.Revoked = revoked[st.h.Entity]
		screened := slices.Contains(st.h.Roles, "screened")
		st.h.CouldOpen = !screened && st.h.Revoked.IsZero() && (slices.Contains(st.h.Roles, "rw") || slices.Contains(st.h.Roles, "ro"))
		res.Holders = append(res.Holders, st.h)
	}
	slices.SortFunc(res.Holders, func(a, b Holder) int {
		if a.CouldOpen != b.CouldOpen {
			if a.CouldOpen {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return res, nil
}

// firstNonEmpty returns the first of ss that is not empty.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
