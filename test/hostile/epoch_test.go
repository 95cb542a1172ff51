package hostile

import (
	"context"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// A removed member keeps the matter's old epoch keys. With write access to
// the storage (or a gateway serving what they wrote) they forge a new
// version sealed under the old epoch, where the gateway recorded the
// current one at commit. FORMAT.md §12: agents must refuse it.
func TestVersionUnderAnotherEpochRefused(t *testing.T) {
	e := newEnv(t)
	removed := e.forger(e.member(kms.RoleRW)) // holds epoch 1's keys for good
	bob := e.agent(e.member(kms.RoleRW), nil)
	removed.file("Brief.docx", []byte("v1, legitimately under epoch 1"), 1, nil)
	bob.sync()
	if _, err := e.vault.Admin.Rotate(context.Background(), e.matter, nil); err != nil {
		t.Fatal(err)
	}
	// Version 2 as the gateway recorded it was committed under epoch 2;
	// what storage now holds for it is sealed under epoch 1.
	removed.file("Brief.docx", []byte("v2, forged under the old epoch"), 2, nil)
	e.gw.setTamper(func(v *api.FileVersion) {
		if v.Version == 2 {
			v.Epoch = 2
		}
	})
	bob.write("Other.txt", []byte("the rest still syncs"))
	bob.sync()
	if got, _ := bob.read("Brief.docx"); string(got) != "v1, legitimately under epoch 1" {
		t.Fatalf("the forged version was written: %q", got)
	}
	if !hasProblem(bob.errors(), "sealed under epoch 1 but was committed under epoch 2") {
		t.Fatalf("not reported: %q", bob.errors())
	}
}
