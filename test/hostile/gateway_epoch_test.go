package hostile

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// TestGatewayUnknownEpochRefused: comments and the admin CLI's warning
// said a commit under a new epoch raises the gateway's epoch; it did not,
// it was just accepted, so after a rotation whose gateway step was not
// done the old epoch stayed accepted and anything sealed under any higher
// epoch was taken. Only the admin's rotation step moves the gateway's
// epoch: an upload under an epoch it does not know yet is refused
// (409 stale_epoch, naming the repair) and moves nothing, and once the
// admin tells it, the epoch goes through.
func TestGatewayUnknownEpochRefused(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	const m = "2026-0042"
	member := g.Client(t, g.Token(t, "ent-member", "matter-"+m+"-rw"), "LAPTOP")
	admin := g.Client(t, g.Token(t, "ent-it", auth.AdminGroup), "IT")
	if _, err := admin.SetEpoch(ctx, m, 1); err != nil { // matter create's step
		t.Fatal(err)
	}
	sealer := gatewaytest.NewSealer(t)
	for _, epoch := range []uint32{2, ^uint32(0)} {
		sealer.UseEpoch(m, epoch)
		id, sealed := sealer.Chunk(t, m, 100)
		if err := member.PutChunk(ctx, m, id.String(), sealed); client.Code(err) != api.CodeStaleEpoch {
			t.Fatalf("chunk under epoch %d the gateway does not know: %v", epoch, err)
		}
		f := sealer.NewFile(t, m)
		_, err := member.Commit(ctx, m, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, f, 1)})
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Body.Code != api.CodeStaleEpoch || ce.Body.CurrentEpoch != 1 {
			t.Fatalf("commit under epoch %d the gateway does not know: %v", epoch, err)
		}
	}
	if ep, err := admin.Epoch(ctx, m); err != nil || ep.Epoch != 1 {
		t.Fatalf("epoch after refused uploads = %+v, %v; want 1", ep, err)
	}
	// The rotation's gateway step, then epoch 2 goes through and 1 is stale.
	if _, err := admin.SetEpoch(ctx, m, 2); err != nil {
		t.Fatal(err)
	}
	sealer.UseEpoch(m, 2)
	f := sealer.NewFile(t, m)
	if _, err := member.Commit(ctx, m, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, f, 1)}); err != nil {
		t.Fatalf("commit under the epoch the admin set: %v", err)
	}
	sealer.UseEpoch(m, 1)
	f = sealer.NewFile(t, m)
	if _, err := member.Commit(ctx, m, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, f, 1)}); client.Code(err) != api.CodeStaleEpoch {
		t.Fatalf("commit under the old epoch after the step: %v", err)
	}
}
