package store

import "time"

// Sources of a membership change: who or what saw it happen.
const (
	// SourceAdmin: made with mattersync-admin, which told the gateway.
	SourceAdmin = "admin"
	// SourceVault: found in Vault by a membership sync, not recorded when
	// made: someone changed Vault's groups outside mattersync-admin.
	SourceVault = "vault"
	// SourceBaseline: the membership a matter had when its history began
	// (its first snapshot); earlier changes are unknown.
	SourceBaseline = "baseline"
)

// Member is one member of a matter in a membership snapshot: an entity in
// the matter's group of Role (rw, ro or screened).
type Member struct {
	Entity string
	Name   string
	Role   string
}

// MembershipChange is one recorded change of a matter's membership: an
// entity added to (Added) or taken out of a role's group. The first
// change of a matter's history is a marker with no Entity: history begins
// at its time.
type MembershipChange struct {
	Matter string
	N      int64 // 1, 2, ... per matter, in order
	Entity string
	Name   string
	Role   string
	Added  bool
	Source string // SourceAdmin, SourceVault or SourceBaseline
	By     string // who made it (admin) or whose sync found it
	Reason string
	Time   time.Time
}

// MembershipSnapshot is a matter's whole membership as Vault has it now,
// to be recorded: the store records the differences from what it recorded
// before.
type MembershipSnapshot struct {
	Matter  string
	Members []Member
	// Subject is the entity the admin changed (its changes are
	// SourceAdmin; any other difference found is SourceVault, or
	// SourceBaseline when the matter has no history yet).
	Subject string
	// Source is SourceAdmin (the admin tool after a change) or
	// SourceVault (a sync).
	Source string
	By     string
	Reason string
	Time   time.Time
}
