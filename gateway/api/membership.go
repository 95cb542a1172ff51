package api

import "time"

// Member is one member of a matter in a membership snapshot: a Vault
// entity in the matter's group of Role ("rw", "ro" or "screened").
type Member struct {
	Entity string `json:"entity"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

// MembershipSnapshot is the body of PUT /v1/admin/matters/{m}/members:
// the matter's whole membership as Vault has it now. The gateway records
// the differences from what it recorded before.
type MembershipSnapshot struct {
	Members []Member `json:"members"`
	// Subject is the entity the admin just changed; its differences are
	// recorded as the admin's, any other as found in Vault.
	Subject string `json:"subject,omitempty"`
	// Source is "admin" (mattersync-admin after a change) or "vault" (a
	// membership sync).
	Source string `json:"source"`
	Reason string `json:"reason,omitempty"`
}

// MembershipChange is one recorded change of a matter's membership: an
// entity added to (Added) or taken out of a role. A change with no Entity
// marks the start of the matter's history.
type MembershipChange struct {
	Matter string    `json:"matter"`
	N      int64     `json:"n"`
	Entity string    `json:"entity,omitempty"`
	Name   string    `json:"name,omitempty"`
	Role   string    `json:"role,omitempty"`
	Added  bool      `json:"added"`
	Source string    `json:"source"` // admin, vault, baseline
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
}

// MembershipHistory answers GET /v1/admin/matters/{m}/members/history and
// PUT /v1/admin/matters/{m}/members (the changes it recorded).
type MembershipHistory struct {
	Matter  string             `json:"matter"`
	Changes []MembershipChange `json:"changes"`
}
