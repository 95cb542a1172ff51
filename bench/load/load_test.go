package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestSmoke runs the load generator at its smallest, with every fault it
// knows but a PostgreSQL restart (the server is shared with other tests:
// its connections are dropped instead), so the command cannot rot: four
// agents, two replicas, 20 s. It asserts only what the run checks (nothing
// lost, no sequence gap, every member saw every commit, audit intact, no
// operation failed for good), never a time.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Vault, MinIO, PostgreSQL and HAProxy")
	}
	for _, tool := range []string{"vault", "minio"} {
		if _, err := testenv.FindBinary(tool); err != nil {
			if testenv.InCI() {
				t.Fatalf("load: %v (CI=true: a missing service is a failure)", err)
			}
			t.Skipf("load: %v", err)
		}
	}
	testenv.DebianTool(t, "haproxy")
	dsn := testenv.Postgres(t)
	dir := t.TempDir()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := devstack.BuildBinaries(root, bin); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Agents: 4, Replicas: 2, Duration: 20 * time.Second, MattersPerAgent: 2, MembersPerMatter: 3,
		SaveEvery: 500 * time.Millisecond, EditShare: 0.5, BigShare: 0.05, MaxBig: 2 << 20, Download: true,
		Kill: true, PostgresFault: "drop", Flood: 200, DenyProbe: true, Wait: 5 * time.Second,
		Dir: dir, Bin: bin, PostgresDSN: dsn}
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if rep != nil {
		rep.Print(testWriter{t})
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems() {
		t.Error(p)
	}
	if rep.Flood == nil || rep.Flood.Sent == 0 {
		t.Error("the flood sent nothing")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestAssign(t *testing.T) {
	for _, c := range []struct{ agents, perAgent, members int }{{4, 2, 3}, {20, 3, 4}, {200, 3, 4}, {50, 5, 4}, {3, 3, 3}} {
		matters, member := assign(c.agents, c.perAgent, c.members)
		in := make([]int, c.agents)
		for _, m := range matters {
			l := member[m]
			if len(l) < 2 || len(l) > c.members {
				t.Errorf("%+v: matter %s has %d members", c, m, len(l))
			}
			for _, a := range l {
				in[a]++
			}
		}
		for a, n := range in {
			if n < 1 || n > c.perAgent {
				t.Errorf("%+v: agent %d is in %d matters", c, a, n)
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	if s.N != 100 || s.P50 != 51*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("summarize 1..100 ms = %+v", s)
	}
	if (summary{}).String() != "none" {
		t.Error("an empty summary should say none")
	}
}

func TestReadProc(t *testing.T) {
	u, err := readProc(os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if u.rss <= 0 {
		t.Errorf("own RSS %d", u.rss)
	}
}
