package format

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The test vectors in testdata/vectors are written by this file's
// generator (go generate ./format, i.e. go test -run ^TestVectors$ -update)
// and checked by TestVectors. Sealing uses fixed nonces so that the
// generator is reproducible; TestVectors also checks that the files are
// exactly what the generator produces.

var update = flag.Bool("update", false, "rewrite testdata/vectors")

const vectorDir = "testdata/vectors"

// outcomes maps a vector's expected outcome to the error it must produce.
var outcomes = map[string]error{
	"ok":                  nil,
	"auth failure":        ErrAuth,
	"bad header":          ErrBadHeader,
	"unsupported version": ErrUnsupportedVersion,
	"truncated":           ErrTruncated,
	"too large":           ErrTooLarge,
	"wrong matter":        ErrWrongMatter,
	"wrong epoch":         ErrWrongEpoch,
	"wrong chunk ID":      ErrWrongID,
	"wrong file ID":       ErrWrongID,
	"wrong version":       ErrWrongVersion,
	"malformed":           ErrMalformed,
}

type vector struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Kind        string `json:"kind"` // chunk, manifest, keys, chunker
	// Open the object as this matter, epoch, ID and version, with these
	// keys: epoch_key for the epoch, epoch1_key for file IDs.
	Matter    string `json:"matter,omitempty"`
	Epoch     uint32 `json:"epoch,omitempty"`
	EpochKey  string `json:"epoch_key,omitempty"`
	Epoch1Key string `json:"epoch1_key,omitempty"`
	ID        string `json:"id,omitempty"`
	Version   uint64 `json:"version,omitempty"`
	Sealed    string `json:"sealed,omitempty"`
	Outcome   string `json:"outcome"`
	// Expected results for "ok".
	Plaintext string          `json:"plaintext,omitempty"`
	Manifest  *vectorManifest `json:"manifest,omitempty"`
	Derived   *vectorDerived  `json:"derived,omitempty"`
	Chunker   *vectorChunker  `json:"chunker,omitempty"`
}

type vectorManifest struct {
	Path        string        `json:"path"`
	Deleted     bool          `json:"deleted"`
	Size        uint64        `json:"size"`
	ModTime     string        `json:"mod_time"`
	Mode        uint32        `json:"mode"`
	ContentHash string        `json:"content_hash"`
	Chunks      []vectorChunk `json:"chunks"`
	Author      string        `json:"author"`
	Device      string        `json:"device"`
	Created     string        `json:"created"`
}

type vectorChunk struct {
	ID   string `json:"id"`
	Size uint32 `json:"size"`
}

// vectorDerived pins key derivation and the keyed hashes.
type vectorDerived struct {
	ChunkIDKey      string `json:"chunk_id_key"`
	ChunkSealKey    string `json:"chunk_seal_key"`
	ManifestSealKey string `json:"manifest_seal_key"`
	FileIDKey       string `json:"file_id_key"`
	MatterTag       string `json:"matter_tag"`
	ChunkPlaintext  string `json:"chunk_plaintext"`
	ChunkID         string `json:"chunk_id"`
	ChunkObjectKey  string `json:"chunk_object_key"`
	Path            string `json:"path"`
	FileID          string `json:"file_id"`
}

// vectorChunker pins chunk boundaries. The input is SHA-256 in counter
// mode: block i = SHA-256(seed || be64(i)), truncated to length.
type vectorChunker struct {
	Seed        string `json:"seed"`
	Length      int    `json:"length"`
	InputSHA256 string `json:"input_sha256"`
	ChunkLens   []int  `json:"chunk_lengths"`
}

func (v *vector) keys(t testing.TB) *Keys {
	t.Helper()
	e1, err1 := hex.DecodeString(v.Epoch1Key)
	ek, err2 := hex.DecodeString(v.EpochKey)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	fk, err := DeriveFileIDKey(v.Matter, e1)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	k, err := DeriveKeys(fk, v.Epoch, ek)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	return k
}

