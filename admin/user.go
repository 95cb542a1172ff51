package admin

// Users are Vault identity entities (kms); revoking one reaches the
// gateway too: its deny list, and the epochs of the matters rotated.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// UserOptions tune CreateUser.
type UserOptions struct {
	// Password of the userpass login; empty: a random one is generated
	// and returned, once.
	Password string
	// Admin adds the user to kms.AdminGroup.
	Admin bool
	// SSOLogin, if set, is the user's sign-in at the firm's identity
	// provider (kms.Admin.LinkSSO); then no userpass login is made unless
	// Password is set.
	SSOLogin string
}

// NewUser is a created user.
type NewUser struct {
	kms.User
	// Password is the generated password, to hand over securely; empty if
	// UserOptions.Password was set.
	Password string
}

// CreateUser creates a Vault entity named name with the agent policy, a
// userpass login of the same name, and the alias tying them.
func (s *Session) CreateUser(ctx context.Context, name string, opt UserOptions) (NewUser, error) {
	pw, generated := opt.Password, ""
	if pw == "" && opt.SSOLogin == "" {
		b := make([]byte, 18)
		rand.Read(b) // never fails (crypto/rand)
		pw = base64.RawURLEncoding.EncodeToString(b)
		generated = pw
	}
	u, err := s.Vault.CreateUser(ctx, name, kms.UserOptions{Password: pw, Admin: opt.Admin, SSOLogin: opt.SSOLogin})
	if err != nil {
		return NewUser{}, err
	}
	return NewUser{User: u, Password: generated}, nil
}

// ListUsers returns every user (Vault entity).
func (s *Session) ListUsers(ctx context.Context) ([]kms.User, error) {
	return s.Vault.ListUsers(ctx)
}

// User returns one user, with their groups and so their matters.
func (s *Session) User(ctx context.Context, name string) (kms.User, error) {
	return s.Vault.User(ctx, name)
}

// SetAdmin adds user to kms.AdminGroup (admin true) or removes them; it
// reports whether anything changed.
func (s *Session) SetAdmin(ctx context.Context, user string, admin bool) (bool, error) {
	return s.Vault.SetAdmin(ctx, user, admin)
}

// RotatedMatter is a matter rotated by a revocation.
type RotatedMatter struct {
	Matter string
	Epoch  uint32 // the epoch created for the revocation
}

// Revocation is what Revoke did. Rotated holds only the rotations this
// run made.
type Revocation struct {
	User   kms.User
	Groups []string // the groups the user was removed from, over every run
	// Rotated: the matters this run rotated, by matter ID.
	Rotated []RotatedMatter
	// RotatedEarlier: the matters an earlier run of this same revocation
	// rotated, not rotated again (the user had no access since).
	RotatedEarlier []RotatedMatter
	// NotRotated: the matters whose rotation failed; re-run.
	NotRotated []string
	// Reinstated: the user had been revoked before and let back in since;
	// this is a new revocation.
	Reinstated bool
}

// Revoke cuts a user off everywhere, running every step even if one fails
// and safe to re-run: (1) the gateway's deny list, which also tells the
// user's devices to wipe; (2) in Vault, disable the entity, revoke its
// login tokens, delete its userpass login; (3) remove it from every
// matter group and the admin group; (4) rotate every matter it could
// read since the last rotation (a re-run does not rotate twice, a
// revocation after a reinstatement does); (5) tell the gateway each
// matter's new epoch. The error is that of the
// first failed Vault step, else fault.Incomplete if only gateway steps
// failed (or no gateway is configured), naming the repair. The result is
// set as far as the revocation got, unless the user was not found.
func (s *Session) Revoke(ctx context.Context, name, reason string) (Revocation, error) {
	u, err := s.Vault.User(ctx, name)
	if err != nil {
		return Revocation{}, err
	}
	s.note("revoking %s (entity %s):", name, u.EntityID)
	const denyStep = "gateway deny list and device wipe"
	gwErr := s.deny(ctx, u, reason)
	if gwErr != nil {
		s.report(Step{Name: denyStep, Err: gwErr})
	} else {
		s.report(Step{Name: denyStep, Detail: "denied at " + s.GatewayURL})
	}
	rep, err := s.Vault.Revoke(ctx, name, s.kmsProgress())
	rv := Revocation{User: u, Groups: rep.Groups, Rotated: rotatedList(rep.Rotated), RotatedEarlier: rotatedList(rep.RotatedEarlier),
		NotRotated: rep.NotRotated, Reinstated: rep.Reinstated}
	// The user's old epoch keys must stop working for uploads now, not
	// when their agents' caches expire.
	var epochFailed []string
	// An earlier run's epochs too: that run's gateway step may have failed
	// (setting an epoch again changes nothing).
	for _, r := range append(slices.Clone(rv.Rotated), rv.RotatedEarlier...) {
		if err := s.gatewayEpoch(ctx, r.Matter, r.Epoch); err != nil {
			epochFailed = append(epochFailed, fmt.Sprintf("`mattersync-admin epoch set %s %d`", r.Matter, r.Epoch))
		}
	}
	switch {
	case err != nil:
		return rv, fmt.Errorf("REVOCATION INCOMPLETE, re-run when fixed: %w", err)
	case gwErr != nil:
		also := ""
		if len(epochFailed) > 0 {
			also = "; the gateway epoch step failed too: run " + strings.Join(epochFailed, ", ")
		}
		return rv, fault.Errorf(fault.Incomplete, "REVOCATION INCOMPLETE: Vault steps done, gateway deny list step failed: %w; until it is done, identity tokens already issued to %s stay valid at the gateway for up to their lifetime and devices are not told to wipe%s", gwErr, name, also)
	case len(epochFailed) > 0:
		return rv, fault.Errorf(fault.Incomplete, "REVOCATION INCOMPLETE: Vault and deny list steps done, gateway epoch step failed for %d matters; until it is done, agents with cached keys of the old epochs can still upload there: run %s", len(epochFailed), strings.Join(epochFailed, ", "))
	}
	return rv, nil
}

