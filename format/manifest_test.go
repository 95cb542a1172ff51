package format

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleManifest(k *Keys) *Manifest {
	a, b := []byte("first chunk"), []byte("second")
	return &Manifest{
		Path:        "Pleadings/Kläger Brief.docx",
		Version:     7,
		Size:        uint64(len(a) + len(b)),
		ModTime:     time.Date(2026, 11, 22, 15, 30, 0, 123456789, time.UTC),
		Mode:        0o644,
		ContentHash: sha256.Sum256(append(a, b...)),
		Chunks:      []ChunkRef{{k.ChunkID(a), uint32(len(a))}, {k.ChunkID(b), uint32(len(b))}},
		Author:      "4f1c2a9e-entity",
		Device:      "LAPTOP-7",
		Created:     time.Date(2026, 11, 22, 15, 30, 5, 0, time.UTC),
	}
}

func TestManifestRoundTrip(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	for name, m := range map[string]*Manifest{
		"file":      sampleManifest(k),
		"empty":     {Path: "empty.txt", Version: 1, ContentHash: sha256.Sum256(nil)},
		"tombstone": {Path: "gone.pdf", Version: 3, Deleted: true, Author: "e", Device: "d"},
		"zero times and long names": {Path: strings.Repeat("d/", 100) + "f", Version: MaxFileVersion,
			Author: strings.Repeat("a", MaxNameLen), Device: strings.Repeat("ü", MaxNameLen/2)},
		"before 1970": {Path: "old", Version: 1, ModTime: time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC)},
	} {
		sealed, fid, err := k.SealManifest([]byte("prefix"), m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want, _ := k.FileIDs().FileID(m.Path); fid != want {
			t.Fatalf("%s: file ID %s, want %s", name, fid, want)
		}
		sealed = sealed[len("prefix"):]
		// What the gateway sees, from the first HeaderSize bytes alone.
		h, err := ParseHeader(sealed[:HeaderSize])
		if err != nil || h.Kind != KindManifest || h.FileVersion != m.Version || h.Tombstone != m.Deleted ||
			h.Epoch != 2 || h.SealedSize() != int64(len(sealed)) || h.Check(KindManifest, testMatter, fid, m.Version) != nil {
			t.Errorf("%s: header %+v, %v", name, h, err)
		}
		if (len(sealed)-Overhead)%256 != 0 {
			t.Errorf("%s: payload of %d bytes is not padded to 256", name, len(sealed)-Overhead)
		}
		got, err := k.OpenManifest(sealed, fid, m.Version)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", name, got, m)
		}
	}
	// A local time zone comes back as the same instant, in UTC.
	m := sampleManifest(k)
	m.ModTime = m.ModTime.In(time.FixedZone("CET", 3600))
	s, fid, _ := k.SealManifest(nil, m)
	got, err := k.OpenManifest(s, fid, m.Version)
	if err != nil || !got.ModTime.Equal(m.ModTime) {
		t.Fatalf("time zone: %v, %v", got.ModTime, err)
	}
}

func TestManifestInvalid(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	for name, f := range map[string]func(m *Manifest){
		"unsafe path":      func(m *Manifest) { m.Path = "../escape" },
		"NFD path":         func(m *Manifest) { m.Path = "Pl\u0065\u0301adings" },
		"version 0":        func(m *Manifest) { m.Version = 0 },
		"version too big":  func(m *Manifest) { m.Version = MaxFileVersion + 1 },
		"size mismatch":    func(m *Manifest) { m.Size++ },
		"empty chunk":      func(m *Manifest) { m.Chunks[0].Size = 0; m.Size -= 11 },
		"huge chunk":       func(m *Manifest) { m.Chunks[0].Size = MaxChunkSize + 1 },
		"tombstone chunks": func(m *Manifest) { m.Deleted = true },
		"setuid":           func(m *Manifest) { m.Mode = 0o4755 },
		"long author":      func(m *Manifest) { m.Author = strings.Repeat("a", MaxNameLen+1) },
		"bad UTF-8 device": func(m *Manifest) { m.Device = "\xff" },
		"too many chunks": func(m *Manifest) {
			m.Chunks = make([]ChunkRef, MaxManifestSize/36+1)
			for i := range m.Chunks {
				m.Chunks[i].Size = 1
			}
			m.Size = uint64(len(m.Chunks))
		},
	} {
		m := sampleManifest(k)
		f(m)
		if _, _, err := k.SealManifest(nil, m); err == nil {
			t.Errorf("%s: sealed", name)
		}
	}
}

