// Command load measures the gateway in its production shape (replicas on
// PostgreSQL behind HAProxy, MinIO on four drives: internal/devstack with
// Replicas > 1) under many simulated agents. Each agent logs in to Vault
// as its own user, long-polls its matters' feeds (one request for all), downloads and opens what
// the other members commit, and saves new files and edits with real
// chunking and sealing. Optionally a replica is killed with SIGKILL and
// restarted, PostgreSQL drops its connections (or is restarted), and a
// flood of forged tokens arrives. Afterwards every acknowledged commit
// must be in the store with its sequence number, each matter's sequence
// numbers gapless, and the audit chain intact. It reports; the exit code
// says whether the checks held.
//
//	go run ./bench/load -agents 50 -replicas 3 -duration 2m [-kill] [-rolling] [-postgres-fault drop] [-flood 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"
)

func main() {
	var c Config
	flag.IntVar(&c.Agents, "agents", 20, "simulated agents (one Vault user each)")
	flag.IntVar(&c.Replicas, "replicas", 3, "gateway replicas behind HAProxy")
	flag.DurationVar(&c.Duration, "duration", 2*time.Minute, "how long the agents save")
	flag.IntVar(&c.MattersPerAgent, "matters-per-agent", 3, "matters each agent is a member of")
	flag.IntVar(&c.MembersPerMatter, "members", 4, "members of each matter")
	flag.DurationVar(&c.SaveEvery, "save-every", 5*time.Second, "mean time between one agent's saves")
	flag.Float64Var(&c.EditShare, "edit-share", 0.6, "share of saves that edit a known file")
	flag.Float64Var(&c.BigShare, "big-share", 0.03, "share of new files of 1 MiB or more")
	maxBig := flag.Int("max-big-mib", 8, "size of the largest files (MiB, at most 12)")
	flag.BoolVar(&c.Download, "download", true, "agents download and open what other members commit")
	flag.BoolVar(&c.Kill, "kill", false, "kill -9 replica 1 at a third of the run and restart it")
	flag.BoolVar(&c.Rolling, "rolling", false, "restart the replicas one at a time (graceful stop, start, ready) from 40% of the run")
	flag.StringVar(&c.PostgresFault, "postgres-fault", "", `at half the run: "drop" (PostgreSQL drops the replicas' connections) or "restart" (-postgres-restart)`)
	flag.StringVar(&c.PostgresRestart, "postgres-restart", "pg_ctlcluster 15 main restart", "command restarting the PostgreSQL server (disturbs every other user of it)")
	flag.IntVar(&c.Flood, "flood", 0, "forged-token requests per second from 60% to 90% of the run")
	flag.StringVar(&c.Profile, "profile", "", "write a CPU profile of the last replica (up to 20 s, from 35% of the run, or during the flood) to this file")
	flag.BoolVar(&c.DenyProbe, "deny-probe", true, "deny a user at a quarter of the run (and, with -kill or -postgres-fault, again at 55%, after them) and time each replica's refusal")
	flag.StringVar(&c.Dir, "dir", "", "work folder (default: a new temporary one, removed after)")
	keep := flag.Bool("keep", false, "keep the work folder")
	verbose := flag.Bool("v", false, "say what the stack and the run do")
	flag.Parse()
	c.MaxBig = *maxBig << 20
	if c.PostgresFault != "" && c.PostgresFault != "drop" && c.PostgresFault != "restart" {
		fmt.Fprintln(os.Stderr, `load: -postgres-fault is "drop" or "restart"`)
		os.Exit(2)
	}
	if (c.Kill || c.Rolling) && c.Replicas < 2 {
		fmt.Fprintln(os.Stderr, "load: -kill and -rolling need -replicas 2 or more (one gateway has no others to serve meanwhile)")
		os.Exit(2)
	}
	if c.Dir == "" {
		d, err := os.MkdirTemp("", "mattersync-load-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		c.Dir = d
		if !*keep {
			defer os.RemoveAll(d)
		}
	}
	if *verbose {
		c.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Printf("mattersync load: %s\n  go run ./bench/load %s\n\n", time.Now().UTC().Format(time.RFC3339), strings.Join(os.Args[1:], " "))
	rep, err := Run(ctx, c)
	if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if probs := rep.Problems(); len(probs) > 0 {
		fmt.Fprintln(os.Stderr, "load: checks failed:\n  "+strings.Join(probs, "\n  "))
		os.Exit(1)
	}
}

// Problems lists what the run's checks found wrong.
func (r *Report) Problems() []string {
	var p []string
	if r.Commits == 0 {
		p = append(p, "no commit was acknowledged")
	}
	if r.Lost > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged commits are not in the store", r.Lost))
	}
	p = append(p, r.SeqProblems...)
	if r.NotReached > 0 {
		p = append(p, fmt.Sprintf("%d (commit, member) pairs: the member's feed never showed the commit", r.NotReached))
	}
	if !r.AuditIntact {
		p = append(p, "audit verify: "+r.AuditOut)
	}
	for _, d := range []*denyResult{r.Deny, r.DenyAfterFaults} {
		if d == nil {
			continue
		}
		if d.Err != "" {
			p = append(p, "deny probe: "+d.Err)
		}
		for i, tr := range d.Replica {
			if tr.ServedAfter > 0 {
				p = append(p, fmt.Sprintf("deny probe: replica %d served the denied user %d times after refusing it", i+1, tr.ServedAfter))
			}
		}
	}
	if r.FailedCount > 0 {
		p = append(p, "operations that failed after every retry: "+r.Failed)
	}
	return p
}

// Print writes the report as the rows docs/PERFORMANCE.md quotes.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-40s %s\n", name, fmt.Sprintf(format, args...))
	}
	row("shape", "%d agents, %d replica(s) behind HAProxy, PostgreSQL, MinIO 4 drives; %d matters of %d members, %d per agent",
		c.Agents, c.Replicas, r.Matters, r.MembersPerMatter, c.MattersPerAgent)
	row("saving", "%v, one save per agent every %v on average, %.0f%% edits", r.Elapsed.Round(time.Second), c.SaveEvery, 100*c.EditShare)
	secs := r.Elapsed.Seconds()
	row("requests/s", "%.1f (%d requests; long-polls apart: %d)", float64(r.Requests)/secs, r.Requests, r.Polls)
	row("commits acknowledged", "%d (%.1f/s, %.1f MiB saved); %d versions downloaded and opened", r.Commits, float64(r.Commits)/secs, float64(r.BytesSaved)/(1<<20), r.Downloaded)
	row("save latency (upload + commit)", "%s", r.CommitLat)
	row("  commit request alone", "%s", r.CommitReqLat)
	if c.Kill || c.Rolling || c.PostgresFault != "" || c.Flood > 0 {
		row("  outside faults and flood", "%s", r.QuietLat)
	}
	if c.Flood > 0 {
		row("  during the flood", "%s", r.FloodLat)
	}
	row("propagation (ack -> other's feed)", "%s; %d seen before the committer's answer (counted 0)", r.Propagation, r.SeenBeforeAck)
	row("retries", "%s", r.Retries)
	row("errors (each failed attempt)", "%s", r.Errors)
	row("failed after every retry", "%s", r.Failed)
	row("events", "%s", r.Events)
	for _, f := range r.Faults {
		row("fault", "%s", f)
	}
	if r.Flood != nil {
		row("flood", "%s", r.Flood)
	}
	if r.Deny != nil {
		row("deny reached (after IT's ack)", "%s", r.Deny)
	}
	if r.DenyAfterFaults != nil {
		row("deny after the faults", "%s", r.DenyAfterFaults)
	}
	row("cpu measured over", "%v (saving and draining)", r.Sampled.Round(time.Second))
	names := make([]string, 0, len(r.CPU))
	for n := range r.CPU {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row("cpu / peak RSS "+n, "%.1f%% of one core, %.0f MiB", 100*r.CPU[n].Seconds()/r.Sampled.Seconds(), float64(r.PeakRSS[n])/(1<<20))
	}
	row("store check", "%d acknowledged, %d found with their sequence number, %d lost; %d sequence problems", r.Commits, r.Found, r.Lost, len(r.SeqProblems))
	for _, p := range r.SeqProblems {
		row("", "%s", p)
	}
	row("feeds", "%d (commit, other member) pairs never shown", r.NotReached)
	row("audit verify", "%s", verdict(r.AuditOut))
}

// verdict is the line of `audit verify` that says intact or not.
func verdict(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "intact") || strings.Contains(strings.ToLower(l), "broken") {
			return strings.TrimSpace(l)
		}
	}
	l, _, _ := strings.Cut(out, "\n")
	return l
}