func hexID(t testing.TB, s string) ID {
	id, err := ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check runs one vector the way a reader would.
func (v *vector) check(t *testing.T, c *Codec) {
	want, ok := outcomes[v.Outcome]
	if !ok {
		t.Fatalf("unknown outcome %q", v.Outcome)
	}
	switch v.Kind {
	case "chunk":
		k := v.keys(t)
		got, err := c.OpenChunk(nil, k, hexID(t, v.ID), unhex(t, v.Sealed))
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("error %v, want %q", err, v.Outcome)
		}
		if want == nil && hex.EncodeToString(got) != v.Plaintext {
			t.Fatalf("plaintext %x, want %s", got, v.Plaintext)
		}
	case "manifest":
		k := v.keys(t)
		got, err := k.OpenManifest(unhex(t, v.Sealed), hexID(t, v.ID), v.Version)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("error %v, want %q", err, v.Outcome)
		}
		if want == nil {
			if gv := toVectorManifest(got); !reflect.DeepEqual(gv, v.Manifest) {
				t.Fatalf("manifest\n got %+v\nwant %+v", gv, v.Manifest)
			}
		}
	case "keys":
		k := v.keys(t)
		d := v.Derived
		id := k.ChunkID(unhex(t, d.ChunkPlaintext))
		fid, err := k.FileIDs().FileID(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := objectKey(k.chunkSeal, KindChunk, id, 0)
		mt := matterTag(v.Matter)
		got := vectorDerived{
			ChunkIDKey:      hex.EncodeToString(mustSubkey(t, v, labelChunkID, v.Epoch)),
			ChunkSealKey:    hex.EncodeToString(k.chunkSeal),
			ManifestSealKey: hex.EncodeToString(k.manifestSeal),
			FileIDKey:       hex.EncodeToString(k.fileIDs.key),
			MatterTag:       hex.EncodeToString(mt[:]),
			ChunkPlaintext:  d.ChunkPlaintext,
			ChunkID:         id.String(),
			ChunkObjectKey:  hex.EncodeToString(ok),
			Path:            d.Path,
			FileID:          fid.String(),
		}
		if got != *d {
			t.Fatalf("derived\n got %+v\nwant %+v", got, *d)
		}
	case "chunker":
		in := counterStream(v.Chunker.Seed, v.Chunker.Length)
		if s := sha256.Sum256(in); hex.EncodeToString(s[:]) != v.Chunker.InputSHA256 {
			t.Fatalf("input SHA-256 %x, want %s", s, v.Chunker.InputSHA256)
		}
		lens, _ := chunkAll(t, NewChunker(bytes.NewReader(in)), nil)
		if !slices.Equal(lens, v.Chunker.ChunkLens) {
			t.Fatalf("chunk lengths\n got %v\nwant %v", lens, v.Chunker.ChunkLens)
		}
	default:
		t.Fatalf("unknown kind %q", v.Kind)
	}
}

