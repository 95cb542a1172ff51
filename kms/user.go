package kms

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// User is a Vault identity entity as mattersync sees it: the entity name is
// the user name ("username" claim), its ID the "sub" claim.
type User struct {
	Name     string
	EntityID string
	Disabled bool     // revoked
	Policies []string // the entity's own policies (not its groups')
	Groups   []string // names of the groups it is a direct member of
	Aliases  []Alias  // its logins
	MFA      bool     // `user mfa enroll` gave it a TOTP secret (entity metadata)
}

// Alias is one login of a user: an auth method mount and the name there.
type Alias struct {
	MountPath string // e.g. "auth/userpass/"
	MountType string // e.g. "userpass", "oidc", "ldap"
	Name      string
}

// Admin reports whether u is in mattersync-admins.
func (u User) Admin() bool { return slices.Contains(u.Groups, AdminGroup) }

// Membership is a user's role in one matter.
type Membership struct {
	Matter string
	Role   Role
}

// Matters returns u's matter memberships (screened ones included), sorted.
func (u User) Matters() []Membership {
	var out []Membership
	for _, g := range u.Groups {
		if m, r, ok := ParseMatterGroup(g); ok {
			out = append(out, Membership{Matter: m, Role: r})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Matter != out[j].Matter {
			return out[i].Matter < out[j].Matter
		}
		return out[i].Role < out[j].Role
	})
	return out
}

func (u User) role(matter string, r Role) bool {
	return slices.Contains(u.Groups, MatterGroup(matter, r))
}

// UserOptions tune CreateUser.
type UserOptions struct {
	// Password for the userpass login; required unless SSOLogin is set
	// (then empty means no userpass login). The caller generates or reads
	// it; kms never logs it.
	Password string
	// SSOLogin, if set, is the user's sign-in at the identity provider
	// (the OIDC role's user claim, e.g. alice@firm.example): LinkSSO.
	SSOLogin string
	// Admin adds the user to mattersync-admins.
	Admin bool
	// TokenTTL and TokenMaxTTL bound the user's Vault tokens; zero means 1h
	// and 24h. The agent renews up to the max, then logs in again.
	TokenTTL, TokenMaxTTL time.Duration
}

// CreateUser creates user name: a Vault entity named exactly name with the
// <name>-agent policy, a userpass login with the same name, and the alias
// tying the login to the entity. An existing entity or login is an Conflict
// error and nothing changes.
func (a *Admin) CreateUser(ctx context.Context, name string, opt UserOptions) (User, error) {
	op := "create user " + name
	l := a.s.layout
	if err := ValidateUserName(name); err != nil {
		return User{}, err
	}
	userpass := opt.Password != "" || opt.SSOLogin == ""
	if userpass && len(opt.Password) < 12 {
		return User{}, errorf(op, Invalid, "password must be at least 12 characters")
	}
	ttl, maxTTL := opt.TokenTTL, opt.TokenMaxTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	if maxTTL == 0 {
		maxTTL = 24 * time.Hour
	}
	if sec, err := a.s.readOpt(ctx, op, "identity/entity/name/"+name); err != nil {
		return User{}, err
	} else if sec != nil {
		return User{}, errorf(op, Conflict, "user %s already exists", name)
	}
	var accessor string
	if userpass {
		acc, typ, err := a.authMount(ctx, l.Userpass)
		if err != nil {
			return User{}, err
		}
		if acc == "" || typ != "userpass" {
			return User{}, errorf(op, NotFound, "no userpass auth method at auth/%s (run `vault init --userpass`)", l.Userpass)
		}
		accessor = acc
		if sec, err := a.s.readOpt(ctx, op, "auth/"+l.Userpass+"/users/"+name); err != nil {
			return User{}, err
		} else if sec != nil {
			return User{}, errorf(op, Conflict, "userpass login %s already exists", name)
		}
	} else if acc, typ, err := a.authMount(ctx, l.OIDCMount()); err != nil {
		return User{}, err
	} else if acc == "" || typ != "oidc" {
		return User{}, errorf(op, NotFound, "no OIDC auth method at auth/%s (run `vault init --oidc-discovery-url ...`)", l.OIDCMount())
	}
	sec, err := a.s.write(ctx, op, "identity/entity", map[string]any{
		"name":     name,
		"policies": []string{l.agentPolicy()},
		"metadata": map[string]string{"created_by": "mattersync"},
	})
	if err != nil {
		return User{}, err
	}
	if sec == nil {
		return User{}, errorf(op, Other, "Vault returned no entity")
	}
	id, _ := sec.Data["id"].(string)
	if userpass {
		if _, err := a.s.write(ctx, op, "identity/entity-alias", map[string]any{"name": name, "canonical_id": id, "mount_accessor": accessor}); err != nil {
			return User{}, err
		}
		if _, err := a.s.write(ctx, op, "auth/"+l.Userpass+"/users/"+name, map[string]any{
			"password":      opt.Password,
			"token_ttl":     int(ttl.Seconds()),
			"token_max_ttl": int(maxTTL.Seconds()),
		}); err != nil {
			return User{}, err
		}
	}
	if opt.SSOLogin != "" {
		if err := a.LinkSSO(ctx, name, opt.SSOLogin); err != nil {
			return User{}, err
		}
	}
	if opt.Admin {
		if _, err := a.setMember(ctx, op, AdminGroup, id, true); err != nil {
			if KindOf(err) == NotFound {
				err = errorf(op, NotFound, "group %s does not exist (run `vault init`)", AdminGroup)
			}
			return User{}, err
		}
	}
	return a.User(ctx, name)
}

