package kms

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Keyring is the agent's view of Vault: its login, identity tokens for the
// gateway, its matters, and their epoch keys, unwrapped in memory only.
//
// Epoch keys are fetched per matter, all epochs at once (one KV read and one
// batch transit decrypt), and kept for Config.KeyTTL; a file never causes a
// Vault call. A Keyring is safe for concurrent use; concurrent misses for
// one matter share one fetch.
type Keyring struct {
	s   *session
	ttl time.Duration

	mu      sync.Mutex // guards matters, gen and every matterKeys
	matters map[string]*matterKeys
	gen     uint64 // bumped by Wipe, so a fetch in flight cannot repopulate
}

// matterKeys is the cache entry of one matter; guarded by Keyring.mu.
type matterKeys struct {
	keys    map[uint32][]byte // unwrapped epoch keys
	current uint32
	fetched time.Time
	loading *fetchCall // non-nil while a fetch is in flight
}

// fetchCall is a fetch in flight; err is set before done is closed.
type fetchCall struct {
	done chan struct{}
	err  error
}

// refetchGap is how soon after a fetch a request for an epoch the matter
// did not have may ask Vault again: a newer epoch appears after rotation,
// but a bogus epoch number in a manifest must not turn into a Vault call
// per file.
const refetchGap = 10 * time.Second

// Login authenticates to Vault with auth and returns a Keyring. ctx governs
// the background token renewal, so it should live as long as the Keyring;
// Close ends both.
func Login(ctx context.Context, cfg Config, auth Authenticator) (*Keyring, error) {
	s, err := newSession(ctx, cfg, auth)
	if err != nil {
		return nil, err
	}
	return &Keyring{s: s, ttl: cfg.KeyTTL, matters: make(map[string]*matterKeys)}, nil
}

// EntityID returns the Vault entity ID of the logged-in user ("sub" in
// identity tokens); empty for a token without an entity.
func (k *Keyring) EntityID() string { return k.s.entityID }

// IdentityToken returns an identity token for the gateway, cached and
// fetched again once half its lifetime has passed.
func (k *Keyring) IdentityToken(ctx context.Context) (IdentityToken, error) {
	return k.s.identityToken(ctx, false)
}

// Token returns the raw identity token, so a Keyring is the gateway
// client's token source (client.TokenSource) as it is.
func (k *Keyring) Token(ctx context.Context) (string, error) {
	t, err := k.IdentityToken(ctx)
	return t.Raw, err
}

// RefreshIdentityToken fetches a new identity token now, e.g. after the
// gateway refused the cached one.
func (k *Keyring) RefreshIdentityToken(ctx context.Context) (IdentityToken, error) {
	return k.s.identityToken(ctx, true)
}

// RefreshToken fetches a new raw identity token now: the gateway client
// calls it once when the gateway refused the cached token
// (client.TokenRefresher).
func (k *Keyring) RefreshToken(ctx context.Context) (string, error) {
	t, err := k.RefreshIdentityToken(ctx)
	return t.Raw, err
}

// Matter is a matter the logged-in user may open.
type Matter struct {
	ID   string
	Name string // display name
	Role Role   // RoleRW or RoleRO
}

// matterMeta is the KV v2 secret matters/<id>/meta.
type matterMeta struct {
	Name     string `json:"name"`
	Created  string `json:"created"`
	Shredded string `json:"shredded,omitempty"`
}