func mustSubkey(t testing.TB, v *vector, label string, epoch uint32) []byte {
	k, err := deriveSubkey(unhex(t, v.EpochKey), v.Matter, epoch, label)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func toVectorManifest(m *Manifest) *vectorManifest {
	vm := &vectorManifest{
		Path: m.Path, Deleted: m.Deleted, Size: m.Size, Mode: m.Mode,
		ModTime: m.ModTime.UTC().Format(time.RFC3339Nano), Created: m.Created.UTC().Format(time.RFC3339Nano),
		ContentHash: hex.EncodeToString(m.ContentHash[:]), Author: m.Author, Device: m.Device,
		Chunks: []vectorChunk{},
	}
	for _, c := range m.Chunks {
		vm.Chunks = append(vm.Chunks, vectorChunk{c.ID.String(), c.Size})
	}
	return vm
}

func TestVectors(t *testing.T) {
	gen := generateVectors(t)
	if *update {
		if err := os.RemoveAll(vectorDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range gen {
			if err := os.WriteFile(filepath.Join(vectorDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("%d vectors, want at least 25", len(files))
	}
	c := mustCodec(t)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, gen[filepath.Base(f)]) {
			t.Errorf("%s differs from what the generator writes: run go generate ./format", f)
		}
		var v vector
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seen[v.Outcome] = true
		t.Run(v.Name, func(t *testing.T) { v.check(t, c) })
	}
	for name := range gen {
		if _, err := os.Stat(filepath.Join(vectorDir, name)); err != nil {
			t.Errorf("generator writes %s, which is missing: run go generate ./format", name)
		}
	}
	for o := range outcomes {
		if !seen[o] {
			t.Errorf("no vector has outcome %q", o)
		}
	}
}

// sealFixed seals like sealObject, but with a given nonce and GCM taking
// the nonce explicitly, to make vectors reproducible.
func sealFixed(t testing.TB, sealKey []byte, h Header, matter string, epoch uint32, id ID, payload, nonce []byte) []byte {
	h.Version, h.Epoch, h.PayloadLen = FormatVersion, epoch, uint32(len(payload))
	h.MatterTag, h.IDTag = matterTag(matter), [4]byte(id[:4])
	key, err := objectKey(sealKey, h.Kind, id, h.FileVersion)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	// Caller-chosen nonces are refused under GODEBUG=fips140=only; this is
	// test-only generation, production uses NewGCMWithRandomNonce.
	var aead cipher.AEAD
	fips140.WithoutEnforcement(func() { aead, err = cipher.NewGCM(block) })
	if err != nil {
		t.Fatal(err)
	}
	out := appendHeader(nil, h)
	var ab aadBuf
	aad := ab.build(out, matter, id)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, payload, aad)
}

// The fixed-nonce sealer writes exactly what the production one does.
func TestSealFixedMatchesSealObject(t *testing.T) {
	k := mustKeys(t, testMatter, 2)
	p := []byte("payload")
	id := k.ChunkID(p)
	s, err := sealObject(nil, k.chunkSeal, Header{Kind: KindChunk}, newBinding(testMatter), 2, id, p)
	if err != nil {
		t.Fatal(err)
	}
	if f := sealFixed(t, k.chunkSeal, Header{Kind: KindChunk}, testMatter, 2, id, p, s[HeaderSize:HeaderSize+NonceSize]); !bytes.Equal(f, s) {
		t.Fatalf("fixed-nonce seal\n%x\nproduction\n%x", f, s)
	}
}

// zstdFrame builds a zstd frame by hand (RFC 8878), so that the vectors do
// not change when the zstd encoder does: a frame without content size
// (window 1 MiB), made of raw blocks (type 0) and RLE blocks (type 1).
type zstdBlock struct {
	rle   bool
	data  []byte // raw content, or the RLE byte
	count int    // RLE repeat count
}

func zstdFrame(blocks ...zstdBlock) []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3}
	for i, b := range blocks {
		var hdr uint32
		if i == len(blocks)-1 {
			hdr = 1
		}
		if b.rle {
			hdr |= 1<<1 | uint32(b.count)<<3
		} else {
			hdr |= uint32(len(b.data)) << 3
		}
		f = append(f, byte(hdr), byte(hdr>>8), byte(hdr>>16))
		f = append(f, b.data...)
	}
	return f
}

