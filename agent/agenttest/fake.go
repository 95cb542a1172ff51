package agenttest

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// Fake is an in-memory Vault: matters with their epoch keys and members,
// users, and identity tokens signed by a local issuer (authtest) that
// gateways from Gateway trust. Errors carry the kms.Kind Vault's would.
type Fake struct {
	t      testing.TB // for the issuer, which reports signing failures on it
	issuer *authtest.Issuer

	mu      sync.Mutex // guards matters, users
	matters map[string]*fakeMatter
	users   map[string]*fakeUser // by name
}

type fakeMatter struct {
	name    string
	epochs  [][]byte // epochs[n-1] is the key of epoch n
	members map[string]kms.Role
}

type fakeUser struct {
	entity   string
	admin    bool
	disabled bool
}

var _ Vault = (*Fake)(nil)

// NewFake returns an empty Fake.
func NewFake(t testing.TB) *Fake {
	return &Fake{t: t, issuer: authtest.New(t), matters: map[string]*fakeMatter{}, users: map[string]*fakeUser{}}
}

func newKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// Matter creates a matter at epoch 1.
func (f *Fake) Matter(t testing.TB) string {
	id := testenv.RandomName("m-")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.matters[id] = &fakeMatter{name: "Matter " + id, epochs: [][]byte{newKey()}, members: map[string]kms.Role{}}
	return id
}

// User creates a user with a random name and entity ID.
func (f *Fake) User(t testing.TB, admin bool) kmstest.User {
	u := kmstest.User{Name: testenv.RandomName("u-"), Password: testenv.RandomHex(16), EntityID: "ent-" + testenv.RandomHex(8)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.Name] = &fakeUser{entity: u.EntityID, admin: admin}
	return u
}

// lookup returns matter and u's record, failing t if either is unknown.
// Callers hold f.mu.
func (f *Fake) lookup(t testing.TB, matter string, u kmstest.User) (*fakeMatter, *fakeUser) {
	t.Helper()
	m, usr := f.matters[matter], f.users[u.Name]
	if m == nil || usr == nil {
		t.Fatalf("agenttest: unknown matter %q or user %q", matter, u.Name)
	}
	return m, usr
}

// Grant makes u a member of matter with role.
func (f *Fake) Grant(t testing.TB, matter string, u kmstest.User, role kms.Role) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	m, _ := f.lookup(t, matter, u)
	m.members[u.Name] = role
}

// Remove takes u out of matter.
func (f *Fake) Remove(t testing.TB, matter string, u kmstest.User) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	m, _ := f.lookup(t, matter, u)
	delete(m.members, u.Name)
}

// Rotate adds an epoch to matter.
func (f *Fake) Rotate(t testing.TB, matter string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.matters[matter]
	if m == nil {
		t.Fatalf("agenttest: unknown matter %q", matter)
		return // t.Fatalf does not return; staticcheck cannot tell through testing.TB
	}
	m.epochs = append(m.epochs, newKey())
}

// Disable makes every later request of u fail as denied. Like
// kms.Admin.Revoke it also takes u out of their matters and rotates them.
func (f *Fake) Disable(t testing.TB, u kmstest.User) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	usr := f.users[u.Name]
	if usr == nil {
		t.Fatalf("agenttest: unknown user %q", u.Name)
		return // t.Fatalf does not return; staticcheck cannot tell through testing.TB
	}
	usr.disabled = true
	for _, m := range f.matters {
		if _, ok := m.members[u.Name]; ok {
			delete(m.members, u.Name)
			m.epochs = append(m.epochs, newKey())
		}
	}
}

// Login returns u's key source, as kms.Login would.
func (f *Fake) Login(t testing.TB, u kmstest.User) Keyring {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	usr := f.users[u.Name]
	if usr == nil || usr.disabled {
		t.Fatalf("agenttest: login %s: refused", u.Name)
	}
	return &fakeKeyring{f: f, user: u.Name, current: map[string]uint32{}}
}

// Gateway starts a gateway that trusts f's tokens.
func (f *Fake) Gateway(t testing.TB, o gatewaytest.Options) *gatewaytest.Gateway {
	t.Helper()
	o.Issuer = f.issuer
	return gatewaytest.Start(t, o)
}

// fakeKeyring is one user's login on a Fake. Like kms.Keyring it keeps
// using the epoch it first saw as current until Invalidate or Wipe, so the
// agent's handling of a rotation it has not heard of runs on Fake too.
type fakeKeyring struct {
	f    *Fake
	user string

	mu      sync.Mutex        // guards current
	current map[string]uint32 // matter -> epoch used as current
}

func denied(op string) error {
	return &kms.Error{Op: op, Kind: kms.Denied}
}

// member returns matter if the user may read it; callers hold k.f.mu.
func (k *fakeKeyring) member(op, matter string) (*fakeMatter, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return nil, &kms.Error{Op: op, Kind: kms.Invalid, Err: err}
	}
	usr := k.f.users[k.user]
	if usr.disabled {
		return nil, denied(op)
	}
	m := k.f.matters[matter]
	if m == nil {
		return nil, denied(op) // Vault's policies deny what they do not name
	}
	if _, ok := m.members[k.user]; !ok {
		return nil, denied(op)
	}
	return m, nil
}

func (k *fakeKeyring) Matters(context.Context) ([]kms.Matter, error) {
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	if k.f.users[k.user].disabled {
		return nil, denied("list matters")
	}
	var out []kms.Matter
	for id, m := range k.f.matters {
		if r, ok := m.members[k.user]; ok {
			out = append(out, kms.Matter{ID: id, Name: m.name, Role: r})
		}
	}
	slices.SortFunc(out, func(a, b kms.Matter) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (k *fakeKeyring) CurrentKey(_ context.Context, matter string) (uint32, []byte, error) {
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	m, err := k.member("epoch key", matter)
	if err != nil {
		return 0, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.current[matter]
	if n == 0 {
		n = uint32(len(m.epochs))
		k.current[matter] = n
	}
	return n, slices.Clone(m.epochs[n-1]), nil
}

func (k *fakeKeyring) EpochKey(_ context.Context, matter string, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, &kms.Error{Op: "epoch key", Kind: kms.Invalid}
	}
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	m, err := k.member("epoch key", matter)
	if err != nil {
		return nil, err
	}
	if int(n) > len(m.epochs) {
		return nil, &kms.Error{Op: "epoch key", Kind: kms.NotFound}
	}
	return slices.Clone(m.epochs[n-1]), nil
}

func (k *fakeKeyring) Invalidate(matter string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.current, matter)
}

func (k *fakeKeyring) Wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.current)
}

// Token returns a fresh identity token naming the user's groups now.
func (k *fakeKeyring) Token(context.Context) (string, error) {
	k.f.mu.Lock()
	usr := k.f.users[k.user]
	if usr.disabled {
		k.f.mu.Unlock()
		return "", denied("identity token")
	}
	var groups []string
	if usr.admin {
		groups = append(groups, kms.AdminGroup)
	}
	for id, m := range k.f.matters {
		if r, ok := m.members[k.user]; ok {
			groups = append(groups, kms.MatterGroup(id, r))
		}
	}
	entity := usr.entity
	k.f.mu.Unlock()
	return k.f.issuer.Token(k.f.t, authtest.Claims{Subject: entity, Username: k.user, Groups: groups}), nil
}
