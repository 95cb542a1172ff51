package kms

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mattersync/mattersync/format"
)

// Role is a member's role in a matter, carried by the Vault group the
// member's entity belongs to.
type Role string

// Roles. Screened is an ethical wall: it beats any grant, at the gateway
// (from the groups claim) and in Vault (a deny policy).
const (
	RoleRW       Role = "rw"
	RoleRO       Role = "ro"
	RoleScreened Role = "screened"
)

// ParseRole parses "rw", "ro" or "screened".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleRW, RoleRO, RoleScreened:
		return r, nil
	}
	return "", errorf("parse role", Invalid, "role %q: want rw, ro or screened", s)
}

// AdminGroup is the Vault identity group whose members administer
// mattersync: the gateway's admin API requires it in the groups claim.
const AdminGroup = "mattersync-admins"

// MatterGroup returns the Vault identity group name for role in matter:
// matter-<id>-rw, matter-<id>-ro or matter-<id>-screened.
func MatterGroup(matter string, r Role) string { return "matter-" + matter + "-" + string(r) }

// ParseMatterGroup is the inverse of MatterGroup: it reports the matter and
// role a group name stands for, and false for any other group. The gateway
// derives matter roles from the groups claim with it.
func ParseMatterGroup(group string) (matter string, r Role, ok bool) {
	rest, ok := strings.CutPrefix(group, "matter-")
	if !ok {
		return "", "", false
	}
	// The role is the last dash-separated part; matter IDs may contain '-'.
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", "", false
	}
	matter, r = rest[:i], Role(rest[i+1:])
	if r != RoleRW && r != RoleRO && r != RoleScreened {
		return "", "", false
	}
	if format.ValidateMatterID(matter) != nil {
		return "", "", false
	}
	return matter, r, true
}

// userRE is the user (Vault entity) name rule: lowercase because userpass
// lowercases logins, and no '/' because names are path segments.
var userRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidateUserName reports whether name can be a mattersync user: 1 to 64
// characters of a-z 0-9 . _ @ -, starting with a letter or digit.
func ValidateUserName(name string) error {
	if !userRE.MatchString(name) {
		return errorf("validate user", Invalid, "user name %q: use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit", name)
	}
	return nil
}

func validateMatter(op, id string) error {
	if err := format.ValidateMatterID(id); err != nil {
		return &Error{Op: op, Kind: Invalid, Err: err}
	}
	return nil
}

// Vault paths and names derived from the layout. Kept together so the
// layout documented in docs/VAULT.md is visible in one place.

func (l Layout) transitKey(matter string) string { return "matter-" + matter }

func (l Layout) transitPath(action, matter string) string {
	return l.Transit + "/" + action + "/" + l.transitKey(matter)
}

func (l Layout) kvData(rel string) string     { return l.KV + "/data/" + rel }
func (l Layout) kvMetadata(rel string) string { return l.KV + "/metadata/" + rel }

func metaKey(matter string) string     { return "matters/" + matter + "/meta" }
func epochsKey(matter string) string   { return "matters/" + matter + "/epochs" }
func revocationKey(user string) string { return "revocations/" + user }

func (l Layout) agentPolicy() string { return l.Name + "-agent" }
func (l Layout) adminPolicy() string { return l.Name + "-admin" }
func (l Layout) matterPolicy(matter string) string {
	return fmt.Sprintf("%s-matter-%s", l.Name, matter)
}
func (l Layout) screenedPolicy(matter string) string { return l.matterPolicy(matter) + "-screened" }

func (l Layout) tokenPath() string { return "identity/oidc/token/" + l.Name }