// User looks up user name; an unknown user is NotFound.
func (a *Admin) User(ctx context.Context, name string) (User, error) {
	op := "user " + name
	if err := ValidateUserName(name); err != nil {
		return User{}, err
	}
	sec, err := a.s.readOpt(ctx, op, "identity/entity/name/"+name)
	if err != nil {
		return User{}, err
	}
	if sec == nil {
		return User{}, errorf(op, NotFound, "no such user %s", name)
	}
	return a.userFrom(ctx, op, sec.Data)
}

// UserByID looks up a user by entity ID; an unknown ID is NotFound. The
// entity's name may be one mattersync would not create (e.g. an OIDC
// login's entity_1a2b...).
func (a *Admin) UserByID(ctx context.Context, entityID string) (User, error) {
	op := "entity " + entityID
	if entityID == "" || strings.ContainsAny(entityID, "/?#%") {
		return User{}, errorf(op, Invalid, "entity ID %q: want a Vault entity ID such as 390b3f34-4ec8-31ba-9e52-3dfbac919fcb", entityID)
	}
	sec, err := a.s.readOpt(ctx, op, "identity/entity/id/"+entityID)
	if err != nil {
		return User{}, err
	}
	if sec == nil {
		return User{}, errorf(op, NotFound, "no such entity %s", entityID)
	}
	return a.userFrom(ctx, op, sec.Data)
}

// userFrom reads a user from an identity/entity answer.
func (a *Admin) userFrom(ctx context.Context, op string, data map[string]any) (User, error) {
	var u User
	u.Name, _ = data["name"].(string)
	u.Policies = stringList(data["policies"])
	u.EntityID, _ = data["id"].(string)
	u.Disabled, _ = data["disabled"].(bool)
	if md, ok := data["metadata"].(map[string]any); ok {
		_, u.MFA = md[mfaMetadata]
	}
	for _, gid := range stringList(data["direct_group_ids"]) {
		g, err := a.s.readOpt(ctx, op, "identity/group/id/"+gid)
		if err != nil {
			return User{}, err
		}
		if g != nil {
			if n, _ := g.Data["name"].(string); n != "" {
				u.Groups = append(u.Groups, n)
			}
		}
	}
	sort.Strings(u.Groups)
	raw, _ := data["aliases"].([]any)
	for _, r := range raw {
		m, _ := r.(map[string]any)
		var al Alias
		al.MountPath, _ = m["mount_path"].(string)
		al.MountType, _ = m["mount_type"].(string)
		al.Name, _ = m["name"].(string)
		u.Aliases = append(u.Aliases, al)
	}
	return u, nil
}

