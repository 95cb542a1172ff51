package gatewaytest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A chunk and a commit go through the gateway into its store and blobs,
// on the fakes and on the real backends alike.
func TestStart(t *testing.T) {
	for _, c := range []struct {
		name string
		o    gatewaytest.Options
	}{
		{"fakes", gatewaytest.Options{}},
		{"postgres+minio", gatewaytest.Options{Postgres: true, MinIO: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := gatewaytest.Start(t, c.o)
			ctx := context.Background()
			const matter = "2026-0001"
			cl := g.Client(t, g.Token(t, "ent-alice", "matter-"+matter+"-rw"), "LAPTOP-1")
			who, err := cl.Matters(ctx)
			if err != nil || len(who.Matters) != 1 || who.Matters[0].ID != matter || who.Entity != "ent-alice" {
				t.Fatalf("Matters = %+v, %v", who, err)
			}
			s := gatewaytest.NewSealer(t)
			id, sealed := s.Chunk(t, matter, 1000)
			if err := cl.PutChunk(ctx, matter, id.String(), sealed); err != nil {
				t.Fatal(err)
			}
			file := s.NewFile(t, matter)
			if _, err := cl.Commit(ctx, matter, file.String(), 0, api.CommitRequest{Manifest: s.ManifestOf(t, matter, file, 1, id), Chunks: []string{id.String()}}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Stores.Chunks.Chunk(ctx, matter, id); err != nil {
				t.Fatalf("store: %v", err)
			}
			key, _ := blob.ChunkKey(matter, id)
			rc, _, err := g.Blobs.Get(ctx, key)
			if err != nil {
				t.Fatalf("blobs: %v", err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, sealed) {
				t.Fatal("the stored chunk is not the one uploaded")
			}
			if (g.Mem != nil) != !c.o.MinIO {
				t.Fatalf("Mem = %v for %s", g.Mem, c.name)
			}
			// An outsider gets nothing.
			out := g.Client(t, g.Token(t, "ent-eve"), "EVE")
			if _, err := out.GetChunk(ctx, matter, id.String()); client.Code(err) != api.CodeForbidden {
				t.Fatalf("outsider GetChunk = %v, want %s", err, api.CodeForbidden)
			}
		})
	}
}

// Down cuts the gateway off (connections refused, a long poll in flight
// ends) and Up brings it back on the same URL with its state.
func TestDownUp(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	const matter = "2026-0002"
	cl := g.Client(t, g.Token(t, "ent-bob", "matter-"+matter+"-rw"), "LAPTOP-2")
	s := gatewaytest.NewSealer(t)
	id, sealed := s.Chunk(t, matter, 100)
	if err := cl.PutChunk(ctx, matter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	poll := make(chan error, 1)
	go func() {
		_, err := cl.Changes(ctx, matter, 0, 20e9) // would wait 20 s for a change
		poll <- err
	}()
	g.Down()
	if err := <-poll; err == nil {
		t.Fatal("a long poll survived Down")
	}
	if _, err := cl.GetChunk(ctx, matter, id.String()); err == nil || client.Code(err) != "" {
		t.Fatalf("GetChunk while down = %v, want a connection error", err)
	}
	if _, err := g.HTTP.Get(g.URL + "/v1/matters"); err == nil {
		t.Fatal("raw request while down succeeded")
	}
	g.Up()
	got, err := cl.GetChunk(ctx, matter, id.String())
	if err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("GetChunk after Up = %d bytes, %v", len(got), err)
	}
	res, err := g.HTTP.Get(g.URL + "/v1/matters")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated request after Up: %d", res.StatusCode)
	}
	var ce *client.Error
	if _, err := cl.GetChunk(ctx, "2026-9999", id.String()); !errors.As(err, &ce) {
		t.Fatalf("a refusal after Up is not a gateway answer: %v", err)
	}
}
