package format

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func sealDropBytes(t *testing.T, eph *ecdh.PrivateKey, reqPub []byte, meta ShareMeta, data []byte, seg int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sealDrop(&b, eph, reqPub, meta, bytes.NewReader(data), seg); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func fixedX25519(t *testing.T, first byte) *ecdh.PrivateKey {
	t.Helper()
	raw := make([]byte, RequestKeySize)
	for i := range raw {
		raw[i] = first + byte(i)
	}
	k, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDropRoundTrip(t *testing.T) {
	req := NewRequestKey()
	for _, seg := range []int{16, ShareSegmentSize} {
		for _, n := range []int{0, 1, seg, seg + 1, 3 * seg} {
			data := bytes.Repeat([]byte{byte(n)}, n)
			meta := ShareMeta{Name: "Kontoauszüge 2025.pdf", Size: int64(n)}
			obj := sealDropBytes(t, NewRequestKey(), req.PublicKey().Bytes(), meta, data, seg)
			segs := max((n+seg-1)/seg, 1)
			if want := dropPrefixSize + shareMetaSize + 16 + n + 16*segs; len(obj) != want {
				t.Fatalf("seg %d, %d bytes: object of %d bytes, want %d", seg, n, len(obj), want)
			}
			m, got, err := OpenDrop(obj, req)
			if err != nil || m != meta || !bytes.Equal(got, data) {
				t.Fatalf("seg %d, %d bytes: %+v, %d bytes, %v", seg, n, m, len(got), err)
			}
			if bytes.Contains(obj, []byte("Kontoausz")) {
				t.Fatal("the name is in the clear")
			}
		}
	}
	var b bytes.Buffer
	if err := SealDrop(&b, req.PublicKey().Bytes(), ShareMeta{Name: "a.txt", Size: 3}, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := OpenDrop(b.Bytes(), req); err != nil || string(got) != "abc" {
		t.Fatalf("SealDrop: %q, %v", got, err)
	}
}

// dropRefusal is a way to alter a drop object, and the error both openers
// give it.
type dropRefusal struct {
	name string
	obj  []byte
	key  *ecdh.PrivateKey
	want error
}

// dropRefusals returns the ways to alter obj, a drop of data (210 bytes
// in 4 segments of 64) sealed to req, that the openers refuse.
func dropRefusals(t *testing.T) (req *ecdh.PrivateKey, data, obj []byte, cases []dropRefusal) {
	req = NewRequestKey()
	data = []byte(strings.Repeat("statement of account ", 10)) // 210 bytes: 4 segments of 64
	obj = sealDropBytes(t, NewRequestKey(), req.PublicKey().Bytes(), ShareMeta{Name: "a.txt", Size: int64(len(data))}, data, 64)
	segStart := dropPrefixSize + shareMetaSize + 16
	flip := func(i int) []byte { o := bytes.Clone(obj); o[i] ^= 1; return o }
	swapped := bytes.Clone(obj)
	copy(swapped[segStart:], obj[segStart+80:segStart+160])
	copy(swapped[segStart+80:], obj[segStart:segStart+80])
	share := sealShareBytes(t, NewShareKey(), ShareMeta{Name: "a.txt", Size: 1}, []byte("x"), 64)
	lowOrder := bytes.Clone(obj)
	copy(lowOrder[shareHeaderSize:dropPrefixSize], make([]byte, RequestKeySize)) // the zero point
	return req, data, obj, []dropRefusal{
		{"another request's key", obj, NewRequestKey(), ErrAuth},
		{"flipped header bit (segment size)", flip(10), req, ErrAuth},
		{"flipped ephemeral key bit", flip(shareHeaderSize + 5), req, ErrAuth},
		{"low-order ephemeral key", lowOrder, req, ErrAuth},
		{"flipped metadata bit", flip(dropPrefixSize + 3), req, ErrAuth},
		{"flipped data bit", flip(segStart + 100), req, ErrAuth},
		{"flipped tag bit", flip(len(obj) - 1), req, ErrAuth},
		{"segments swapped", swapped, req, ErrAuth},
		{"cut at a segment boundary", obj[:len(obj)-(210-192)-16], req, ErrTruncated},
		{"cut short", obj[:len(obj)-1], req, ErrTruncated},
		{"trailing byte", append(bytes.Clone(obj), 0), req, ErrBadHeader},
		{"a share object", share, req, ErrBadHeader},
		{"a newer version", func() []byte { o := bytes.Clone(obj); o[4] = 2; return o }(), req, ErrUnsupportedVersion},
		{"header only", obj[:shareHeaderSize], req, ErrTruncated},
		{"empty", nil, req, ErrTruncated},
	}
}

// Every way to alter a drop object fails with its error and no bytes.
func TestDropRefusals(t *testing.T) {
	_, _, obj, cases := dropRefusals(t)
	for _, c := range cases {
		m, got, err := OpenDrop(c.obj, c.key)
		if !errors.Is(err, c.want) || got != nil || m != (ShareMeta{}) {
			t.Errorf("%s: %v (%d bytes, %+v), want %v and nothing", c.name, err, len(got), m, c.want)
		}
	}
	if _, _, err := OpenShare(obj, NewShareKey()); !errors.Is(err, ErrBadHeader) {
		t.Errorf("a drop opened as a share: %v, want %v", err, ErrBadHeader)
	}
	var b bytes.Buffer
	if err := SealDrop(&b, []byte("short"), ShareMeta{Name: "a"}, bytes.NewReader(nil)); err == nil {
		t.Error("sealed to a malformed public key")
	}
}

// The streaming opener refuses every altered object as OpenDrop does,
// with the same error, and what it wrote is never more than a prefix of
// the file (the segments that authenticated before the failure).
func TestOpenDropToRefusals(t *testing.T) {
	req, data, obj, cases := dropRefusals(t)
	var w bytes.Buffer
	check := func(name string, r io.Reader, size int64, key *ecdh.PrivateKey, want error) {
		t.Helper()
		w.Reset()
		m, err := OpenDropTo(&w, r, size, key)
		if !errors.Is(err, want) || m != (ShareMeta{}) || !bytes.HasPrefix(data, w.Bytes()) {
			t.Errorf("%s: %v (%+v, wrote %q), want %v and a prefix at most", name, err, m, w.Bytes(), want)
		}
	}
	for _, c := range cases {
		check(c.name, bytes.NewReader(c.obj), int64(len(c.obj)), c.key, c.want)
	}
	// The size and the stream disagree.
	check("stream shorter than its size", bytes.NewReader(obj[:len(obj)-1]), int64(len(obj)), req, ErrTruncated)
	check("stream ends inside the header", bytes.NewReader(obj[:10]), int64(len(obj)), req, ErrTruncated)
	check("stream longer than its size", bytes.NewReader(append(bytes.Clone(obj), 0)), int64(len(obj)), req, ErrBadHeader)
	check("size larger than the object", bytes.NewReader(obj), int64(len(obj))+1, req, ErrBadHeader)
	check("size smaller than the object", bytes.NewReader(obj), int64(len(obj))-1, req, ErrTruncated)
	// A reader's own error is passed on, not taken for a damaged object.
	cut := errors.New("connection reset")
	check("reader error", io.MultiReader(bytes.NewReader(obj[:700]), iotest.ErrReader(cut)), int64(len(obj)), req, cut)
	if w.Len() == 0 || w.Len() >= len(data) {
		t.Errorf("reader error after the first segment: wrote %d bytes", w.Len())
	}
	// And the writer's.
	full := errors.New("disk full")
	if _, err := OpenDropTo(failWriter{full}, bytes.NewReader(obj), int64(len(obj)), req); !errors.Is(err, full) {
		t.Errorf("writer error: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestOpenDropToRoundTrip(t *testing.T) {
	req := NewRequestKey()
	for _, seg := range []int{16, 64} {
		for _, n := range []int{0, 1, seg - 1, seg, seg + 1, 3 * seg, 3*seg + 5} {
			data := make([]byte, n)
			rand.Read(data)
			meta := ShareMeta{Name: "Vertrag.docx", Size: int64(n)}
			obj := sealDropBytes(t, NewRequestKey(), req.PublicKey().Bytes(), meta, data, seg)
			var w bytes.Buffer
			// One byte at a time: short reads are the network's way.
			m, err := OpenDropTo(&w, iotest.OneByteReader(bytes.NewReader(obj)), int64(len(obj)), req)
			if err != nil || m != meta || !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("seg %d, %d bytes: %+v, %d bytes, %v", seg, n, m, w.Len(), err)
			}
		}
	}
}

// TestOpenDropToBoundedMemory: opening a 32 MiB drop allocates about one
// segment (1 MiB), not the object (OpenDrop holds it and the file). Bytes
// allocated, not time, are measured.
func TestOpenDropToBoundedMemory(t *testing.T) {
	req := NewRequestKey()
	const size = 32 << 20
	var obj bytes.Buffer
	if err := SealDrop(&obj, req.PublicKey().Bytes(), ShareMeta{Name: "scan.pdf", Size: size}, io.LimitReader(zeroReader{}, size)); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := OpenDropTo(h, bytes.NewReader(obj.Bytes()), int64(obj.Len()), req); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("opened a %d MiB drop allocating %d KiB", size>>20, alloc>>10)
	if alloc > 4<<20 {
		t.Fatalf("opening a %d MiB drop allocated %d KiB: more than a few segments", size>>20, alloc>>10)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestRequestKeyWrap(t *testing.T) {
	ek := bytes.Repeat([]byte{7}, EpochKeySize)
	priv := NewRequestKey()
	pub := priv.PublicKey().Bytes()
	w, err := WrapRequestKey("2026-0001", 3, ek, priv)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := RequestKeyEpoch(w); err != nil || e != 3 {
		t.Fatalf("epoch %d, %v", e, err)
	}
	got, err := UnwrapRequestKey("2026-0001", ek, w, pub)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("unwrap: %v", err)
	}
	other := bytes.Repeat([]byte{8}, EpochKeySize)
	flipped := bytes.Clone(w)
	flipped[len(w)-3] ^= 1
	epochChanged := bytes.Clone(w)
	epochChanged[4] ^= 1
	for _, c := range []struct {
		name, matter string
		key, w, pub  []byte
		want         error
	}{
		{"another matter", "2026-0002", ek, w, pub, ErrAuth},
		{"another epoch key", "2026-0001", other, w, pub, ErrAuth},
		{"another public key", "2026-0001", ek, w, NewRequestKey().PublicKey().Bytes(), ErrAuth},
		{"a flipped bit", "2026-0001", ek, flipped, pub, ErrAuth},
		{"the epoch changed", "2026-0001", ek, epochChanged, pub, ErrAuth},
		{"cut short", "2026-0001", ek, w[:len(w)-1], pub, ErrBadHeader},
		{"a newer version", "2026-0001", ek, append([]byte{2}, w[1:]...), pub, ErrUnsupportedVersion},
	} {
		if k, err := UnwrapRequestKey(c.matter, c.key, c.w, c.pub); !errors.Is(err, c.want) || k != nil {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := WrapRequestKey("../x", 1, ek, priv); err == nil {
		t.Error("wrapped for a malformed matter ID")
	}
}

// The vector the browser's sealer is tested on (web/): with the ephemeral
// key fixed, a drop object is a function of the request key, metadata
// and bytes, so its SHA-256 is pinned.
func TestDropVector(t *testing.T) {
	req := fixedX25519(t, 0x20) // private 20 21 … 3f
	eph := fixedX25519(t, 0x40) // private 40 41 … 5f
	data := bytes.Repeat([]byte("0123456789abcdef"), 5)
	obj := sealDropBytes(t, eph, req.PublicKey().Bytes(), ShareMeta{Name: "Kontoauszug.pdf", Size: 80}, data, 32)
	sum := sha256.Sum256(obj)
	t.Logf("request public key %x, ephemeral public key %x", req.PublicKey().Bytes(), eph.PublicKey().Bytes())
	const want = "c904a5853f457e5a2b9ccf0131e0c914bc8213cabc08350c898bd0f58433330e"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("drop vector: sha256 %s, want %s", got, want)
	}
}

// FuzzOpenDropTo: on any bytes, the streaming opener and OpenDrop agree:
// the same error kind, or the same file.
func FuzzOpenDropTo(f *testing.F) {
	req := fixedX25519(&testing.T{}, 0x20)
	_, _, _, cases := dropRefusals(&testing.T{})
	for _, c := range cases {
		f.Add(c.obj)
	}
	var ok bytes.Buffer
	if err := sealDrop(&ok, fixedX25519(&testing.T{}, 0x40), req.PublicKey().Bytes(), ShareMeta{Name: "a.txt", Size: 70}, bytes.NewReader(make([]byte, 70)), 32); err != nil {
		f.Fatal(err)
	}
	f.Add(ok.Bytes())
	kinds := []error{ErrTruncated, ErrBadHeader, ErrUnsupportedVersion, ErrAuth, ErrMalformed}
	kind := func(err error) error {
		for _, k := range kinds {
			if errors.Is(err, k) {
				return k
			}
		}
		return err
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		m1, b1, err1 := OpenDrop(obj, req)
		var w bytes.Buffer
		m2, err2 := OpenDropTo(&w, bytes.NewReader(obj), int64(len(obj)), req)
		if kind(err1) != kind(err2) || m1 != m2 || err1 == nil && !bytes.Equal(b1, w.Bytes()) {
			t.Fatalf("OpenDrop: %+v, %v; OpenDropTo: %+v, %v", m1, err1, m2, err2)
		}
	})
}
