package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/kms"
)

// A chunk that fails authentication is reported to the gateway (audited as
// integrity.chunk_auth with the chunk, the device and the matter), shown in
// status, leaves the local file untouched, and makes `sync --once` fail
// naming the file (issue 20).
func TestIntegrityEventReported(t *testing.T) {
	w := newFakeWorld(t)
	ctx := context.Background()
	alice, bob := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRO))
	alice.write("Brief.docx", []byte("version one"))
	alice.sync()
	bob.sync()
	alice.write("Brief.docx", []byte("version two, tampered in storage"))
	alice.sync()
	// Every chunk of the matter with one byte flipped.
	chunks := map[string]bool{}
	for k, b := range w.objects() {
		if !strings.HasPrefix(k, "m/"+w.matter+"/c/") {
			continue
		}
		b[len(b)-1] ^= 1
		if err := w.gw.Mem.Put(ctx, k, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b)); err != nil {
			t.Fatal(err)
		}
		chunks[k[strings.LastIndex(k, "/")+1:]] = true
	}
	sum, err := bob.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Integrity) != 1 || !strings.Contains(sum.Integrity[0], `"Brief.docx"`) || len(sum.Problems) != 1 {
		t.Fatalf("summary %+v: want one integrity event naming Brief.docx", sum)
	}
	if b, _ := bob.read("Brief.docx"); string(b) != "version one" {
		t.Fatalf("bob's copy is %q, want it untouched", b)
	}
	st := bob.Status()
	if len(st.Matters) != 1 || len(st.Matters[0].Errors) == 0 || !strings.Contains(strings.Join(st.Matters[0].Errors, "\n"), "integrity: ") {
		t.Fatalf("status %+v", st.Matters)
	}
	var recs []audit.Record
	w.gw.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Action, "integrity.") {
			recs = append(recs, *r)
		}
		return nil
	})
	if len(recs) != 1 || recs[0].Action != "integrity.chunk_auth" || recs[0].Result != audit.ResultOK || recs[0].Device != bob.cfg.DeviceName ||
		len(recs[0].Object) != 66 || !chunks[recs[0].Object[:64]] || recs[0].Object[64:] != "@2" {
		t.Fatalf("integrity records %+v (chunks %v)", recs, chunks)
	}
}
