package agent

import (
	"strings"
	"testing"
	"time"
)

// A pull with a backlog (a first sync) shows how many of the feed's
// changes are applied, and the page estimates the rest from the pace;
// a pull of a few changes shows nothing.
func TestPullProgress(t *testing.T) {
	a := &Agent{board: &statusBoard{}}
	a.pullProgress("m", 10, 30) // 20 changes: no bar
	a.pulled("m", 15)
	if s := a.board.snapshot().Matters[0]; s.FilesTotal != 0 || s.ProgressOf != "" {
		t.Fatalf("a small pull shows progress: %+v", s)
	}
	a.pullProgress("m", 10, 210)
	for seq := int64(11); seq <= 60; seq++ {
		a.pulled("m", seq)
	}
	s := a.board.snapshot().Matters[0]
	if s.ProgressOf != "changes" || s.FilesDone != 50 || s.FilesTotal != 200 || s.ProgressSince.IsZero() {
		t.Fatalf("pull progress: %+v", s)
	}
	s.State = "syncing"
	if eta := etaText(s, s.ProgressSince.Add(10*time.Minute)); !strings.Contains(eta, "30 min left") {
		t.Errorf("50 of 200 in 10 min: %q, want 30 min left", eta)
	}
	// The next page of the same pull keeps the count.
	a.pullProgress("m", 10, 220)
	if s := a.board.snapshot().Matters[0]; s.FilesDone != 50 || s.FilesTotal != 210 {
		t.Errorf("next page: %+v", s)
	}
	a.progress("m", 7) // the uploads that follow
	if s := a.board.snapshot().Matters[0]; s.ProgressOf != "files" || s.FilesDone != 0 || s.FilesTotal != 7 {
		t.Errorf("uploads after the pull: %+v", s)
	}
}
