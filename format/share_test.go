package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func sealShareBytes(t *testing.T, key [ShareKeySize]byte, meta ShareMeta, data []byte, seg int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sealShare(&b, key, meta, bytes.NewReader(data), seg); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Round trips at and around segment boundaries, with a small segment size
// and with the real one.
func TestShareRoundTrip(t *testing.T) {
	key := NewShareKey()
	for _, seg := range []int{16, ShareSegmentSize} {
		for _, n := range []int{0, 1, seg - 1, seg, seg + 1, 3 * seg} {
			data := bytes.Repeat([]byte{byte(n)}, n)
			meta := ShareMeta{Name: "Entwurf Vergleich (Müller).docx", Size: int64(n)}
			obj := sealShareBytes(t, key, meta, data, seg)
			segs := max((n+seg-1)/seg, 1)
			if want := shareHeaderSize + shareMetaSize + 16 + n + 16*segs; len(obj) != want {
				t.Fatalf("seg %d, %d bytes: object of %d bytes, want %d", seg, n, len(obj), want)
			}
			m, got, err := OpenShare(obj, key)
			if err != nil || m != meta || !bytes.Equal(got, data) {
				t.Fatalf("seg %d, %d bytes: %+v, %d bytes, %v", seg, n, m, len(got), err)
			}
			if bytes.Contains(obj, []byte("Vergleich")) {
				t.Fatal("the name is in the clear")
			}
		}
	}
}

// Every way to alter a share object fails with its error and no bytes.
func TestShareRefusals(t *testing.T) {
	key := NewShareKey()
	data := []byte(strings.Repeat("privileged and confidential ", 10)) // 280 bytes: 5 segments of 64
	obj := sealShareBytes(t, key, ShareMeta{Name: "a.txt", Size: int64(len(data))}, data, 64)
	segStart := shareHeaderSize + shareMetaSize + 16
	flip := func(i int) []byte { o := bytes.Clone(obj); o[i] ^= 1; return o }
	swapped := bytes.Clone(obj)
	copy(swapped[segStart:], obj[segStart+80:segStart+160])
	copy(swapped[segStart+80:], obj[segStart:segStart+80])
	other := NewShareKey()
	for _, c := range []struct {
		name string
		obj  []byte
		key  [ShareKeySize]byte
		want error
	}{
		{"wrong key (an altered fragment)", obj, other, ErrAuth},
		{"flipped header bit (segment size)", flip(10), key, ErrAuth},
		{"flipped metadata bit", flip(shareHeaderSize + 3), key, ErrAuth},
		{"flipped data bit", flip(segStart + 100), key, ErrAuth},
		{"flipped tag bit", flip(len(obj) - 1), key, ErrAuth},
		{"segments swapped", swapped, key, ErrAuth},
		{"cut at a segment boundary", obj[:len(obj)-(280-256)-16], key, ErrTruncated},
		{"cut short", obj[:len(obj)-1], key, ErrTruncated},
		{"trailing byte", append(bytes.Clone(obj), 0), key, ErrBadHeader},
		{"not a share object", flip(0), key, ErrBadHeader},
		{"a newer version", func() []byte { o := bytes.Clone(obj); o[4] = 2; return o }(), key, ErrUnsupportedVersion},
		{"header only", obj[:shareHeaderSize], key, ErrTruncated},
		{"empty", nil, key, ErrTruncated},
	} {
		m, got, err := OpenShare(c.obj, c.key)
		if !errors.Is(err, c.want) || got != nil || m != (ShareMeta{}) {
			t.Errorf("%s: %v (%d bytes, %+v), want %v and nothing", c.name, err, len(got), m, c.want)
		}
	}
}

func TestShareSealRefusals(t *testing.T) {
	key := NewShareKey()
	var b bytes.Buffer
	for _, name := range []string{"", "a/b", `a\b`, "..", strings.Repeat("x", 401), "bad\xff"} {
		if err := SealShare(&b, key, ShareMeta{Name: name}, bytes.NewReader(nil)); err == nil {
			t.Errorf("name %q sealed", name)
		}
	}
	if err := SealShare(&b, key, ShareMeta{Name: "a", Size: 5}, strings.NewReader("abc")); err == nil {
		t.Error("a file shorter than its size sealed")
	}
	if err := SealShare(&b, key, ShareMeta{Name: "a", Size: 2}, strings.NewReader("abc")); err == nil {
		t.Error("a file longer than its size sealed")
	}
}

// The vector the browser's decoder is tested on (web/): a share object is
// a function of its key, metadata and bytes (nonces are counters under
// keys used once), so its SHA-256 is pinned.
func TestShareVector(t *testing.T) {
	var key [ShareKeySize]byte
	for i := range key {
		key[i] = byte(i)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 5) // 80 bytes, segments of 32: 3
	obj := sealShareBytes(t, key, ShareMeta{Name: "Brief.pdf", Size: 80}, data, 32)
	sum := sha256.Sum256(obj)
	const want = "9367a020cb18f0b9e510d53262822a8c73ceadbe77936bc67174260c2fe7eff0"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("share vector: sha256 %s, want %s", got, want)
	}
}