func rotatedList(m map[string]uint32) []RotatedMatter {
	var out []RotatedMatter
	for id, e := range m {
		out = append(out, RotatedMatter{id, e})
	}
	slices.SortFunc(out, func(a, b RotatedMatter) int { return strings.Compare(a.Matter, b.Matter) })
	return out
}

// ReinstateOptions tune Reinstate.
type ReinstateOptions struct {
	// Password of the recreated userpass login; empty: a random one is
	// generated and returned, once. Users of other logins have none.
	Password string
}

// Reinstated is what Reinstate did.
type Reinstated struct {
	kms.Reinstatement
	// Password is the generated password, to hand over securely; empty if
	// ReinstateOptions.Password was set or the user has no userpass login.
	Password string
}

// Reinstate lets a revoked user back in: in Vault it enables the entity
// and recreates their userpass login; at the gateway it takes them off
// the deny list. It grants nothing: the result lists the groups the last
// revocation removed, for the admin to grant again what still applies. A
// later revocation of the user is a new one and rotates again. Safe to
// re-run. If only the gateway step failed (or no gateway is configured)
// the error is fault.Incomplete, naming the repair.
func (s *Session) Reinstate(ctx context.Context, name string, opt ReinstateOptions) (Reinstated, error) {
	u, err := s.Vault.User(ctx, name)
	if err != nil {
		return Reinstated{}, err
	}
	pw, generated := opt.Password, ""
	if pw == "" && hasUserpass(u, s.Vault.Layout().Userpass) {
		b := make([]byte, 18)
		rand.Read(b) // never fails (crypto/rand)
		pw = base64.RawURLEncoding.EncodeToString(b)
		generated = pw
	}
	s.note("reinstating %s (entity %s):", name, u.EntityID)
	res, err := s.Vault.Reinstate(ctx, name, pw)
	out := Reinstated{Reinstatement: res, Password: generated}
	if err != nil {
		s.report(Step{Name: "Vault entity and login", Err: err})
		return out, err
	}
	detail := "entity enabled"
	if !res.Enabled {
		detail = "entity already enabled"
	}
	if res.PasswordSet {
		detail += ", userpass login " + name + " recreated"
	}
	s.report(Step{Name: "Vault entity and login", Detail: detail})

	const step = "gateway deny list"
	gw, err := s.gateway(ctx)
	if errors.Is(err, ErrNoGateway) {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("%v: the gateway still refuses %s", err, name)})
		return out, fault.Errorf(fault.Incomplete, "INCOMPLETE: %s is enabled in Vault, but the gateway still refuses them (%w): run `mattersync-admin deny remove %s`", name, err, u.EntityID)
	}
	if err == nil {
		err = gw.Undeny(ctx, u.EntityID)
	}
	switch {
	case fault.Of(err) == fault.NotFound:
		s.report(Step{Name: step, Detail: "not on it"})
	case err != nil:
		err = fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
		s.report(Step{Name: step, Err: err})
		return out, fault.Errorf(fault.Incomplete, "INCOMPLETE: %s is enabled in Vault, but the gateway deny list step failed: %w; run `mattersync-admin deny remove %s`", name, err, u.EntityID)
	default:
		s.report(Step{Name: step, Detail: "removed at " + s.GatewayURL})
	}
	return out, nil
}

func hasUserpass(u kms.User, mount string) bool {
	for _, al := range u.Aliases {
		if al.MountType == "userpass" && strings.TrimSuffix(al.MountPath, "/") == "auth/"+mount {
			return true
		}
	}
	return false
}
