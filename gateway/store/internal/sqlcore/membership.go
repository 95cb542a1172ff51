package sqlcore

// Membership history: the differences between a matter's membership
// snapshots, recorded with who, when, why and how they were seen.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

const membershipCols = `matter, n, entity, name, role, added, source, changed_by, reason, time_us`

func scanMembershipChange(sc Scanner) (store.MembershipChange, error) {
	var c store.MembershipChange
	var us int64
	err := sc.Scan(&c.Matter, &c.N, &c.Entity, &c.Name, &c.Role, &c.Added, &c.Source, &c.By, &c.Reason, &us)
	c.Time = store.FromMicros(us)
	return c, err
}

// RecordMembership records the differences between snap and the
// membership recorded so far for its matter, with the audit record rec
// (whose Object it sets to a summary), in one transaction. It returns the
// changes recorded (none if nothing changed: rec is still appended).
func (s *Store) RecordMembership(ctx context.Context, snap store.MembershipSnapshot, rec *audit.Record) ([]store.MembershipChange, error) {
	var out []store.MembershipChange
	err := s.db.Write(ctx, func(tx Querier) error {
		out = nil
		if err := ensureMatter(ctx, tx, snap.Matter); err != nil {
			return err
		}
		// Lock the matter's row (or the engine has one writer): the
		// history numbers of one matter are taken in turn.
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM matters WHERE id = $1`+s.d.RowLock, snap.Matter).Scan(&id); err != nil {
			return err
		}
		hist, err := queryAll(ctx, tx, nil, scanMembershipChange, `SELECT `+membershipCols+` FROM membership_history WHERE matter = $1 ORDER BY n`, snap.Matter)
		if err != nil {
			return err
		}
		type key struct{ entity, role string }
		cur := map[key]store.MembershipChange{}
		for _, c := range hist {
			if c.Entity == "" {
				continue
			}
			if c.Added {
				cur[key{c.Entity, c.Role}] = c
			} else {
				delete(cur, key{c.Entity, c.Role})
			}
		}
		n := int64(len(hist))
		add := func(c store.MembershipChange) {
			n++
			c.Matter, c.N, c.By, c.Time = snap.Matter, n, snap.By, snap.Time
			out = append(out, c)
		}
		first := len(hist) == 0
		if first {
			add(store.MembershipChange{Source: store.SourceBaseline, Reason: "membership history begins"})
		}
		source := func(entity string) string {
			switch {
			case snap.Source == store.SourceAdmin && entity == snap.Subject:
				return store.SourceAdmin
			case first:
				return store.SourceBaseline
			}
			return store.SourceVault
		}
		reason := func(src string) string {
			switch src {
			case store.SourceBaseline:
				return "member when the matter's membership history began"
			case store.SourceVault:
				if snap.Source == store.SourceVault && snap.Reason != "" {
					return snap.Reason
				}
				return "found changed in Vault outside mattersync-admin"
			}
			return snap.Reason
		}
		want := map[key]store.Member{}
		members := slices.Clone(snap.Members)
		slices.SortFunc(members, func(a, b store.Member) int {
			return strings.Compare(a.Role+"/"+a.Name+"/"+a.Entity, b.Role+"/"+b.Name+"/"+b.Entity)
		})
		for _, m := range members {
			k := key{m.Entity, m.Role}
			want[k] = m
			if _, ok := cur[k]; !ok {
				src := source(m.Entity)
				add(store.MembershipChange{Entity: m.Entity, Name: m.Name, Role: m.Role, Added: true, Source: src, Reason: reason(src)})
			}
		}
		gone := make([]store.MembershipChange, 0)
		for k, c := range cur {
			if _, ok := want[k]; !ok {
				gone = append(gone, c)
			}
		}
		slices.SortFunc(gone, func(a, b store.MembershipChange) int { return int(a.N - b.N) })
		for _, c := range gone {
			src := source(c.Entity)
			if src == store.SourceBaseline {
				src = store.SourceVault
			}
			add(store.MembershipChange{Entity: c.Entity, Name: c.Name, Role: c.Role, Source: src, Reason: reason(src)})
		}
		for _, c := range out {
			if _, err := tx.Exec(ctx, `INSERT INTO membership_history (`+membershipCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				c.Matter, c.N, c.Entity, c.Name, c.Role, c.Added, c.Source, c.By, c.Reason, store.Micros(c.Time)); err != nil {
				return err
			}
		}
		rec.Object = membershipSummary(out, snap.Reason)
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, s.wrap("record membership", err)
	}
	return out, nil
}

// membershipSummary is the audit record's object: the changes, bounded.
func membershipSummary(cs []store.MembershipChange, reason string) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Entity == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		sign := "-"
		if c.Added {
			sign = "+"
		}
		fmt.Fprintf(&b, "%s%s:%s(%s)", sign, c.Role, c.Name, c.Source)
	}
	if b.Len() == 0 {
		b.WriteString("unchanged")
	}
	if reason != "" {
		fmt.Fprintf(&b, " reason=%q", reason)
	}
	s := b.String()
	if len(s) > 1000 {
		s = s[:1000] + "..."
	}
	return s
}

// MembershipHistory returns a matter's recorded changes in order (all
// matters' when matter is "").
func (s *Store) MembershipHistory(ctx context.Context, matter string) ([]store.MembershipChange, error) {
	q, args := `SELECT `+membershipCols+` FROM membership_history ORDER BY time_us, matter, n`, []any(nil)
	if matter != "" {
		q, args = `SELECT `+membershipCols+` FROM membership_history WHERE matter = $1 ORDER BY n`, []any{matter}
	}
	out, err := queryAll(ctx, s.db.Read(), nil, scanMembershipChange, q, args...)
	if err != nil {
		return nil, s.wrap("membership history", err)
	}
	return out, nil
}