// SetAdmin adds user to mattersync-admins (or removes them) and reports
// whether membership changed: for users who log in through OIDC or LDAP,
// whose entities `user create` did not make.
func (a *Admin) SetAdmin(ctx context.Context, user string, admin bool) (bool, error) {
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	return a.setMember(ctx, fmt.Sprintf("set admin %s", user), AdminGroup, u.EntityID, admin)
}

// ListUsers lists every Vault entity (users created by mattersync and
// those created by the firm's OIDC/LDAP logins), sorted by name.
func (a *Admin) ListUsers(ctx context.Context) ([]User, error) {
	names, err := a.s.list(ctx, "list users", "identity/entity/name")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]User, 0, len(names))
	for _, n := range names {
		if ValidateUserName(n) != nil {
			continue // not a name mattersync could manage, e.g. entity_1a2b...
		}
		u, err := a.User(ctx, n)
		if KindOf(err) == NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// revocation is the KV v2 secret revocations/<user>: what the current
// revocation of the user removed and rotated, so a re-run (after a partial
// failure) knows which matters still need a rotation even though the
// memberships are gone. A user reinstated since (entity enabled again)
// starts a new revocation: its predecessors move to Earlier.
type revocation struct {
	EntityID string            `json:"entity_id"`
	Revoked  string            `json:"revoked"`
	Groups   []string          `json:"groups"`
	Rotated  map[string]uint32 `json:"rotated"`
	// Format 2 records say whether this revocation disabled the entity;
	// format 0 (older) ones always did unless a step failed.
	Format   int  `json:"format,omitempty"`
	Disabled bool `json:"disabled,omitempty"`
	// Complete: every Vault step of this revocation succeeded.
	Complete bool                `json:"complete,omitempty"`
	Earlier  []earlierRevocation `json:"earlier,omitempty"`
}

// earlierRevocation is a revocation the user was reinstated after.
type earlierRevocation struct {
	Revoked string            `json:"revoked"`
	Groups  []string          `json:"groups"`
	Rotated map[string]uint32 `json:"rotated"`
	// Reinstated is when Revoke found the user reinstated (not when the
	// admin reinstated them: Vault does not record that).
	Reinstated string `json:"reinstated_seen"`
}

const revocationFormat = 2

// reinstated reports whether the user was let back in since rec's
// revocation: it disabled the entity, and the entity is enabled again.
func (rec revocation) reinstated(u User) bool {
	if rec.Revoked == "" || u.Disabled {
		return false
	}
	return rec.Disabled || rec.Format < revocationFormat
}

// RevokeReport is what Revoke did. A rotation is reported in Rotated only
// by the run that made it.
type RevokeReport struct {
	User     string
	EntityID string
	// Revoked is when this revocation started (its first run), RFC 3339.
	Revoked string
	// Groups the user was removed from by this revocation, over every run.
	Groups []string
	// Rotated: matter -> the epoch this run created.
	Rotated map[string]uint32
	// RotatedEarlier: matter -> the epoch an earlier run of this same
	// revocation created; not rotated again, the user having had no
	// access since.
	RotatedEarlier map[string]uint32
	// NotRotated lists the matters whose rotation failed: re-run.
	NotRotated []string
	// Reinstated: an earlier revocation of this user was found, and the
	// user had been let back in since; this is a new revocation, which
	// rotates every matter they can read again.
	Reinstated bool
	Steps      []Step
}

// Revoke cuts user off in Vault: it disables the entity (its tokens stop
// working at once, no more identity tokens), revokes the tokens its
// userpass/LDAP logins obtained and deletes its userpass login, removes it
// from every matter group and mattersync-admins (recording which in KV),
// and rotates every matter it could read. It runs every step even if one
// fails, is safe to re-run, and returns an error naming the failed steps.
// A re-run does not rotate a matter again unless the user became a member
// of it again; a revocation after the user was reinstated is a new one
// and rotates every matter they could read since.
// The gateway deny list and device wipe are the caller's (see
// cmd/mattersync-admin).
func (a *Admin) Revoke(ctx context.Context, user string, progress Progress) (RevokeReport, error) {
	op := "revoke " + user
	l := a.s.layout
	rep := RevokeReport{User: user, Rotated: map[string]uint32{}, RotatedEarlier: map[string]uint32{}}
	step := func(name, detail string, err error) {
		rep.Steps = append(rep.Steps, progress.report(Step{Name: name, Detail: detail, Err: err}))
	}
	u, err := a.User(ctx, user)
	if err != nil {
		step("look up user", "", err)
		return rep, err
	}
	rep.EntityID = u.EntityID

	// Record first: once memberships are gone, this is the only place that
	// says which matters must be rotated.
	var rec revocation
	recVersion, err := a.s.kvRead(ctx, op, revocationKey(user), &rec)
	if err != nil && KindOf(err) != NotFound {
		step("record memberships", "", err)
		return rep, joinSteps(op, rep.Steps)
	}
	now := nowString(a.s.now())
	note := ""
	switch {
	case rec.EntityID != "" && rec.EntityID != u.EntityID:
		// A new entity with the same name: a new person, a new record.
		rec = revocation{}
	case rec.reinstated(u):
		// Let back in since: whatever that revocation rotated, they may
		// have read its epochs since. A new revocation.
		rec.Earlier = append(rec.Earlier, earlierRevocation{Revoked: rec.Revoked, Groups: rec.Groups, Rotated: rec.Rotated, Reinstated: now})
		rec = revocation{Earlier: rec.Earlier}
		rep.Reinstated = true
		note = fmt.Sprintf(", a new revocation (%s was reinstated after the one of %s)", user, rec.Earlier[len(rec.Earlier)-1].Revoked)
	}
	if rec.Rotated == nil {
		rec.Rotated = map[string]uint32{}
	}
	rec.EntityID = u.EntityID
	if rec.Revoked == "" {
		rec.Revoked = now
		rec.Format = revocationFormat
	}
	rep.Revoked = rec.Revoked
	var current []string
	for _, g := range u.Groups {
		m, r, ok := ParseMatterGroup(g)
		if (ok && r != RoleScreened) || g == AdminGroup {
			current = append(current, g)
		}
		if ok && r != RoleScreened {
			// A member now, so after any rotation recorded for this
			// matter (rotations follow the removal): rotate again.
			delete(rec.Rotated, m)
		}
	}
	rec.Groups = union(rec.Groups, current)
	rec.Complete = false
	recVersion, err = a.s.kvWrite(ctx, op, revocationKey(user), recVersion, rec)
	step("record memberships", fmt.Sprintf("%d groups%s", len(rec.Groups), note), err)
	if err != nil {
		return rep, joinSteps(op, rep.Steps)
	}
	rep.Groups = rec.Groups

	_, err = a.s.write(ctx, op, "identity/entity/id/"+u.EntityID, map[string]any{"disabled": true})
	step("disable entity", "tokens and identity tokens refused from now on", err)
	if err == nil && !rec.Disabled {
		rec.Disabled = true
		recVersion, err = a.s.kvWrite(ctx, op, revocationKey(user), recVersion, rec)
		if err != nil {
			step("record entity disabled", "", err)
		}
	}

	for _, al := range u.Aliases {
		switch al.MountType {
		case "userpass", "ldap":
			prefix := strings.TrimSuffix(al.MountPath, "/") + "/login/" + al.Name
			_, err := a.s.write(ctx, op, "sys/leases/revoke-prefix/"+prefix, map[string]any{"sync": true})
			step("revoke tokens from "+prefix, "revoked", err)
		default:
			step("tokens from "+al.MountPath, "unusable (entity disabled); revoke at the identity provider too", nil)
		}
		if al.MountType == "userpass" && strings.TrimSuffix(al.MountPath, "/") == "auth/"+l.Userpass {
			err := a.s.delete(ctx, op, "auth/"+l.Userpass+"/users/"+url.PathEscape(al.Name))
			step("delete userpass login "+al.Name, "deleted", err)
		}
	}

	for _, g := range current {
		_, err := a.setMember(ctx, op, g, u.EntityID, false)
		step("remove from group "+g, "removed", err)
	}

	for _, g := range rec.Groups {
		m, _, ok := ParseMatterGroup(g)
		if !ok {
			continue
		}
		if e, done := rec.Rotated[m]; done {
			if e != 0 {
				rep.RotatedEarlier[m] = e
				step("rotate "+m, fmt.Sprintf("already rotated to epoch %d by an earlier run of this revocation", e), nil)
			}
			continue
		}
		rec.Rotated[m] = 0 // placeholder so the same matter rotates once per run
		res, err := a.Rotate(ctx, m, nil)
		if KindOf(err) == NotFound {
			step("rotate "+m, "matter gone or shredded: nothing to rotate", nil)
			continue
		}
		if err != nil {
			delete(rec.Rotated, m)
			rep.NotRotated = append(rep.NotRotated, m)
			step("rotate "+m, "", err)
			continue
		}
		rec.Rotated[m] = res.Epoch
		rep.Rotated[m] = res.Epoch
		recVersion, err = a.s.kvWrite(ctx, op, revocationKey(user), recVersion, rec)
		step("rotate "+m, fmt.Sprintf("epoch %d", res.Epoch), err)
	}
	if err := joinSteps(op, rep.Steps); err != nil {
		return rep, err
	}
	rec.Complete = true
	_, err = a.s.kvWrite(ctx, op, revocationKey(user), recVersion, rec)
	if err != nil {
		step("record revocation complete", "", err)
	}
	return rep, joinSteps(op, rep.Steps)
}

// Reinstatement is what Reinstate did.
type Reinstatement struct {
	User User
	// Enabled: the entity was disabled (revoked) and is enabled now.
	Enabled bool
	// PasswordSet: the userpass login was (re)created with the password.
	PasswordSet bool
	// FormerGroups are the groups the last revocation removed the user
	// from: Reinstate grants nothing, the admin decides what to grant.
	FormerGroups []string
}

// Reinstate lets a revoked user back in Vault (a revocation made by
// mistake, or someone rehired): it enables the entity and, for a user
// whose login is mattersync's userpass mount, recreates that login with
// password (the revocation deleted it). It grants no matter and no admin
// membership: the caller grants what they should have now. Safe to
// re-run. The gateway's deny list is the caller's.
func (a *Admin) Reinstate(ctx context.Context, user, password string) (Reinstatement, error) {
	op := "reinstate " + user
	l := a.s.layout
	u, err := a.User(ctx, user)
	if err != nil {
		return Reinstatement{}, err
	}
	var userpass bool
	for _, al := range u.Aliases {
		if al.MountType == "userpass" && strings.TrimSuffix(al.MountPath, "/") == "auth/"+l.Userpass {
			userpass = true
		}
	}
	switch {
	case userpass && len(password) < 12:
		return Reinstatement{}, errorf(op, Invalid, "%s logs in with userpass, whose login the revocation deleted: a new password of at least 12 characters is needed", user)
	case !userpass && password != "":
		return Reinstatement{}, errorf(op, Invalid, "%s has no login at auth/%s (an OIDC or LDAP user): there is no password to set; their identity provider lets them in", user, l.Userpass)
	}
	var rec revocation
	if _, err := a.s.kvRead(ctx, op, revocationKey(user), &rec); err != nil && KindOf(err) != NotFound {
		return Reinstatement{}, err
	}
	res := Reinstatement{}
	if rec.EntityID == u.EntityID {
		res.FormerGroups = rec.Groups
	}
	if u.Disabled {
		if _, err := a.s.write(ctx, op, "identity/entity/id/"+u.EntityID, map[string]any{"disabled": false}); err != nil {
			return res, err
		}
		res.Enabled = true
	}
	if userpass {
		if _, err := a.s.write(ctx, op, "auth/"+l.Userpass+"/users/"+url.PathEscape(user), map[string]any{
			"password":      password,
			"token_ttl":     int(time.Hour.Seconds()),
			"token_max_ttl": int((24 * time.Hour).Seconds()),
		}); err != nil {
			return res, err
		}
		res.PasswordSet = true
	}
	res.User, err = a.User(ctx, user)
	return res, err
}
