package blobtest

// The lifecycle's part of the contract: listing versions, deleting them,
// S3 Object Lock legal holds (gateway/lifecycle relies on these).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/blob"
)

// Versioned is a blob store's versions, as the lifecycle uses them.
type Versioned interface {
	Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	Size(ctx context.Context, key string) (int64, error)
	Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error
	KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error)
	Delete(ctx context.Context, vs []blob.ObjectVersion) []error
}

// Held is a blob store's S3 Object Lock legal holds.
type Held interface {
	CreateHeld(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
	LegalHold(ctx context.Context, key, versionID string) (bool, error)
	ObjectLockEnabled(ctx context.Context) (bool, error)
}

// LifecycleStore is a blob store as the lifecycle uses it: one store in
// both roles.
type LifecycleStore struct {
	Versioned
	Held
}

// RunLifecycle checks the lifecycle's part of the contract on stores made
// by newStore, each on a fresh bucket with Object Lock.
func RunLifecycle(t *testing.T, newStore func(t *testing.T) LifecycleStore) {
	ctx := context.Background()
	put := func(t *testing.T, s LifecycleStore, key string, held bool) {
		t.Helper()
		body := random(100)
		var err error
		if held {
			err = s.CreateHeld(ctx, key, bytes.NewReader(body), 100, sha256.Sum256(body))
		} else {
			err = s.Create(ctx, key, bytes.NewReader(body), 100, sha256.Sum256(body))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("ListInKeyOrder", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"m/b/c/2", "m/a/c/1", "m/b/c/1", "m/b/c/1.x", "x/y"} {
			put(t, s, k, false)
		}
		var got []string
		err := s.Versions(ctx, "m/b/", "", func(v blob.ObjectVersion) error {
			if v.Size != 100 || v.VersionID == "" || v.Modified.IsZero() || time.Since(v.Modified) > time.Hour {
				t.Errorf("version %+v", v)
			}
			got = append(got, v.Key)
			return nil
		})
		if err != nil || len(got) != 3 || got[0] != "m/b/c/1" || got[1] != "m/b/c/1.x" || got[2] != "m/b/c/2" {
			t.Fatalf("List(m/b/) = %v, %v", got, err)
		}
		got = nil
		s.Versions(ctx, "m/b/", "m/b/c/1.x", func(v blob.ObjectVersion) error { got = append(got, v.Key); return nil })
		if len(got) != 1 || got[0] != "m/b/c/2" {
			t.Fatalf("List after m/b/c/1.x = %v", got)
		}
		stop := errors.New("stop")
		if err := s.Versions(ctx, "m/", "", func(blob.ObjectVersion) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("List's fn error: %v", err)
		}
	})
	t.Run("DeleteVersions", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "m/a/c/1", false)
		put(t, s, "m/a/c/10", false)
		vs, err := s.KeyVersions(ctx, "m/a/c/1")
		if err != nil || len(vs) != 1 || vs[0].Key != "m/a/c/1" {
			t.Fatalf("Versions = %+v, %v (only the key itself)", vs, err)
		}
		if errs := s.Delete(ctx, vs); errs[0] != nil {
			t.Fatalf("Delete: %v", errs[0])
		}
		if _, err := s.Size(ctx, "m/a/c/1"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("deleted object: %v", err)
		}
		if vs, _ := s.KeyVersions(ctx, "m/a/c/1"); len(vs) != 0 {
			t.Fatalf("versions left: %+v", vs)
		}
		// Gone already: not an error.
		if errs := s.Delete(ctx, []blob.ObjectVersion{{Key: "m/a/c/1", VersionID: vs0(vs)}}); errs[0] != nil {
			t.Fatalf("Delete of a gone version: %v", errs[0])
		}
		// The key is free again.
		put(t, s, "m/a/c/1", false)
	})
	t.Run("LegalHold", func(t *testing.T) {
		s := newStore(t)
		if ok, err := s.ObjectLockEnabled(ctx); !ok || err != nil {
			t.Fatalf("ObjectLock = %v, %v", ok, err)
		}
		put(t, s, "m/a/c/held", true)
		put(t, s, "m/a/c/free", false)
		if on, err := s.LegalHold(ctx, "m/a/c/held", ""); !on || err != nil {
			t.Fatalf("LegalHold of CreateHeld's object = %v, %v", on, err)
		}
		if on, err := s.LegalHold(ctx, "m/a/c/free", ""); on || err != nil {
			t.Fatalf("LegalHold of Create's object = %v, %v", on, err)
		}
		vs, _ := s.KeyVersions(ctx, "m/a/c/held")
		if errs := s.Delete(ctx, vs); !errors.Is(errs[0], blob.ErrHeld) {
			t.Fatalf("Delete of a held object: %v", errs[0])
		}
		if err := s.SetLegalHold(ctx, "m/a/c/free", "", true); err != nil {
			t.Fatal(err)
		}
		fv, _ := s.KeyVersions(ctx, "m/a/c/free")
		if errs := s.Delete(ctx, fv); !errors.Is(errs[0], blob.ErrHeld) {
			t.Fatalf("Delete after SetLegalHold: %v", errs[0])
		}
		if err := s.SetLegalHold(ctx, "m/a/c/held", vs[0].VersionID, false); err != nil {
			t.Fatal(err)
		}
		if errs := s.Delete(ctx, vs); errs[0] != nil {
			t.Fatalf("Delete after the hold was cleared: %v", errs[0])
		}
		if err := s.SetLegalHold(ctx, "m/a/c/none", "", true); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("SetLegalHold of a missing object: %v", err)
		}
		s.SetLegalHold(ctx, "m/a/c/free", "", false)
	})
}

func vs0(vs []blob.ObjectVersion) string {
	if len(vs) == 0 {
		return "null"
	}
	return vs[0].VersionID
}
