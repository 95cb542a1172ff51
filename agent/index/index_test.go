package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestIndexRoundTripAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutMatter(ctx, Matter{ID: "2026-0001", Name: "Demo v. Example", Role: "rw", Folder: "Demo v. Example [2026-0001]"}); err != nil {
		t.Fatal(err)
	}
	f := File{Matter: "2026-0001", Path: "Pleadings/Motion.docx", FileID: "ab", Size: 10, MtimeNs: 123, Mode: 0o644, Hash: []byte{1, 2, 3}, Version: 4}
	if err := d.PutFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCursor(ctx, "2026-0001", 17); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything survives a reopen, and migrations are not re-applied.
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.File(ctx, "2026-0001", "Pleadings/Motion.docx")
	if err != nil {
		t.Fatal(err)
	}
	if got.FileID != f.FileID || got.Version != 4 || got.Size != 10 || !bytes.Equal(got.Hash, f.Hash) || got.Mode != 0o644 {
		t.Fatalf("File = %+v, want %+v", got, f)
	}
	byID, err := d.FileByID(ctx, "2026-0001", "ab")
	if err != nil || byID.Path != f.Path {
		t.Fatalf("FileByID = %+v, %v", byID, err)
	}
	ms, err := d.Matters(ctx)
	if err != nil || len(ms) != 1 || ms[0].Cursor != 17 || ms[0].Role != "rw" {
		t.Fatalf("Matters = %+v, %v", ms, err)
	}
	if c, err := d.Cursor(ctx, "2026-0001"); err != nil || c != 17 {
		t.Fatalf("Cursor = %d, %v", c, err)
	}
	if _, err := d.Cursor(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Cursor of an unknown matter: %v", err)
	}

	// Updating a matter keeps its cursor.
	if err := d.PutMatter(ctx, Matter{ID: "2026-0001", Name: "Demo", Role: "ro", Folder: "Demo [2026-0001]"}); err != nil {
		t.Fatal(err)
	}
	ms, _ = d.Matters(ctx)
	if ms[0].Cursor != 17 || ms[0].Role != "ro" || ms[0].Name != "Demo" {
		t.Fatalf("after update: %+v", ms[0])
	}

	if err := d.ResetMatter(ctx, "2026-0001"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := d.Files(ctx, "2026-0001"); len(fs) != 0 {
		t.Fatalf("files after ResetMatter: %v", fs)
	}
	if ms, _ = d.Matters(ctx); ms[0].Cursor != 0 {
		t.Fatalf("cursor after ResetMatter: %d", ms[0].Cursor)
	}
	_ = d.PutFile(ctx, f)
	if err := d.DeleteFile(ctx, "2026-0001", f.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := d.File(ctx, "2026-0001", f.Path); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

func TestIndexConstraints(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A file of an unknown matter is refused (foreign key).
	if err := d.PutFile(ctx, File{Matter: "nope", Path: "a", FileID: "x", Hash: []byte{0}}); err == nil {
		t.Fatal("PutFile for an unknown matter succeeded")
	}
	_ = d.PutMatter(ctx, Matter{ID: "m", Name: "M", Role: "rw", Folder: "M [m]"})
	_ = d.PutFile(ctx, File{Matter: "m", Path: "a", FileID: "x", Hash: []byte{0}})
	// Two paths can't share a file ID.
	if err := d.PutFile(ctx, File{Matter: "m", Path: "b", FileID: "x", Hash: []byte{0}}); err == nil {
		t.Fatal("two paths with one file ID accepted")
	}
	// Deleting the matter removes its files.
	if err := d.DeleteMatter(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := d.Files(ctx, "m"); len(fs) != 0 {
		t.Fatalf("files left after DeleteMatter: %v", fs)
	}
	if err := d.AddConflict(ctx, Conflict{Matter: "m", Path: "a", Copy: "a (conflict)", Reason: "concurrent edit", Created: time.Unix(100, 0)}); err != nil {
		t.Fatal(err)
	}
	cs, err := d.Conflicts(ctx)
	if err != nil || len(cs) != 1 || cs[0].Copy != "a (conflict)" {
		t.Fatalf("Conflicts = %+v, %v", cs, err)
	}
	if n, err := d.ConflictCount(ctx, "m"); err != nil || n != 1 {
		t.Fatalf("ConflictCount(m) = %d, %v", n, err)
	}
	if n, _ := d.ConflictCount(ctx, "other"); n != 0 {
		t.Fatalf("ConflictCount(other) = %d", n)
	}
}

func TestFilesUnder(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_ = d.PutMatter(ctx, Matter{ID: "m", Name: "M", Role: "rw", Folder: "M [m]"})
	for i, p := range []string{"a", "a/b", "a/b/c", "a0", "a b", "a%/x", "ab/c", "b"} {
		if err := d.PutFile(ctx, File{Matter: "m", Path: p, FileID: fmt.Sprint(i), Hash: []byte{0}}); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"a":   {"a", "a/b", "a/b/c"},
		"a/b": {"a/b", "a/b/c"},
		"a%":  {"a%/x"},
		"":    {"a", "a b", "a%/x", "a/b", "a/b/c", "a0", "ab/c", "b"},
		"zz":  nil,
	}
	for prefix, want := range cases {
		rows, err := d.FilesUnder(ctx, "m", prefix)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Path)
		}
		if !slices.Equal(got, want) {
			t.Errorf("FilesUnder(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func TestProblemsPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.MergeProblems(ctx, "m", map[string]string{"f1": "folder in the way", "f2": "tampered"}); err != nil || !slices.Equal(got, []string{"folder in the way", "tampered"}) {
		t.Fatalf("MergeProblems = %q, %v", got, err)
	}
	d.Close()
	d, err = Open(ctx, path) // a restart keeps them
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if keys, _ := d.ProblemKeys(ctx, "m"); !slices.Equal(keys, []string{"f1", "f2"}) {
		t.Fatalf("ProblemKeys after reopen = %q", keys)
	}
	if got, _ := d.MergeProblems(ctx, "m", map[string]string{"f1": ""}); !slices.Equal(got, []string{"tampered"}) {
		t.Fatalf("after clearing f1: %q", got)
	}
	if keys, _ := d.ProblemKeys(ctx, "other"); len(keys) != 0 {
		t.Fatalf("another matter's problems: %q", keys)
	}
}

// Concurrent PutFile calls share transactions (group commit), each
// returns only once its row is written, and a bad row fails alone.
func TestPutFileGroups(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.PutMatter(ctx, Matter{ID: "m", Name: "M", Role: "rw", Folder: "M [m]"}); err != nil {
		t.Fatal(err)
	}
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		go func() {
			f := File{Matter: "m", Path: fmt.Sprintf("f%02d", i), FileID: fmt.Sprintf("id%02d", i), Hash: []byte{byte(i)}, Version: uint64(i)}
			if i%16 == 5 {
				f.Matter = "nope" // unknown matter: refused
			}
			err := d.PutFile(ctx, f)
			switch {
			case f.Matter != "m" && err == nil:
				err = fmt.Errorf("%s of an unknown matter accepted", f.Path)
			case f.Matter != "m":
				err = nil
			case err != nil:
				err = fmt.Errorf("%s refused: %w", f.Path, err)
			default:
				// Written once PutFile returns.
				if got, gerr := d.File(ctx, "m", f.Path); gerr != nil || got.Version != f.Version {
					err = fmt.Errorf("%s after PutFile: %+v, %v", f.Path, got, gerr)
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	fs, err := d.Files(ctx, "m")
	if err != nil || len(fs) != n-n/16 {
		t.Fatalf("%d rows, %v; want %d", len(fs), err, n-n/16)
	}
}
