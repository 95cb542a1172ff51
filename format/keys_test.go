package format

import (
	"bytes"
	"errors"
	"testing"
)

func TestDeriveKeysErrors(t *testing.T) {
	if _, err := DeriveFileIDKey("Bad Matter", testEpochKey(testMatter, 1)); err == nil {
		t.Error("DeriveFileIDKey accepted an invalid matter ID")
	}
	if _, err := DeriveFileIDKey(testMatter, make([]byte, 16)); err == nil {
		t.Error("DeriveFileIDKey accepted a 16-byte key")
	}
	fk, err := DeriveFileIDKey(testMatter, testEpochKey(testMatter, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DeriveKeys(fk, 0, testEpochKey(testMatter, 1)); err == nil {
		t.Error("DeriveKeys accepted epoch 0")
	}
	if _, err := DeriveKeys(fk, 2, make([]byte, 31)); err == nil {
		t.Error("DeriveKeys accepted a 31-byte key")
	}
	if _, err := DeriveKeys(fk, 1, testEpochKey(testMatter, 2)); err == nil {
		t.Error("DeriveKeys accepted an epoch 1 key that is not the FileIDKey's")
	}
	if _, err := DeriveKeys(nil, 1, testEpochKey(testMatter, 1)); err == nil {
		t.Error("DeriveKeys accepted a nil FileIDKey")
	}
}

func TestSubkeysDistinct(t *testing.T) {
	seen := map[string]string{}
	add := func(name string, b []byte) {
		if prev, ok := seen[string(b)]; ok {
			t.Errorf("%s equals %s", name, prev)
		}
		seen[string(b)] = name
	}
	for _, m := range []string{testMatter, otherMatter} {
		for e := uint32(1); e <= 3; e++ {
			k := mustKeys(t, m, e)
			id := k.ChunkID([]byte("x"))
			add(m+" chunk-id", id[:])
			add(m+" chunk-seal", k.chunkSeal)
			add(m+" manifest-seal", k.manifestSeal)
			if e == 1 {
				add(m+" file-id", k.fileIDs.key)
			}
		}
	}
	// Same epoch key, different matters: still different subkeys.
	a, _ := deriveSubkey(testEpochKey(testMatter, 2), testMatter, 2, labelChunkSeal)
	b, _ := deriveSubkey(testEpochKey(testMatter, 2), otherMatter, 2, labelChunkSeal)
	if bytes.Equal(a, b) {
		t.Error("subkeys do not depend on the matter ID")
	}
}

func TestFileIDStableAcrossEpochs(t *testing.T) {
	k1, k3 := mustKeys(t, testMatter, 1), mustKeys(t, testMatter, 3)
	id1, err := k1.FileIDs().FileID("Pleadings/Brief.docx")
	if err != nil {
		t.Fatal(err)
	}
	id3, _ := k3.FileIDs().FileID("Pleadings/Brief.docx")
	if id1 != id3 {
		t.Error("file ID changed across epochs")
	}
	other, _ := mustKeys(t, otherMatter, 1).FileIDs().FileID("Pleadings/Brief.docx")
	if other == id1 {
		t.Error("file ID is the same in another matter")
	}
	// NFD and NFC spellings name the same file.
	nfd, err := k1.FileIDs().FileID("Pl\u0065\u0301adings/Brief.docx")
	if err != nil {
		t.Fatal(err)
	}
	nfc, _ := k1.FileIDs().FileID("Pl\u00e9adings/Brief.docx")
	if nfd != nfc {
		t.Error("NFD and NFC paths have different file IDs")
	}
	if _, err := k1.FileIDs().FileID("../etc/passwd"); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("FileID(../etc/passwd) error = %v, want ErrUnsafePath", err)
	}
}

func TestChunkIDPerEpoch(t *testing.T) {
	p := []byte("the same plaintext")
	if mustKeys(t, testMatter, 1).ChunkID(p) == mustKeys(t, testMatter, 2).ChunkID(p) {
		t.Error("chunk ID does not depend on the epoch")
	}
	k := mustKeys(t, testMatter, 2)
	if a, b := k.ChunkID(p), mustKeys(t, testMatter, 2).ChunkID(p); a != b || a == k.ChunkID(p[1:]) {
		t.Error("chunk ID is not a function of the plaintext")
	}
}
