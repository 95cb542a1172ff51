package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/mattersync/mattersync/format"
)

// shareResult is what the page reports of one share object it opened
// streaming from the server: the metadata and the SHA-256 of the bytes, or
// the error's kind.
type shareResult struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Kind   string `json:"kind"`
}

// The recipient page's decoder (static/share.js) opens in Chromium, from a
// streamed response, what format.SealShare made, and refuses every altered
// object or key with the kind Go gives, releasing nothing.
func TestShareDecoderInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium")
	}
	p := openPage(t)
	key := format.NewShareKey()
	data := bytes.Repeat([]byte("privileged and confidential\n"), 100_000) // 2.8 MB: three segments
	var b bytes.Buffer
	if err := format.SealShare(&b, key, format.ShareMeta{Name: "Vergleich (Müller) v3.docx", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	obj := b.Bytes()
	p.serve("share", obj)
	flipped := bytes.Clone(obj)
	flipped[len(obj)-100] ^= 1
	p.serve("flipped", flipped)
	p.serve("cut", obj[:len(obj)-(len(data)%format.ShareSegmentSize)-16])
	p.serve("trailing", append(bytes.Clone(obj), 0))
	other := format.NewShareKey()
	fragment := func(k [format.ShareKeySize]byte) string { return "#" + base64.RawURLEncoding.EncodeToString(k[:]) }
	open := func(name, frag string) shareResult {
		return eval[shareResult](t, p, fmt.Sprintf(`(async () => {
			const s = await import(new URL(location.href).searchParams.get('assets') + 'share.js');
			try {
				const r = new s.ShareReader(s.parseShareKey(%q), (await fetch('/gen/%s')).body.getReader());
				const info = await r.meta();
				const parts = [];
				for await (const p of r.segments()) parts.push(p);
				const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', await new Blob(parts).arrayBuffer()));
				return { name: info.name, size: info.size, sha256: Array.from(sum, (x) => x.toString(16).padStart(2, '0')).join('') };
			} catch (e) {
				return { kind: e.kind || String(e) };
			}
		})()`, frag, name))
	}
	sum := sha256.Sum256(data)
	if got := open("share", fragment(key)); got.Name != "Vergleich (Müller) v3.docx" || got.Size != int64(len(data)) || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("opened %+v, want the name, size and bytes sealed", got)
	}
	for _, c := range []struct{ name, obj, frag, kind string }{
		{"altered fragment", "share", fragment(other), "auth failure"},
		{"fragment not a key", "share", "#abc", "bad key"},
		{"flipped bit", "flipped", fragment(key), "auth failure"},
		{"cut at a segment boundary", "cut", fragment(key), "truncated"},
		{"trailing byte", "trailing", fragment(key), "bad header"},
	} {
		if got := open(c.obj, c.frag); got.Kind != c.kind || got.SHA256 != "" {
			t.Errorf("%s: %+v, want kind %q and no bytes", c.name, got, c.kind)
		}
	}
}
