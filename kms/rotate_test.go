package kms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// wrappedEpochs reads a matter's stored wrapped epoch keys with the root token.
func wrappedEpochs(t *testing.T, env *kmstest.Env, matter string) (current int, wrapped map[string]string) {
	t.Helper()
	sec, err := env.Vault.Client(t).Logical().Read(env.Config.Layout.KV + "/data/matters/" + matter + "/epochs")
	if err != nil || sec == nil {
		t.Fatalf("read epochs of %s: %v", matter, err)
	}
	var set struct {
		Current int `json:"current"`
		Epochs  map[string]struct {
			Wrapped string `json:"wrapped"`
		} `json:"epochs"`
	}
	b, _ := json.Marshal(sec.Data["data"])
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	wrapped = map[string]string{}
	for n, e := range set.Epochs {
		wrapped[n] = e.Wrapped
	}
	return set.Current, wrapped
}

// TestRotationUnderConcurrentDecrypts: members keep fetching every epoch
// key while the matter is rotated three times; nothing becomes unreadable,
// old epoch keys keep their value, new writes get the newest epoch, and the
// wrapped copies from before the rewrap no longer decrypt.
func TestRotationUnderConcurrentDecrypts(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	u := env.User(t, false)
	env.Grant(t, m, u, kms.RoleRW)
	_, before := wrappedEpochs(t, env, m)
	_, key1, err := env.Login(t, u).CurrentKey(ctx, m)
	if err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var fetches atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 3 {
		k := env.Login(t, u)
		wg.Go(func() {
			for !stop.Load() {
				k.Invalidate(m)
				got, err := k.EpochKey(ctx, m, 1)
				if err == nil && !bytes.Equal(got, key1) {
					t.Errorf("epoch 1 key changed during rotation")
				}
				if err == nil {
					_, _, err = k.CurrentKey(ctx, m)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				fetches.Add(1)
			}
		})
	}
	// Start rotating only once the readers are running.
	for fetches.Load() < 3 && len(errs) == 0 {
		time.Sleep(time.Millisecond)
	}
	during := fetches.Load()
	var steps []string
	for range 3 {
		res, err := env.Admin.Rotate(ctx, m, func(s kms.Step) { steps = append(steps, s.String()) })
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if res.Rewrapped != int(res.Epoch)-1 {
			t.Errorf("rotation to epoch %d rewrapped %d epochs", res.Epoch, res.Rewrapped)
		}
	}
	during = fetches.Load() - during
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent fetch failed: %v", err)
	}
	t.Logf("%d fetches during the rotations; last rotation: %v", during, steps[len(steps)-5:])

	k := env.Login(t, u)
	e, _, err := k.CurrentKey(ctx, m)
	if err != nil || e != 4 {
		t.Fatalf("current epoch %d, %v; want 4", e, err)
	}
	for n := uint32(1); n <= 4; n++ {
		if _, err := k.EpochKey(ctx, m, n); err != nil {
			t.Errorf("epoch %d unreadable after rotation: %v", n, err)
		}
	}
	if got, _ := k.EpochKey(ctx, m, 1); !bytes.Equal(got, key1) {
		t.Errorf("epoch 1 key changed")
	}
	// Everything is wrapped with key version 4 now, and version 1
	// ciphertext is refused, even for root.
	_, after := wrappedEpochs(t, env, m)
	for n, w := range after {
		if w[:9] != "vault:v4:" {
			t.Errorf("epoch %s wrapped as %.9s, want vault:v4:", n, w)
		}
	}
	_, err = env.Vault.Client(t).Logical().WriteWithContext(context.Background(),
		env.Config.Layout.Transit+"/decrypt/matter-"+m, map[string]any{"ciphertext": before["1"]})
	if err == nil {
		t.Fatalf("pre-rewrap ciphertext %.12s... still decrypts after min_decryption_version was raised", before["1"])
	}
}
