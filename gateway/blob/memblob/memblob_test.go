package memblob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/mattersync/mattersync/gateway/blob/blobtest"
	"github.com/mattersync/mattersync/gateway/blob/memblob"
)

func TestContract(t *testing.T) {
	blobtest.Run(t, func(*testing.T) blobtest.Store { return memblob.New() })
}

func TestLifecycleContract(t *testing.T) {
	blobtest.RunLifecycle(t, func(*testing.T) blobtest.LifecycleStore {
		s := memblob.New()
		return blobtest.LifecycleStore{Versioned: s, Held: s}
	})
}

func TestKeys(t *testing.T) {
	s := memblob.New()
	ctx := context.Background()
	for _, k := range []string{"m/b/c/2", "m/a/c/1", "m/b/c/1", "x"} {
		if err := s.Put(ctx, k, bytes.NewReader(nil), 0, sha256.Sum256(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.Keys("m/b/"), []string{"m/b/c/1", "m/b/c/2"}; !slices.Equal(got, want) {
		t.Fatalf("Keys(m/b/) = %q, want %q", got, want)
	}
	if got := s.Keys(""); len(got) != 4 {
		t.Fatalf("Keys() = %q, want all 4", got)
	}
}
