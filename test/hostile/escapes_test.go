package hostile

import (
	"context"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/kms"
)

// escapeName is what a member can seal as author and device: a terminal
// title change, a screen clear, a C1 CSI and a right-to-left override.
const escapeName = "LAPTOP\x1b]0;you are hacked\x07\x1b[2J\u009b31m\u202e"

func rawEscapes(s string) bool { return strings.ContainsAny(s, "\x1b\x07\u009b\u202e") }

// A member seals terminal escape sequences into a manifest's author and
// device: `mattersync versions` and `mattersync conflicts` must show them
// escaped, never send them to the terminal.
func TestManifestNamesCannotDriveTheTerminal(t *testing.T) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	bob := e.agent(e.member(kms.RoleRW), nil)
	bob.sync()
	edit := func(m *format.Manifest) { m.Author, m.Device = escapeName, escapeName }
	mallory.file("Brief.docx", []byte("v1"), 1, edit)
	bob.sync()
	vs, err := bob.Versions(context.Background(), bob.path("Brief.docx"))
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions: %v %+v", err, vs)
	}
	if rawEscapes(vs[0].Author) || rawEscapes(vs[0].Device) || !strings.Contains(vs[0].Device, `\x1b]0;`) {
		t.Fatalf("versions shows author %q, device %q", vs[0].Author, vs[0].Device)
	}
	// A local edit meets a remote one: the conflict's reason names the
	// remote author and device.
	bob.write("Brief.docx", []byte("bob's edit"))
	mallory.file("Brief.docx", []byte("v2"), 2, edit)
	bob.sync()
	cs, err := bob.idx.Conflicts(context.Background())
	if err != nil || len(cs) != 1 {
		t.Fatalf("conflicts: %v %+v", err, cs)
	}
	if rawEscapes(cs[0].Reason) || rawEscapes(cs[0].Copy) {
		t.Fatalf("conflict recorded with raw escapes: %+v", cs[0])
	}
}
