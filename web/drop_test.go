package web_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/mattersync/mattersync/format"
)

// dropResult is what the page reports of a drop object it sealed: the
// object in base64, or the error's kind.
type dropResult struct {
	Object string `json:"object"`
	Kind   string `json:"kind"`
}

// The request page's sealer (static/drop.js) makes, in Chromium, the
// format's vector byte for byte, and drop objects that format.OpenDrop
// opens; it refuses a fragment that is no key and a name the format
// forbids.
func TestDropSealerInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium")
	}
	p := openPage(t)
	b64 := base64.RawURLEncoding.EncodeToString
	seal := func(frag, name, body string, extra string) dropResult {
		return eval[dropResult](t, p, fmt.Sprintf(`(async () => {
			const d = await import(new URL(location.href).searchParams.get('assets') + 'drop.js');
			try {
				const file = new File([%s], %q);
				const blob = await d.sealDrop(d.parseRequestKey(%q), file, %s);
				const b = new Uint8Array(await blob.arrayBuffer());
				let s = '';
				for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
				return { object: btoa(s) };
			} catch (e) {
				return { kind: e.kind || String(e) };
			}
		})()`, body, name, frag, extra))
	}
	decode := func(r dropResult) []byte {
		t.Helper()
		if r.Kind != "" {
			t.Fatalf("sealing failed: %s", r.Kind)
		}
		b, err := base64.StdEncoding.DecodeString(r.Object)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// The vector of docs/FORMAT.md, appendix C (format.TestDropVector).
	fixed := func(first byte) *ecdh.PrivateKey {
		raw := make([]byte, format.RequestKeySize)
		for i := range raw {
			raw[i] = first + byte(i)
		}
		k, err := ecdh.X25519().NewPrivateKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	req, eph := fixed(0x20), fixed(0x40)
	jwk := fmt.Sprintf(`{segmentSize: 32, ephemeral: {kty: 'OKP', crv: 'X25519', d: %q, x: %q}}`, b64(eph.Bytes()), b64(eph.PublicKey().Bytes()))
	obj := decode(seal("#"+b64(req.PublicKey().Bytes()), "Kontoauszug.pdf", `'0123456789abcdef'.repeat(5)`, jwk))
	sum := sha256.Sum256(obj)
	if got, want := hex.EncodeToString(sum[:]), "c904a5853f457e5a2b9ccf0131e0c914bc8213cabc08350c898bd0f58433330e"; got != want {
		t.Fatalf("drop vector sealed in Chromium: sha256 %s, want %s", got, want)
	}

	// A fresh request key and ephemeral key, three real segments and a
	// name with markup: Go opens what the browser sealed.
	key := format.NewRequestKey()
	name := `<img src=x onerror=alert(1)> Kontoauszüge.pdf`
	obj = decode(seal("#"+b64(key.PublicKey().Bytes()), name, `new Uint8Array(2500000).map((_, i) => i % 251)`, `{}`))
	meta, data, err := format.OpenDrop(obj, key)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2_500_000)
	for i := range want {
		want[i] = byte(i % 251)
	}
	if meta.Name != name || meta.Size != int64(len(want)) || !bytes.Equal(data, want) {
		t.Fatalf("opened %+v (%d bytes), want the name and bytes sealed", meta, len(data))
	}
	if _, _, err := format.OpenDrop(obj, format.NewRequestKey()); err == nil {
		t.Fatal("another request's key opened the drop")
	}

	for _, c := range []struct{ name, frag, file, kind string }{
		{"fragment not a key", "#abc", "a.pdf", "bad key"},
		{"a name with a slash", "#" + b64(key.PublicKey().Bytes()), "a/b.pdf", "malformed"},
		{"a name of 401 bytes", "#" + b64(key.PublicKey().Bytes()), string(bytes.Repeat([]byte("x"), 401)), "malformed"},
	} {
		if got := seal(c.frag, c.file, `'x'`, `{}`); got.Kind != c.kind || got.Object != "" {
			t.Errorf("%s: %+v, want kind %q and no object", c.name, got, c.kind)
		}
	}
}
