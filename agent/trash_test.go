package agent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// logBuf is an agent log a test can read.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines holding every one of subs.
func (l *logBuf) lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// loggedAgent is agentWith with the agent's log (info and up) kept for
// the test to read.
func (w *world) loggedAgent(u kmstest.User, cfg agent.Config) (*testAgent, *logBuf) {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kr := w.v.Login(t, u)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	idx, err := index.Open(ctx, filepath.Join(cfg.DataDir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	gw, err := client.New(cfg.Gateway.URL, kr, client.Options{Device: cfg.DeviceName})
	if err != nil {
		t.Fatal(err)
	}
	buf := &logBuf{}
	var out io.Writer = buf
	if testing.Verbose() {
		out = io.MultiWriter(buf, os.Stderr)
	}
	a, err := agent.New(cfg, idx, kr, gw, u.Name, u.EntityID, slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{Agent: a, w: w, user: u, cfg: cfg}
	ms, err := kr.Matters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == w.matter {
			ta.folder = filepath.Join(cfg.Root, agent.MatterFolder(m.ID, m.Name))
		}
	}
	return ta, buf
}

// plantTrash puts a file in a's trash as if trashed at when.
func (a *testAgent) plantTrash(when time.Time, rel string, data []byte) string {
	a.w.t.Helper()
	stamp := when.Format("2006-01-02 15.04.05")
	p := filepath.Join(a.folder, ".mattersync", "trash", stamp, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		a.w.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		a.w.t.Fatal(err)
	}
	return stamp
}

func (a *testAgent) inTrash(stamp, rel string) bool {
	_, err := os.Stat(filepath.Join(a.folder, ".mattersync", "trash", stamp, filepath.FromSlash(rel)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.w.t.Fatal(err)
	}
	return err == nil
}

// Issue 21, trash never empties: every full pass removes what is older
// than trash_retention (default 30 days), then the oldest until the trash
// fits trash_max_size, and logs each purge. Times are relative to the
// planted folders' names, never measured.
func TestTrashRetentionAndCap(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		u := w.member(kms.RoleRW)
		cfg := w.config(u, w.t.TempDir(), w.t.TempDir())
		if cfg.TrashRetention != 30*24*time.Hour || cfg.TrashMaxSize != 1<<30 {
			w.t.Fatalf("defaults: retention %v, cap %v", cfg.TrashRetention, cfg.TrashMaxSize)
		}
		cfg.TrashMaxSize = 4000
		bob, logs := w.loggedAgent(u, cfg)
		bob.sync()

		now := time.Now()
		old := bob.plantTrash(now.Add(-31*24*time.Hour), "Old.docx", []byte("deleted long ago"))
		big := bob.plantTrash(now.Add(-2*time.Hour), "Exhibits/Big.bin", make([]byte, 3000))
		small := bob.plantTrash(now.Add(-1*time.Hour), "Small.txt", make([]byte, 1500))
		bob.sync()
		switch {
		case bob.inTrash(old, "Old.docx"):
			w.t.Fatal("a file trashed 31 days ago is still in the trash")
		case bob.inTrash(big, "Exhibits/Big.bin"):
			w.t.Fatal("the trash is over trash_max_size and its oldest folder stayed")
		case !bob.inTrash(small, "Small.txt"):
			w.t.Fatal("the newest folder, within the cap, was purged")
		}
		if n := len(logs.lines("trash purged", "matter="+w.matter)); n != 2 {
			w.t.Fatalf("%d purge log lines, want 2:\n%s", n, logs)
		}

		// A file a colleague deletes now is kept (it fits).
		alice.write("Memo.txt", []byte("memo"))
		alice.sync()
		bob.sync()
		if err := os.Remove(alice.path("Memo.txt")); err != nil {
			w.t.Fatal(err)
		}
		alice.sync()
		bob.sync()
		if got := bob.trashed("Memo.txt"); string(got) != "memo" {
			w.t.Fatalf("trashed Memo.txt = %q", got)
		}
	})
}
