package index

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// Integrity events stay recorded and shown but are not among the problems
// to retry; a later plain problem for the same file is retried again.
func TestIntegrityProblems(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.RecordProblem(ctx, "m", "bomb", "declares 3.6 TiB", true); err != nil {
		t.Fatal(err)
	}
	if err := d.RecordProblem(ctx, "m", "clash", "folder in the way", false); err != nil {
		t.Fatal(err)
	}
	// The end-of-pass merge updates messages but keeps the mark.
	msgs, err := d.MergeProblems(ctx, "m", map[string]string{"bomb": "declares 3.6 TiB (again)"})
	if err != nil || !slices.Equal(msgs, []string{"declares 3.6 TiB (again)", "folder in the way"}) {
		t.Fatalf("MergeProblems = %q, %v", msgs, err)
	}
	if keys, _ := d.ProblemKeysToRetry(ctx, "m"); !slices.Equal(keys, []string{"clash"}) {
		t.Fatalf("ProblemKeysToRetry = %q", keys)
	}
	if keys, _ := d.ProblemKeys(ctx, "m"); !slices.Equal(keys, []string{"bomb", "clash"}) {
		t.Fatalf("ProblemKeys = %q", keys)
	}
	if err := d.RecordProblem(ctx, "m", "bomb", "disk full", false); err != nil {
		t.Fatal(err)
	}
	if keys, _ := d.ProblemKeysToRetry(ctx, "m"); !slices.Equal(keys, []string{"bomb", "clash"}) {
		t.Fatalf("after a plain problem: ProblemKeysToRetry = %q", keys)
	}
}