// Matters lists the matters the user belongs to, from the groups claim of a
// fresh identity token, with display names from Vault. Screened matters and
// shredded or unreadable ones are left out. One identity token call plus one
// read per matter.
func (k *Keyring) Matters(ctx context.Context) ([]Matter, error) {
	const op = "list matters"
	tok, err := k.s.identityToken(ctx, true)
	if err != nil {
		return nil, err
	}
	roles := matterRoles(tok.Groups)
	var out []Matter
	for id, r := range roles {
		var meta matterMeta
		if _, err := k.s.kvRead(ctx, op, metaKey(id), &meta); err != nil {
			if KindOf(err) == NotFound {
				k.s.log.Warn("kms: matter in groups has no metadata", "matter", id)
				continue
			}
			return nil, err
		}
		if meta.Shredded != "" {
			continue
		}
		out = append(out, Matter{ID: id, Name: meta.Name, Role: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// matterRoles maps group names to each matter's effective role: rw beats ro,
// screened removes the matter.
func matterRoles(groups []string) map[string]Role {
	roles := make(map[string]Role)
	screened := make(map[string]bool)
	for _, g := range groups {
		m, r, ok := ParseMatterGroup(g)
		switch {
		case !ok:
		case r == RoleScreened:
			screened[m] = true
		case r == RoleRW || roles[m] == "":
			roles[m] = r
		}
	}
	for m := range screened {
		delete(roles, m)
	}
	return roles
}

// CurrentKey returns the newest epoch of matter and its key, for new
// writes. The key is a copy the caller owns (and should wipe).
func (k *Keyring) CurrentKey(ctx context.Context, matter string) (epoch uint32, key []byte, err error) {
	return k.get(ctx, matter, 0)
}

// EpochKey returns the key of epoch n (from 1) of matter, for reading data
// written under it. The key is a copy the caller owns (and should wipe).
func (k *Keyring) EpochKey(ctx context.Context, matter string, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, errorf("epoch key", Invalid, "epoch 0 does not exist: epochs start at 1")
	}
	_, key, err := k.get(ctx, matter, n)
	return key, err
}

// get returns epoch want of matter, or the current epoch if want is 0.
func (k *Keyring) get(ctx context.Context, matter string, want uint32) (uint32, []byte, error) {
	const op = "epoch key"
	if err := validateMatter(op, matter); err != nil {
		return 0, nil, err
	}
	for {
		k.mu.Lock()
		e := k.matters[matter]
		if e == nil {
			e = &matterKeys{}
			k.matters[matter] = e
		}
		now := k.s.now()
		fresh := e.keys != nil && now.Sub(e.fetched) < k.ttl
		if fresh {
			n := want
			if n == 0 {
				n = e.current
			}
			if key, ok := e.keys[n]; ok {
				out := append([]byte(nil), key...)
				k.mu.Unlock()
				return n, out, nil
			}
			if now.Sub(e.fetched) < refetchGap {
				k.mu.Unlock()
				return 0, nil, errorf(op, NotFound, "matter %s has no epoch %d", matter, want)
			}
		}
		if c := e.loading; c != nil {
			k.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return 0, nil, wrap(op, ctx.Err())
			}
			if c.err != nil {
				return 0, nil, c.err
			}
			continue
		}
		c := &fetchCall{done: make(chan struct{})}
		e.loading = c
		gen := k.gen
		k.mu.Unlock()

		keys, current, err := k.fetch(ctx, matter)

		k.mu.Lock()
		e.loading = nil
		switch {
		case err != nil:
			if KindOf(err) == Denied || KindOf(err) == NotFound {
				// Removed from the matter, screened, revoked or shredded:
				// drop what we had rather than keep using it until the TTL.
				wipeKeys(e.keys)
				e.keys = nil
			}
			c.err = err
		case gen != k.gen:
			wipeKeys(keys)
			c.err = errorf(op, Other, "keyring wiped during fetch")
		default:
			wipeKeys(e.keys)
			e.keys, e.current, e.fetched = keys, current, k.s.now()
		}
		close(c.done)
		k.mu.Unlock()
		if c.err != nil {
			return 0, nil, c.err
		}
	}
}

// fetch reads and unwraps every epoch key of matter. An unwrap can fail
// because a rotation rewrapped the keys and retired the old Vault key
// version between our read and our decrypt; then the stored set has a new
// version and we read again (a few times: rotations can come back to back).
func (k *Keyring) fetch(ctx context.Context, matter string) (map[uint32][]byte, uint32, error) {
	const op = "epoch key"
	set, version, err := k.s.readEpochs(ctx, op, matter)
	if err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		keys, err := k.s.decryptEpochs(ctx, op, matter, set)
		if err == nil {
			return keys, set.Current, nil
		}
		if attempt == 3 {
			return nil, 0, err
		}
		next, nextVersion, err2 := k.s.readEpochs(ctx, op, matter)
		if err2 != nil || nextVersion == version {
			return nil, 0, err
		}
		set, version = next, nextVersion
	}
}

// Invalidate drops matter's cached keys, so the next request asks Vault:
// for when the agent learns the matter was rotated.
func (k *Keyring) Invalidate(matter string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.matters[matter]; e != nil {
		wipeKeys(e.keys)
		e.keys = nil
	}
}

// Wipe zeroes and drops every cached epoch key and the identity token. The
// Keyring stays logged in; later requests fetch again. Copies handed out by
// CurrentKey and EpochKey are the caller's to wipe.
func (k *Keyring) Wipe() {
	k.mu.Lock()
	for _, e := range k.matters {
		wipeKeys(e.keys)
		e.keys = nil
	}
	k.matters = make(map[string]*matterKeys)
	k.gen++
	k.mu.Unlock()
	k.s.forgetIdentityToken()
}

// Close wipes the keyring, stops token renewal, and revokes the token if
// the Keyring logged in for it (not with TokenAuth).
func (k *Keyring) Close() error {
	k.Wipe()
	k.s.close()
	return nil
}

func wipeKeys(keys map[uint32][]byte) {
	for _, key := range keys {
		clear(key)
	}
}
