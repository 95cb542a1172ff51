package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// cli runs mattersync-admin in-process against a kmstest environment, as
// IT would from a shell with VAULT_ADDR and VAULT_TOKEN set.
type cli struct {
	env     *kmstest.Env
	environ map[string]string
	// hooks standing in for the gateway's admin API (see fakeGateway);
	// they record what the commands ask of it.
	deny     func(entityID, name, reason string) error
	onHold   func(matter string) (bool, error)
	setEpoch func(matter string, epoch uint32) (uint32, error)
	reissue  func(entityID, reason string) error
	// browse stands in for the browser of --login-method oidc.
	browse func(url string) error
}

func newCLI(t *testing.T, env *kmstest.Env) *cli {
	return &cli{env: env, environ: map[string]string{
		"VAULT_ADDR":  env.Vault.Addr,
		"VAULT_TOKEN": env.Vault.Token,
		"HOME":        t.TempDir(),
	}}
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *cli) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb, func(k string) string { return c.environ[k] })
	if c.deny != nil || c.onHold != nil || c.setEpoch != nil || c.reissue != nil {
		a.newGateway = func(context.Context, string) (admin.Gateway, error) { return fakeGateway{c: c}, nil }
	}
	a.browse = c.browse
	l := c.env.Config.Layout
	full := append([]string{"--transit-mount", l.Transit, "--kv-mount", l.KV, "--userpass-mount", l.Userpass,
		"--oidc-mount", l.OIDCMount(), "--vault-name", l.Name, "--audience", l.Audience}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := result{code: run(ctx, a, full)}
	r.stdout, r.stderr = out.String(), errb.String()
	t.Logf("$ mattersync-admin %s -> %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// must runs a command that must exit with code.
func (c *cli) must(t *testing.T, code int, stdin string, args ...string) result {
	t.Helper()
	r := c.run(t, stdin, args...)
	if r.code != code {
		t.Fatalf("mattersync-admin %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// fakeGateway stands in for the gateway's admin API with the cli's hooks;
// a call without a hook fails.
type fakeGateway struct {
	admin.Gateway // nil: the calls no test fakes
	c             *cli
}

var errNotFaked = errors.New("not faked in this test")

func (f fakeGateway) Deny(_ context.Context, entityID, name, reason string) error {
	if f.c.deny == nil {
		return errNotFaked
	}
	return f.c.deny(entityID, name, reason)
}

func (f fakeGateway) Hold(_ context.Context, matter string) (api.Hold, error) {
	if f.c.onHold == nil {
		return api.Hold{}, errNotFaked
	}
	on, err := f.c.onHold(matter)
	return api.Hold{Matter: matter, On: on}, err
}

func (f fakeGateway) Reissue(_ context.Context, entityID, reason string) (api.Reissue, error) {
	if f.c.reissue == nil {
		return api.Reissue{}, errNotFaked
	}
	return api.Reissue{EntityID: entityID, NotBefore: time.Now()}, f.c.reissue(entityID, reason)
}

// SetEpoch answers as the gateway does: a gateway already at a higher
// epoch refuses with stale_epoch and its current epoch.
func (f fakeGateway) SetEpoch(_ context.Context, matter string, epoch uint32) (api.Epoch, error) {
	if f.c.setEpoch == nil {
		return api.Epoch{}, errNotFaked
	}
	got, err := f.c.setEpoch(matter, epoch)
	if err != nil {
		return api.Epoch{}, err
	}
	if got > epoch {
		return api.Epoch{}, &client.Error{Status: 409, Body: api.Error{Code: api.CodeStaleEpoch, CurrentEpoch: got}}
	}
	return api.Epoch{Matter: matter, Epoch: got}, nil
}

// TestITWorkflow walks through what IT does, checking output, exit codes
// and the effect in Vault.
func TestITWorkflow(t *testing.T) {
	env := kmstest.Setup(t)
	c := newCLI(t, env)
	ctx := context.Background()

	r := c.must(t, exitOK, "", "vault", "init", "--userpass")
	if strings.Contains(r.stdout, "created") || strings.Contains(r.stdout+r.stderr, env.Vault.Token) {
		t.Errorf("second init changed something or printed the token:\n%s", r.stdout)
	}
	c.must(t, exitOK, "", "vault", "status")

	alice, bob := testenv.RandomName("alice-"), testenv.RandomName("bob-")
	r = c.must(t, exitOK, "s3cret-from-stdin-1\n", "user", "create", alice, "--password-stdin")
	if strings.Contains(r.stdout+r.stderr, "s3cret-from-stdin-1") {
		t.Errorf("password read from stdin was printed")
	}
	r = c.must(t, exitOK, "", "user", "create", bob)
	_, pw, ok := strings.Cut(r.stdout, "password (shown once, hand it over securely): ")
	pw = strings.TrimSpace(pw)
	if !ok || len(pw) < 20 {
		t.Fatalf("generated password not printed:\n%s", r.stdout)
	}
	k, err := kms.Login(ctx, env.Config, kms.UserpassAuth{Mount: env.Config.Layout.Userpass, Username: bob, Password: pw})
	if err != nil {
		t.Fatalf("login with the printed password: %v", err)
	}
	k.Close()
	c.must(t, exitExists, "", "user", "create", bob)

	m := testenv.RandomName("m-")
	r = c.must(t, exitOK, "", "matter", "create", m, "--name", "Smith v. Jones")
	if !strings.Contains(r.stdout, "WARNING gateway epoch "+m+": gateway not configured") || !strings.Contains(r.stdout, "epoch set "+m+" 1") {
		t.Errorf("create without a gateway does not warn about the epoch step:\n%s", r.stdout)
	}
	r = c.must(t, exitExists, "", "matter", "create", m, "--name", "Other")
	if !strings.Contains(r.stderr, "already exists") {
		t.Errorf("re-create: %s", r.stderr)
	}
	c.must(t, exitOK, "", "matter", "grant", m, alice, "--role", "rw")
	if r := c.must(t, exitOK, "", "matter", "grant", m, alice, "--role", "rw"); !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("second grant: %s", r.stdout)
	}
	c.must(t, exitOK, "", "matter", "grant", m, bob, "--role", "ro")
	r = c.must(t, exitOK, "", "matter", "members", m)
	for _, want := range []string{alice + "  rw", bob + "  ro"} {
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), "  "), want) {
			t.Errorf("members lack %q:\n%s", want, r.stdout)
		}
	}
	r = c.must(t, exitOK, "", "user", "matters", alice)
	if !strings.Contains(r.stdout, m) {
		t.Errorf("user matters:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "rotate", m)
	if !strings.Contains(r.stdout, "epoch 2") || !strings.Contains(r.stdout, "min_decryption_version") || !strings.Contains(r.stdout, "WARNING gateway epoch "+m) {
		t.Errorf("rotate output:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "remove", m, bob)
	if !strings.Contains(r.stdout, "epoch 3") {
		t.Errorf("remove did not rotate:\n%s", r.stdout)
	}
	c.must(t, exitOK, "", "matter", "screen", m, bob)
	c.must(t, exitOK, "", "user", "admin", bob)
	if u, _ := env.Admin.User(ctx, bob); !u.Admin() {
		t.Errorf("user admin did not add %s to %s", bob, kms.AdminGroup)
	}
	if r := c.must(t, exitOK, "", "user", "admin", bob); !strings.Contains(r.stdout, "already was") {
		t.Errorf("second user admin: %s", r.stdout)
	}
	c.must(t, exitOK, "", "user", "admin", bob, "--off")
	if u, _ := env.Admin.User(ctx, bob); u.Admin() {
		t.Errorf("user admin --off left %s in %s", bob, kms.AdminGroup)
	}
	c.must(t, exitOK, "", "user", "list")

	// Revocation without a gateway: every Vault step done, exit 8, saying so.
	r = c.must(t, exitIncomplete, "", "user", "revoke", alice)
	if !strings.Contains(r.stdout, "gateway not configured") || !strings.Contains(r.stderr, "REVOCATION INCOMPLETE") {
		t.Errorf("revoke without gateway:\n%s%s", r.stdout, r.stderr)
	}
	if u, err := env.Admin.User(ctx, alice); err != nil || !u.Disabled {
		t.Errorf("alice not disabled: %+v %v", u, err)
	}
	if !strings.Contains(r.stdout, m+" (epoch 4)") {
		t.Errorf("revoke did not rotate %s:\n%s", m, r.stdout)
	}

	// With the gateway client wired: the deny list gets the entity first.
	carol := testenv.RandomName("carol-")
	c.must(t, exitOK, "", "user", "create", carol)
	var denied []string
	c.deny = func(entityID, name, reason string) error {
		denied = append(denied, entityID, name, reason)
		return nil
	}
	c.environ["MATTERSYNC_GATEWAY_URL"] = "https://gateway.test"
	c.must(t, exitOK, "", "user", "revoke", carol, "--reason", "left the firm")
	u, _ := env.Admin.User(ctx, carol)
	if len(denied) != 3 || denied[0] != u.EntityID || denied[1] != carol || denied[2] != "left the firm" {
		t.Errorf("deny list call %v", denied)
	}
	c.deny = func(string, string, string) error { return errors.New("gateway down") }
	c.must(t, exitIncomplete, "", "user", "revoke", carol) // re-run: Vault steps fine, gateway fails

	// Shredding: confirmation, hold check, then the real thing.
	c.must(t, exitUsage, "", "matter", "shred", m)
	c.must(t, exitUsage, "", "matter", "shred", m, "--confirm", "other")
	delete(c.environ, "MATTERSYNC_GATEWAY_URL")
	c.must(t, exitUsage, "", "matter", "shred", m, "--confirm", m)
	c.environ["MATTERSYNC_GATEWAY_URL"] = "https://gateway.test"
	c.onHold = func(string) (bool, error) { return true, nil }
	c.must(t, exitRefused, "", "matter", "shred", m, "--confirm", m)
	if info, _ := env.Admin.Matter(ctx, m); info.Shredded != "" {
		t.Fatalf("shredded despite the hold")
	}
	c.onHold = func(string) (bool, error) { return false, nil }
	c.must(t, exitOK, "", "matter", "shred", m, "--confirm", m)
	if info, _ := env.Admin.Matter(ctx, m); info.Shredded == "" {
		t.Fatalf("not shredded")
	}
}

// TestEpochStep: every command that creates or rotates an epoch tells the
// gateway, as its own step; a failure exits 8 naming the step and the
// repair command.
func TestEpochStep(t *testing.T) {
	env := kmstest.Setup(t)
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = "https://gateway.test"
	type call struct {
		matter string
		epoch  uint32
	}
	var calls []call
	c.setEpoch = func(matter string, epoch uint32) (uint32, error) {
		calls = append(calls, call{matter, epoch})
		return epoch, nil
	}
	c.deny = func(string, string, string) error { return nil }
	var reissued []string
	c.reissue = func(entity, reason string) error { reissued = append(reissued, entity+" "+reason); return nil }
	want := func(what string, r result, matter string, epoch uint32) {
		t.Helper()
		if len(calls) != 1 || calls[0] != (call{matter, epoch}) {
			t.Fatalf("%s: gateway calls %v, want %s at %d", what, calls, matter, epoch)
		}
		if !strings.Contains(r.stdout, fmt.Sprintf("ok     gateway epoch %s: uploads sealed under epochs below %d refused at https://gateway.test", matter, epoch)) {
			t.Fatalf("%s: no epoch step in\n%s", what, r.stdout)
		}
		calls = nil
	}
	m := testenv.RandomName("m-")
	want("create", c.must(t, exitOK, "", "matter", "create", m, "--name", "Epochs"), m, 1)
	want("rotate", c.must(t, exitOK, "", "matter", "rotate", m), m, 2)
	u1, u2, u3 := env.User(t, false), env.User(t, false), env.User(t, false)
	for _, u := range []kmstest.User{u1, u2, u3} {
		env.Grant(t, m, u, kms.RoleRW)
	}
	r := c.must(t, exitOK, "", "matter", "remove", m, u1.Name)
	want("remove", r, m, 3)
	if !strings.Contains(r.stdout, "ok     gateway reissue "+u1.Name+": tokens issued before ") {
		t.Fatalf("remove: no reissue step in\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "matter", "screen", m, u2.Name)
	want("screen", r, m, 4)
	if len(reissued) != 2 || reissued[0] != u1.EntityID+" removed from "+m || reissued[1] != u2.EntityID+" screened from "+m {
		t.Fatalf("reissue calls %v", reissued)
	}
	want("revoke", c.must(t, exitOK, "", "user", "revoke", u3.Name), m, 5)
	// Screening a non-member rotates nothing, so tells the gateway nothing.
	c.must(t, exitOK, "", "matter", "screen", m, env.User(t, false).Name)
	if len(calls) != 0 || len(reissued) != 2 {
		t.Fatalf("screen of a non-member: gateway calls %v, reissue calls %v", calls, reissued)
	}
	// A failing reissue step: the rest is done, the exit code and output
	// say what to repair.
	c.reissue = func(string, string) error { return errors.New("connection refused") }
	u5 := env.User(t, false)
	env.Grant(t, m, u5, kms.RoleRW)
	r = c.must(t, exitIncomplete, "", "matter", "remove", m, u5.Name)
	if !strings.Contains(r.stdout, "FAILED gateway reissue "+u5.Name) || !strings.Contains(r.stderr, "mattersync-admin deny reissue "+u5.EntityID) || len(calls) != 1 {
		t.Fatalf("remove with the reissue step failing:\n%s%s", r.stdout, r.stderr)
	}
	calls = nil
	c.reissue = func(string, string) error { return nil }

	// The gateway already at a higher epoch is what the step wants.
	c.setEpoch = func(_ string, epoch uint32) (uint32, error) { return epoch + 10, nil }
	if r := c.must(t, exitOK, "", "matter", "rotate", m); !strings.Contains(r.stdout, "already at epoch 17") {
		t.Fatalf("rotate with the gateway ahead:\n%s", r.stdout)
	}

	// A failing gateway: the Vault work is done, the exit code says the
	// command is incomplete, and the output names the step and the repair.
	c.setEpoch = func(string, uint32) (uint32, error) { return 0, errors.New("connection refused") }
	m2 := testenv.RandomName("m-")
	r = c.must(t, exitIncomplete, "", "matter", "create", m2, "--name", "Down")
	if !strings.Contains(r.stdout, "FAILED gateway epoch "+m2+": gateway https://gateway.test: connection refused") ||
		!strings.Contains(r.stderr, "gateway epoch step failed") || !strings.Contains(r.stderr, "mattersync-admin epoch set "+m2+" 1") {
		t.Fatalf("create with the gateway down:\n%s%s", r.stdout, r.stderr)
	}
	if _, err := env.Admin.Matter(context.Background(), m2); err != nil {
		t.Fatalf("matter not created: %v", err)
	}
	r = c.must(t, exitIncomplete, "", "matter", "rotate", m2)
	if !strings.Contains(r.stderr, "epoch set "+m2+" 2") {
		t.Fatalf("rotate with the gateway down:\n%s", r.stderr)
	}
	u4 := env.User(t, false)
	env.Grant(t, m2, u4, kms.RoleRO)
	r = c.must(t, exitIncomplete, "", "user", "revoke", u4.Name)
	if !strings.Contains(r.stderr, "gateway epoch step failed") || !strings.Contains(r.stderr, "epoch set "+m2+" 3") {
		t.Fatalf("revoke with the gateway epoch step failing:\n%s", r.stderr)
	}
}

// TestLoginFlag: an admin logs in with userpass (password on stdin's first
// line) and creates a user whose password is stdin's second line.
func TestLoginFlag(t *testing.T) {
	env := kmstest.Setup(t)
	admin := env.User(t, true)
	c := newCLI(t, env)
	delete(c.environ, "VAULT_TOKEN")
	c.must(t, exitUsage, "", "user", "list") // no token, no --login
	dave := testenv.RandomName("dave-")
	r := c.must(t, exitOK, admin.Password+"\nanother-password-2\n", "--login", admin.Name, "user", "create", dave, "--password-stdin")
	if strings.Contains(r.stderr, "password for") {
		t.Errorf("prompted although stdin is not a terminal: %q", r.stderr)
	}
	if _, err := kms.Login(context.Background(), env.Config, kms.UserpassAuth{Mount: env.Config.Layout.Userpass, Username: dave, Password: "another-password-2"}); err != nil {
		t.Fatalf("dave cannot log in: %v", err)
	}
	r = c.must(t, exitOK, admin.Password+"\n", "--login", admin.Name, "vault", "identity-token")
	if tok := strings.TrimSpace(r.stdout); strings.Count(tok, ".") != 2 {
		t.Errorf("identity-token printed %q", tok)
	}
	c.must(t, exitDenied, "wrong-password\n", "--login", admin.Name, "user", "list")
	// ~/.vault-token, as `vault login` leaves it.
	if err := writeFile(c.environ["HOME"]+"/.vault-token", env.Vault.Token+"\n"); err != nil {
		t.Fatal(err)
	}
	c.must(t, exitOK, "", "user", "list")
}

// TestExitCodes: each class of failure has its own exit code.
func TestExitCodes(t *testing.T) {
	env := kmstest.Setup(t)
	c := newCLI(t, env)
	c.must(t, exitUsage, "", "matter", "create")
	c.must(t, exitUsage, "", "matter", "create", "x")                        // --name missing
	c.must(t, exitUsage, "", "matter", "create", "Bad_ID", "--name", "x")    // invalid ID
	c.must(t, exitUsage, "", "matter", "grant", "a", "b", "--role", "admin") // bad role
	c.must(t, exitUsage, "", "no-such-command")
	c.must(t, exitUsage, "", "user", "list", "--no-such-flag")
	c.must(t, exitNotFound, "", "matter", "members", "no-such-matter")
	c.must(t, exitNotFound, "", "user", "matters", "nobody")
	// -v is --version, as for mattersync and mattersync-gateway.
	for _, flag := range []string{"-v", "--version"} {
		if r := c.must(t, exitOK, "", flag); !strings.Contains(r.stdout, "mattersync-admin version "+version) {
			t.Errorf("%s printed %q", flag, r.stdout)
		}
	}
	c.must(t, exitOK, "", "--verbose", "user", "list")
	c.environ["VAULT_TOKEN"] = "wrong"
	c.must(t, exitDenied, "", "user", "list")
	addr, _ := testenv.FreeAddr()
	c.environ["VAULT_ADDR"] = "http://" + addr
	c.must(t, exitUnreachable, "", "user", "list")
	delete(c.environ, "VAULT_ADDR")
	c.must(t, exitUsage, "", "user", "list")

	v := testenv.NewVault(t)
	sealed := newCLI(t, kmstest.SetupOn(t, v))
	if err := v.Client(t).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	r := sealed.must(t, exitSealed, "", "matter", "list")
	if !strings.Contains(r.stderr, "sealed") {
		t.Errorf("sealed: %s", r.stderr)
	}
}

// TestRevokeReinstateRevoke: revoking a user reinstated by the procedure
// in docs/OPERATIONS.md, who used the current epoch again, rotates the
// matter past it, tells the gateway, and the summary says only what this
// run did.
func TestRevokeReinstateRevoke(t *testing.T) {
	env := kmstest.Setup(t)
	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = "https://gateway.test"
	c.deny = func(string, string, string) error { return nil }
	var calls []string
	c.setEpoch = func(matter string, epoch uint32) (uint32, error) {
		calls = append(calls, fmt.Sprintf("%s@%d", matter, epoch))
		return epoch, nil
	}
	m := env.Matter(t)
	bob := env.User(t, false)
	env.Grant(t, m, bob, kms.RoleRW)
	r := c.must(t, exitOK, "", "user", "revoke", bob.Name)
	if !strings.Contains(r.stdout, "matters rotated: "+m+" (epoch 2)") {
		t.Fatalf("first revoke:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "user", "revoke", bob.Name)
	if !strings.Contains(r.stdout, "matters rotated: none") || !strings.Contains(r.stdout, "rotated by an earlier run of this revocation, not again: "+m+" (epoch 2)") {
		t.Fatalf("re-run:\n%s", r.stdout)
	}

	root := env.Vault.Client(t)
	if _, err := root.Logical().Write("identity/entity/name/"+bob.Name, map[string]any{"disabled": false}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/"+env.Config.Layout.Userpass+"/users/"+bob.Name, map[string]any{"password": bob.Password}); err != nil {
		t.Fatal(err)
	}
	c.must(t, exitOK, "", "matter", "grant", m, bob.Name, "--role", "rw")
	if e, _, err := env.Login(t, bob).CurrentKey(context.Background(), m); err != nil || e != 2 {
		t.Fatalf("reinstated bob: epoch %d, %v", e, err)
	}

	calls = nil
	r = c.must(t, exitOK, "", "user", "revoke", bob.Name)
	if !strings.Contains(r.stdout, "matters rotated: "+m+" (epoch 3)") || !strings.Contains(r.stdout, "a new revocation") ||
		strings.Contains(r.stdout, "(epoch 2)") || len(calls) != 1 || calls[0] != m+"@3" {
		t.Fatalf("revoke after reinstatement: gateway calls %v\n%s", calls, r.stdout)
	}
}