func TestManifestTamper(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	m := sampleManifest(k)
	sealed, fid, err := k.SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[i/8] ^= 1 << (i % 8)
		if _, err := k.OpenManifest(b, fid, m.Version); err == nil {
			t.Fatalf("flipping bit %d went undetected", i)
		}
	}
	for n := range len(sealed) {
		if _, err := k.OpenManifest(sealed[:n], fid, m.Version); !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated to %d bytes: %v, want ErrTruncated", n, err)
		}
	}
	otherFID, _ := k.FileIDs().FileID("Pleadings/other.docx")
	for _, tc := range []struct {
		name    string
		k       *Keys
		fid     ID
		version uint64
		want    error
	}{
		{"other matter", mustKeys(t, otherMatter, 2), fid, 7, ErrWrongMatter},
		{"other epoch", mustKeys(t, testMatter, 1), fid, 7, ErrWrongEpoch},
		{"other file", k, otherFID, 7, ErrWrongID},
		{"next version", k, fid, 8, ErrWrongVersion},
		{"previous version", k, fid, 6, ErrWrongVersion},
	} {
		if _, err := tc.k.OpenManifest(sealed, tc.fid, tc.version); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Rewriting the clear version to match does not help.
	b := bytes.Clone(sealed)
	b[23] = 8
	if _, err := k.OpenManifest(b, fid, 8); !errors.Is(err, ErrAuth) {
		t.Errorf("version rewritten: %v, want ErrAuth", err)
	}
	// A chunk is not a manifest.
	c := mustCodec(t)
	p := []byte("chunk")
	sc, _ := c.SealChunk(nil, k, k.ChunkID(p), p)
	if _, err := k.OpenManifest(sc, k.ChunkID(p), 0); !errors.Is(err, ErrBadHeader) {
		t.Errorf("chunk opened as manifest: %v, want ErrBadHeader", err)
	}
}

// A member with the key can seal a manifest under another file's ID, or
// with a path that escapes; OpenManifest refuses both.
func TestManifestInsider(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	m := sampleManifest(k)
	victim, _ := k.FileIDs().FileID("Pleadings/Victim.docx")
	bad := *m
	bad.Path = "../../.ssh/authorized_keys"
	for name, tc := range map[string]struct {
		fid     ID
		payload []byte
	}{
		"path of another file": {victim, m.appendEncoding(nil)},
		"escaping path":        {victim, bad.appendEncoding(nil)},
		"nonzero padding":      {victim, append(m.appendEncoding(nil)[:255], 1)},
		"short":                {victim, m.appendEncoding(nil)[:40]},
	} {
		s, err := sealObject(nil, k.manifestSeal, Header{Kind: KindManifest, FileVersion: 7}, newBinding(testMatter), 2, tc.fid, tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.OpenManifest(s, tc.fid, 7); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// Decoding is canonical: whatever decodes re-encodes to the same bytes.
func FuzzDecodeManifest(f *testing.F) {
	k := mustKeys(f, testMatter, 2)
	f.Add(sampleManifest(k).appendEncoding(nil))
	f.Add((&Manifest{Path: "a", Version: 1, Deleted: true}).appendEncoding(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		if enc := m.appendEncoding(nil); !bytes.Equal(enc, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, enc)
		}
	})
}

func FuzzOpenManifest(f *testing.F) {
	k := mustKeys(f, testMatter, 2)
	m := sampleManifest(k)
	s, fid, err := k.SealManifest(nil, m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s, fid[:4], m.Version)
	f.Add(s[:HeaderSize], fid[:4], m.Version)
	f.Fuzz(func(t *testing.T, sealed, idPrefix []byte, version uint64) {
		var id ID
		copy(id[:], fid[:])
		copy(id[:], idPrefix)
		got, err := k.OpenManifest(sealed, id, version)
		if err == nil {
			if version != m.Version || id != fid || !reflect.DeepEqual(got, m) {
				t.Fatalf("opened a manifest that was never sealed: %+v", got)
			}
			return
		}
		for _, e := range []error{ErrTruncated, ErrBadHeader, ErrUnsupportedVersion, ErrTooLarge,
			ErrWrongMatter, ErrWrongEpoch, ErrWrongID, ErrWrongVersion, ErrAuth, ErrMalformed} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unclassified error %v", err)
	})
}

// The gateway's commit rule: the sealed version must be base+1, for the
// URL's matter and file ID, checked without any key.
func TestGatewayCommitRule(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	m := sampleManifest(k) // version 7
	s, fid, err := k.SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(s[:HeaderSize])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base   uint64
		matter string
		fid    ID
		want   error
	}{
		{6, testMatter, fid, nil},
		{7, testMatter, fid, ErrWrongVersion},
		{5, testMatter, fid, ErrWrongVersion},
		{6, otherMatter, fid, ErrWrongMatter},
		{6, testMatter, k.ChunkID(nil), ErrWrongID},
	} {
		if err := h.Check(KindManifest, tc.matter, tc.fid, tc.base+1); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("base %d, matter %s: %v, want %v", tc.base, tc.matter, err, tc.want)
		}
	}
	if err := h.Check(KindChunk, testMatter, fid, 0); !errors.Is(err, ErrBadHeader) {
		t.Errorf("manifest accepted as chunk upload: %v", err)
	}
}
