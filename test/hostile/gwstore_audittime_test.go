package hostile

import (
	"context"
	"io"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 21, audit time: a record's time is when its request arrived, so
// a request answered after a revocation could appear before it. Records
// now also carry the decision time, taken as the record is linked into
// the chain: a request that arrived before the deny and was answered
// after it has an earlier time but a later decision and sequence number.
func TestGWStoreAuditDecisionTime(t *testing.T) {
	blobs := &gwsBlobs{}
	w := newGWSWorld(t, gatewaytest.Options{WrapBlobs: func(b gateway.Blobs) gateway.Blobs { blobs.Blobs = b; return blobs }})
	ctx := context.Background()
	_, id, _ := w.commit(t, 900)
	entered, release := make(chan struct{}), make(chan struct{})
	blobs.set(func(ctx context.Context, key string) (io.ReadCloser, int64, error, bool) {
		if isManifestKey(key) {
			return nil, 0, nil, false
		}
		blobs.set(nil)
		close(entered)
		<-release
		return nil, 0, nil, false
	})
	reader := w.reader(t, "ent-late")
	done := make(chan error, 1)
	go func() { _, err := reader.GetChunk(ctx, gwsMatter, id.String()); done <- err }()
	<-entered // arrived, authorized, reading the chunk
	admin := w.g.Client(t, w.g.Token(t, "ent-admin", auth.AdminGroup), "ADMIN-PC")
	if err := admin.Deny(ctx, "ent-late", "user-ent-late", "left the firm"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var deny, read *audit.Record
	w.g.Stores.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		switch {
		case r.Action == "admin.deny.add":
			deny = r
		case r.Action == "chunk.get" && r.Entity == "ent-late":
			read = r
		}
		if r.Decided.IsZero() {
			t.Errorf("record %d (%s) has no decision time", r.Seq, r.Action)
		}
		return nil
	})
	if deny == nil || read == nil {
		t.Fatalf("records: deny %v, read %v", deny, read)
	}
	if !(read.Time.Before(deny.Time) && read.Seq > deny.Seq && !read.Decided.Before(deny.Decided)) {
		t.Fatalf("the read arrived before the deny and was decided after it: read time %s decided %s seq %d; deny time %s decided %s seq %d",
			read.Time, read.Decided, read.Seq, deny.Time, deny.Decided, deny.Seq)
	}
	if rep, err := audit.Verify(ctx, w.g.Stores.Audit, nil, audit.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("the chain with decision times: %+v, %v", rep, err)
	}
}