func generateVectors(t testing.TB) map[string][]byte {
	const m, m2 = testMatter, otherMatter
	ek := func(matter string, e uint32) string { return hex.EncodeToString(testEpochKey(matter, e)) }
	k2 := mustKeys(t, m, 2)
	nonce := func(name string) []byte { s := sha256.Sum256([]byte("vector nonce " + name)); return s[:NonceSize] }
	out := map[string][]byte{}
	add := func(v vector) {
		if v.Kind == "chunk" || v.Kind == "manifest" || v.Kind == "keys" {
			if v.Matter == "" {
				v.Matter = m
			}
			if v.Epoch == 0 {
				v.Epoch = 2
			}
			v.EpochKey, v.Epoch1Key = ek(v.Matter, v.Epoch), ek(v.Matter, 1)
		}
		b, err := json.MarshalIndent(v, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%02d-%s.json", len(out)+1, v.Name)
		out[name] = append(b, '\n')
	}
	edit := func(b []byte, f func(b []byte) []byte) string { return hex.EncodeToString(f(bytes.Clone(b))) }

	// Key derivation and keyed hashes.
	{
		p := []byte("hello, matter")
		id := k2.ChunkID(p)
		fid, _ := k2.FileIDs().FileID("Pleadings/Brief.docx")
		ok, _ := objectKey(k2.chunkSeal, KindChunk, id, 0)
		idKey, _ := deriveSubkey(testEpochKey(m, 2), m, 2, labelChunkID)
		mt := matterTag(m)
		add(vector{Name: "keys", Kind: "keys", Outcome: "ok",
			Description: "subkeys of epoch 2, the file-ID key from epoch 1, a chunk ID, its object key, a file ID",
			Derived: &vectorDerived{
				ChunkIDKey: hex.EncodeToString(idKey), ChunkSealKey: hex.EncodeToString(k2.chunkSeal),
				ManifestSealKey: hex.EncodeToString(k2.manifestSeal), FileIDKey: hex.EncodeToString(k2.fileIDs.key),
				MatterTag: hex.EncodeToString(mt[:]), ChunkPlaintext: hex.EncodeToString(p), ChunkID: id.String(),
				ChunkObjectKey: hex.EncodeToString(ok), Path: "Pleadings/Brief.docx", FileID: fid.String(),
			}})
	}

	// Chunker boundaries.
	{
		const seed, n = "mattersync chunker vector 1", 48 << 20
		in := counterStream(seed, n)
		lens, _ := chunkAll(t, NewChunker(bytes.NewReader(in)), nil)
		s := sha256.Sum256(in)
		add(vector{Name: "chunker-boundaries", Kind: "chunker", Outcome: "ok",
			Description: "FastCDC boundaries (min 512 KiB, normal 1 MiB, max 8 MiB) of 48 MiB of SHA-256 counter-mode bytes",
			Chunker:     &vectorChunker{Seed: seed, Length: n, InputSHA256: hex.EncodeToString(s[:]), ChunkLens: lens}})
		zeros := make([]byte, 20<<20)
		lens, _ = chunkAll(t, NewChunker(bytes.NewReader(zeros)), nil)
		if !slices.Equal(lens, []int{MaxChunkSize, MaxChunkSize, 4 << 20}) {
			t.Fatalf("zeros: %v", lens)
		}
	}

	// Chunks.
	raw := []byte("Privileged & confidential: settlement offer of EUR 2,500,000.")
	rawID := k2.ChunkID(raw)
	chunk := func(name string, k *Keys, id ID, h Header, payload []byte) []byte {
		h.Kind = KindChunk
		return sealFixed(t, k.chunkSeal, h, k.Matter(), k.Epoch(), id, payload, nonce(name))
	}
	sealedRaw := chunk("raw", k2, rawID, Header{}, raw)
	zplain := append([]byte("Dear counsel, "), bytes.Repeat([]byte{'a'}, 1000)...)
	zID := k2.ChunkID(zplain)
	zframe := zstdFrame(zstdBlock{data: []byte("Dear counsel, ")}, zstdBlock{rle: true, data: []byte{'a'}, count: 1000})
	sealedZ := chunk("zstd", k2, zID, Header{Compressed: true}, zframe)
	one := []byte{0x42}
	oneID := k2.ChunkID(one)

	type cv struct {
		name, desc, outcome string
		id                  ID
		sealed              string
		matter              string
		epoch               uint32
		plain               []byte
	}
	otherID := k2.ChunkID([]byte("another chunk"))
	for _, c := range []cv{
		{"chunk-ok-raw", "uncompressed chunk", "ok", rawID, hex.EncodeToString(sealedRaw), "", 0, raw},
		{"chunk-ok-zstd", "zstd chunk: a raw block and an RLE block", "ok", zID, hex.EncodeToString(sealedZ), "", 0, zplain},
		{"chunk-ok-1-byte", "one-byte chunk", "ok", oneID, hex.EncodeToString(chunk("one", k2, oneID, Header{}, one)), "", 0, one},
		{"chunk-flip-ciphertext", "one bit of the ciphertext flipped", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[HeaderSize+NonceSize+3] ^= 0x10; return b }), "", 0, nil},
		{"chunk-flip-tag", "one bit of the tag flipped", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "", 0, nil},
		{"chunk-flip-nonce", "one bit of the nonce flipped", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[HeaderSize] ^= 0x80; return b }), "", 0, nil},
		{"chunk-flip-compressed-flag", "compression flag set on a raw chunk", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[6] |= 1; return b }), "", 0, nil},
		{"chunk-clear-compressed-flag", "compression flag cleared on a zstd chunk", "auth failure", zID,
			edit(sealedZ, func(b []byte) []byte { b[6] = 0; return b }), "", 0, nil},
		{"chunk-bad-magic", "magic is not msyn", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[0] = 'M'; return b }), "", 0, nil},
		{"chunk-unknown-kind", "kind 3", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[5] = 3; return b }), "", 0, nil},
		{"chunk-reserved-flag", "reserved flag bit 2 set", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[6] |= 4; return b }), "", 0, nil},
		{"chunk-tombstone-flag", "tombstone flag (manifests only) on a chunk", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[6] |= 2; return b }), "", 0, nil},
		{"chunk-reserved-byte", "reserved header byte 7 set", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[7] = 1; return b }), "", 0, nil},
		{"chunk-epoch-0", "epoch 0 in the header", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[11] = 0; return b }), "", 0, nil},
		{"chunk-file-version-set", "a chunk with a file version", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[23] = 1; return b }), "", 0, nil},
		{"chunk-empty-payload", "declared payload length 0", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 0); return b[:Overhead] }), "", 0, nil},
		{"chunk-trailing-byte", "one byte after the tag", "bad header", rawID,
			edit(sealedRaw, func(b []byte) []byte { return append(b, 0) }), "", 0, nil},
		{"chunk-version-2", "format version 2", "unsupported version", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[4] = 2; return b }), "", 0, nil},
		{"chunk-truncated-header", "only 20 bytes", "truncated", rawID,
			edit(sealedRaw, func(b []byte) []byte { return b[:20] }), "", 0, nil},
		{"chunk-truncated-tag", "last byte missing", "truncated", rawID,
			edit(sealedRaw, func(b []byte) []byte { return b[:len(b)-1] }), "", 0, nil},
		{"chunk-too-large", "declared payload one byte over 8 MiB", "too large", rawID,
			edit(sealedRaw, func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], MaxChunkSize+1); return b }), "", 0, nil},
		{"chunk-zip-bomb", "authentic zstd frame of RLE blocks expanding to 8 MiB + 128 KiB", "too large", zID,
			hex.EncodeToString(chunk("bomb", k2, zID, Header{Compressed: true}, zstdFrame(slices.Repeat([]zstdBlock{{rle: true, data: []byte{0}, count: 128 << 10}}, 65)...))), "", 0, nil},
		{"chunk-bad-zstd", "authentic payload flagged zstd that is not zstd", "malformed", zID,
			hex.EncodeToString(chunk("badzstd", k2, zID, Header{Compressed: true}, []byte("not a zstd frame"))), "", 0, nil},
		{"chunk-content-mismatch", "authentic chunk whose content does not hash to its ID", "malformed", otherID,
			hex.EncodeToString(chunk("mismatch", k2, otherID, Header{}, raw)), "", 0, nil},
		{"chunk-other-matter", "opened as matter 2026-0002", "wrong matter", rawID, hex.EncodeToString(sealedRaw), m2, 0, nil},
		{"chunk-other-matter-tag-forged", "matter tag rewritten to 2026-0002, opened as 2026-0002", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { t := matterTag(m2); copy(b[24:28], t[:]); return b }), m2, 0, nil},
		{"chunk-other-epoch", "opened with the epoch 3 key", "wrong epoch", rawID, hex.EncodeToString(sealedRaw), "", 3, nil},
		{"chunk-epoch-forged", "epoch rewritten to 3, opened with the epoch 3 key", "auth failure", rawID,
			edit(sealedRaw, func(b []byte) []byte { b[11] = 3; return b }), "", 3, nil},
		{"chunk-other-id", "opened as another chunk ID", "wrong chunk ID", otherID, hex.EncodeToString(sealedRaw), "", 0, nil},
		{"chunk-id-tag-forged", "ID tag rewritten to another chunk ID, opened as it", "auth failure", otherID,
			edit(sealedRaw, func(b []byte) []byte { copy(b[28:32], otherID[:4]); return b }), "", 0, nil},
	} {
		v := vector{Name: c.name, Description: c.desc, Kind: "chunk", Outcome: c.outcome, ID: c.id.String(),
			Sealed: c.sealed, Matter: c.matter, Epoch: c.epoch}
		if c.plain != nil {
			v.Plaintext = hex.EncodeToString(c.plain)
		}
		add(v)
	}

	// Manifests.
	a, b := []byte("first chunk"), []byte("second")
	man := &Manifest{
		Path: "Pleadings/Kläger Brief.docx", Version: 7, Size: uint64(len(a) + len(b)),
		ModTime: time.Date(2026, 11, 22, 15, 30, 0, 123456789, time.UTC), Mode: 0o644,
		ContentHash: sha256.Sum256(append(slices.Clone(a), b...)),
		Chunks:      []ChunkRef{{k2.ChunkID(a), uint32(len(a))}, {k2.ChunkID(b), uint32(len(b))}},
		Author:      "4f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b", Device: "LAPTOP-7",
		Created: time.Date(2026, 11, 22, 15, 30, 5, 0, time.UTC),
	}
	fid, _ := k2.FileIDs().FileID(man.Path)
	if pad(manifestFixed+len(man.Path)+len(man.Author)+len(man.Device)+len(man.Chunks)*(IDSize+4)) == 0 {
		t.Fatal("the sample manifest needs padding for manifest-bad-padding")
	}
	manifest := func(name string, fid ID, version uint64, h Header, payload []byte) []byte {
		h.Kind, h.FileVersion = KindManifest, version
		return sealFixed(t, k2.manifestSeal, h, m, 2, fid, payload, nonce(name))
	}
	sealedM := manifest("m", fid, 7, Header{}, man.appendEncoding(nil))
	tomb := &Manifest{Path: "Old/Draft.docx", Version: 4, Deleted: true, Author: man.Author, Device: "MACBOOK-2",
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	tombID, _ := k2.FileIDs().FileID(tomb.Path)
	otherFID, _ := k2.FileIDs().FileID("Pleadings/Other.docx")
	bad := *man
	bad.Path = "../../.ssh/authorized_keys"
	type mv struct {
		name, desc, outcome string
		fid                 ID
		version             uint64
		sealed              string
		matter              string
		epoch               uint32
		want                *Manifest
	}
	for _, c := range []mv{
		{"manifest-ok", "file version 7 with two chunks", "ok", fid, 7, hex.EncodeToString(sealedM), "", 0, man},
		{"manifest-ok-tombstone", "deleted file, version 4", "ok", tombID, 4,
			hex.EncodeToString(manifest("tomb", tombID, 4, Header{Tombstone: true}, tomb.appendEncoding(nil))), "", 0, tomb},
		{"manifest-hidden-delete", "authentic tombstone without the tombstone flag", "malformed", tombID, 4,
			hex.EncodeToString(manifest("hidden", tombID, 4, Header{}, tomb.appendEncoding(nil))), "", 0, nil},
		{"manifest-tombstone-flag-forged", "tombstone flag set on a file version", "auth failure", fid, 7,
			edit(sealedM, func(b []byte) []byte { b[6] |= 2; return b }), "", 0, nil},
		{"manifest-flip", "one bit of the ciphertext flipped", "auth failure", fid, 7,
			edit(sealedM, func(b []byte) []byte { b[HeaderSize+NonceSize+40] ^= 4; return b }), "", 0, nil},
		{"manifest-version-forged", "version rewritten 7 -> 8, opened as version 8", "auth failure", fid, 8,
			edit(sealedM, func(b []byte) []byte { b[23] = 8; return b }), "", 0, nil},
		{"manifest-next-version", "version 7 opened as version 8", "wrong version", fid, 8, hex.EncodeToString(sealedM), "", 0, nil},
		{"manifest-other-file", "opened as another file ID", "wrong file ID", otherFID, 7, hex.EncodeToString(sealedM), "", 0, nil},
		{"manifest-other-matter", "opened as matter 2026-0002", "wrong matter", fid, 7, hex.EncodeToString(sealedM), m2, 0, nil},
		{"manifest-other-epoch", "opened with the epoch 3 key", "wrong epoch", fid, 7, hex.EncodeToString(sealedM), "", 3, nil},
		{"manifest-compressed-flag", "manifests are never compressed", "bad header", fid, 7,
			edit(sealedM, func(b []byte) []byte { b[6] = 1; return b }), "", 0, nil},
		{"manifest-version-0", "file version 0 in the header", "bad header", fid, 0,
			edit(sealedM, func(b []byte) []byte { b[23] = 0; return b }), "", 0, nil},
		{"manifest-truncated", "cut in the middle of the payload", "truncated", fid, 7,
			edit(sealedM, func(b []byte) []byte { return b[:HeaderSize+NonceSize+100] }), "", 0, nil},
		{"manifest-too-large", "declared payload over 16 MiB", "too large", fid, 7,
			edit(sealedM, func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], MaxManifestSize+1); return b }), "", 0, nil},
		{"manifest-path-mismatch", "authentic manifest whose path does not hash to its file ID", "malformed", otherFID, 7,
			hex.EncodeToString(manifest("mismatch", otherFID, 7, Header{}, man.appendEncoding(nil))), "", 0, nil},
		{"manifest-unsafe-path", "authentic manifest with path ../../.ssh/authorized_keys", "malformed", fid, 7,
			hex.EncodeToString(manifest("unsafe", fid, 7, Header{}, bad.appendEncoding(nil))), "", 0, nil},
		{"manifest-bad-padding", "authentic manifest with a nonzero padding byte", "malformed", fid, 7,
			hex.EncodeToString(manifest("pad", fid, 7, Header{}, func() []byte { e := man.appendEncoding(nil); e[len(e)-1] = 1; return e }())), "", 0, nil},
	} {
		v := vector{Name: c.name, Description: c.desc, Kind: "manifest", Outcome: c.outcome, ID: c.fid.String(),
			Version: c.version, Sealed: c.sealed, Matter: c.matter, Epoch: c.epoch}
		if c.want != nil {
			v.Manifest = toVectorManifest(c.want)
		}
		add(v)
	}
	return out
}
