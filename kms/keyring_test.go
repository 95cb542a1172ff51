package kms_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestVaultCallsPerMatterPerTTL: 10,000 concurrent key requests for one
// matter (current epoch and epoch 1, as a sync of 10,000 files makes) cost
// two Vault calls, a KV read and a batch decrypt; the next two only after
// the key TTL.
func TestVaultCallsPerMatterPerTTL(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	u := env.User(t, false)
	env.Grant(t, m, u, kms.RoleRW)
	if _, err := env.Admin.Rotate(ctx, m, nil); err != nil { // two epochs to serve
		t.Fatal(err)
	}

	var calls counter
	cfg := env.Config
	cfg.WrapTransport = calls.wrap
	k, err := kms.Login(ctx, cfg, env.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	now := time.Now()
	var clockMu sync.Mutex
	kms.SetClock(k, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })
	afterLogin := calls.n("")

	var wg sync.WaitGroup
	errs := make(chan error, 10000)
	for i := range 10000 {
		wg.Go(func() {
			if i%2 == 0 {
				if e, _, err := k.CurrentKey(ctx, m); err != nil || e != 2 {
					errs <- err
				}
			} else if _, err := k.EpochKey(ctx, m, 1); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("key request: %v", err)
	}
	if got := calls.n("") - afterLogin; got != 2 {
		t.Fatalf("%d Vault calls for 10,000 key requests, want 2: %v", got, calls.all()[afterLogin:])
	}
	// An epoch the matter does not have is NotFound without a Vault call
	// (a bogus manifest must not cost a call per file).
	if _, err := k.EpochKey(ctx, m, 99); kms.KindOf(err) != kms.NotFound {
		t.Fatalf("epoch 99: %v, want NotFound", err)
	}
	if got := calls.n("") - afterLogin; got != 2 {
		t.Fatalf("unknown epoch cost %d calls", got-2)
	}

	clockMu.Lock()
	now = now.Add(kms.DefaultKeyTTL - time.Second)
	clockMu.Unlock()
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := calls.n("") - afterLogin; got != 2 {
		t.Fatalf("%d calls within the TTL, want 2", got)
	}
	clockMu.Lock()
	now = now.Add(2 * time.Second)
	clockMu.Unlock()
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := calls.n("") - afterLogin; got != 4 {
		t.Fatalf("%d calls after the TTL, want 4", got)
	}
}

// TestWipe: Wipe zeroes the cached keys in place, hands-out copies are
// unaffected, and the next request asks Vault again.
func TestWipe(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	u := env.User(t, false)
	env.Grant(t, m, u, kms.RoleRO)
	var calls counter
	cfg := env.Config
	cfg.WrapTransport = calls.wrap
	k, err := kms.Login(ctx, cfg, env.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	_, key, err := k.CurrentKey(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	saved := bytes.Clone(key)
	cached := kms.CachedKeys(k)
	if len(cached) != 1 || !bytes.Equal(cached[0], key) {
		t.Fatalf("cache holds %d keys", len(cached))
	}
	k.Wipe()
	if !bytes.Equal(cached[0], make([]byte, kms.EpochKeySize)) {
		t.Fatalf("Wipe left the cached key in memory")
	}
	if !bytes.Equal(key, saved) {
		t.Fatalf("Wipe changed the caller's copy")
	}
	before := calls.n("")
	_, again, err := k.CurrentKey(ctx, m)
	if err != nil || !bytes.Equal(again, saved) {
		t.Fatalf("after Wipe: %v", err)
	}
	if calls.n("") != before+2 {
		t.Fatalf("after Wipe: %d calls, want 2", calls.n("")-before)
	}
}
