package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
)

// options are what one bench run does.
type options struct {
	MixedMiB   int   // the mixed tree's size
	SmallFiles int   // the small-files tree's file count
	SmallBytes int64 // and its average file size
	Rounds     int   // interleaved rounds (medians over these)
	Work       string
	Corpora    string // where the corpora are kept between runs ("": in Work)
	Bin        string // the three mattersync binaries ("": built into Work)
	Rclone     string // the rclone binary ("": mattersync alone)
	// BaseAgent is another build of the agent binary (e.g. of main
	// before a change), run as a third peer, "mattersync base", on the
	// same gateway; "": none.
	BaseAgent string
	Out       io.Writer
	Progress  io.Writer // nil: quiet
}

// workload names, in the order each round runs them.
const (
	wUpload   = "first upload, mixed tree"
	wDownload = "first download of that tree on a new device"
	wSmall    = "small files, first upload"
)

// results holds every measure by workload and tool.
type results struct {
	mixed, small corpus
	rounds       int
	m            map[string]map[string][]measure
}

func (r *results) add(workload, tool string, ms measure) {
	if r.m[workload] == nil {
		r.m[workload] = map[string][]measure{}
	}
	r.m[workload][tool] = append(r.m[workload][tool], ms)
}

// run starts the stack, generates the corpora and runs every workload for
// every tool, interleaved: each round runs each workload with both tools
// back to back, the first tool alternating between rounds.
func run(ctx context.Context, o options) (*results, error) {
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if o.Bin == "" {
		root, err := testenv.ModuleRoot()
		if err != nil {
			return nil, err
		}
		o.Bin = filepath.Join(o.Work, "bin")
		say("building the mattersync binaries")
		if err := devstack.BuildBinaries(root, o.Bin); err != nil {
			return nil, err
		}
	}
	res := &results{rounds: o.Rounds, m: map[string]map[string][]measure{}}
	var err error
	say("generating the corpora")
	corpora := o.Corpora
	if corpora == "" {
		corpora = filepath.Join(o.Work, "corpus")
	}
	if res.mixed, err = cached(filepath.Join(corpora, fmt.Sprintf("mixed-%dMiB", o.MixedMiB)), func(dir string) (corpus, error) {
		return mixedTree(dir, int64(o.MixedMiB)<<20, 22)
	}); err != nil {
		return nil, err
	}
	if res.small, err = cached(filepath.Join(corpora, fmt.Sprintf("small-%d-%d", o.SmallFiles, o.SmallBytes)), func(dir string) (corpus, error) {
		return smallTree(dir, o.SmallFiles, o.SmallBytes, 22)
	}); err != nil {
		return nil, err
	}
	vault, err := testenv.FindBinary("vault")
	if err != nil {
		return nil, err
	}
	s, err := devstack.Start(ctx, devstack.Options{Dir: filepath.Join(o.Work, "stack"), Bin: o.Bin, Tools: filepath.Dir(vault),
		Users: []string{"alice"}, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	s.StopAgent("alice") // the bench runs its own devices
	devices := 0
	pw := map[string]string{}
	peers := []peer{&mattersync{label: "mattersync", s: s, bin: o.Bin, agent: filepath.Join(o.Bin, "mattersync"),
		work: filepath.Join(o.Work, "mattersync"), n: &devices, pw: pw}}
	if o.BaseAgent != "" {
		peers = append(peers, &mattersync{label: "mattersync base", s: s, bin: o.Bin, agent: o.BaseAgent,
			work: filepath.Join(o.Work, "mattersync"), prefix: "base", n: &devices, pw: pw})
	}
	if o.Rclone != "" {
		rc, err := newRclone(ctx, o.Rclone, o.Work, s)
		if err != nil {
			return nil, err
		}
		peers = append(peers, rc)
	}
	for round := 1; round <= o.Rounds; round++ {
		order := slices.Clone(peers)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, p := range order {
			name := fmt.Sprintf("r%d-mixed", round)
			ms, err := withServers(s, func() (measure, error) { return p.upload(ctx, name, res.mixed) })
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", p.name(), wUpload, err)
			}
			say("round %d %-13s %-45s %v", round, p.name(), wUpload, ms.d.Round(time.Millisecond))
			res.add(wUpload, p.name(), ms)
		}
		for _, p := range order {
			name := fmt.Sprintf("r%d-mixed", round)
			dst := filepath.Join(o.Work, "download", fmt.Sprintf("%s-%d", p.name(), round))
			var got string
			ms, err := withServers(s, func() (ms measure, err error) {
				ms, got, err = p.download(ctx, name, dst)
				return ms, err
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", p.name(), wDownload, err)
			}
			say("round %d %-13s %-45s %v", round, p.name(), wDownload, ms.d.Round(time.Millisecond))
			if diff, err := sameTree(res.mixed.dir, got); err != nil || diff != "" {
				return nil, fmt.Errorf("%s: the downloaded tree is not the uploaded one: %s %v", p.name(), diff, err)
			}
			os.RemoveAll(got)
			res.add(wDownload, p.name(), ms)
		}
		for _, p := range order {
			ms, err := withServers(s, func() (measure, error) { return p.upload(ctx, fmt.Sprintf("r%d-small", round), res.small) })
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", p.name(), wSmall, err)
			}
			say("round %d %-13s %-45s %v", round, p.name(), wSmall, ms.d.Round(time.Millisecond))
			res.add(wSmall, p.name(), ms)
		}
	}
	return res, nil
}

// withServers runs fn and adds to its measure the CPU time the stack's
// servers used meanwhile.
func withServers(s *devstack.Stack, fn func() (measure, error)) (measure, error) {
	total := func() time.Duration {
		var t time.Duration
		for _, pid := range s.ServerPIDs() {
			if d, err := cpuTime(pid); err == nil {
				t += d
			}
		}
		return t
	}
	before := total()
	ms, err := fn()
	ms.cpu += total() - before
	return ms, err
}

// median returns the median time and CPU time of ms (each its own
// median) and the highest peak RSS.
func median(ms []measure) (time.Duration, time.Duration, int64) {
	ds := make([]time.Duration, len(ms))
	cs := make([]time.Duration, len(ms))
	rs := make([]int64, len(ms))
	for i, m := range ms {
		ds[i], cs[i], rs[i] = m.d, m.cpu, m.rss
	}
	slices.Sort(ds)
	slices.Sort(cs)
	return ds[len(ds)/2], cs[len(cs)/2], slices.Max(rs)
}

// table prints the results: per workload the median time of each tool,
// mattersync's time as a multiple of rclone's, and each process's peak
// RSS (the highest of the rounds).
func (r *results) table(w io.Writer) {
	fmt.Fprintf(w, "mixed tree: %d files, %.0f MiB; small files: %d files, %.1f MiB; medians of %d interleaved rounds\n\n",
		r.mixed.files, mib(r.mixed.bytes), r.small.files, mib(r.small.bytes), r.rounds)
	tools := []string{"rclone crypt", "mattersync"}
	if len(r.m[wUpload]["mattersync base"]) > 0 {
		tools = append(tools, "mattersync base")
	}
	head, rule := "| workload |", "|---|"
	for _, t := range tools {
		head += " " + t + " |"
		rule += "---|"
	}
	for _, t := range tools[1:] {
		head += " " + t + " ratio |"
		rule += "---|"
	}
	for _, t := range tools {
		head += " peak RSS " + t + " |"
		rule += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	for _, wl := range []string{wUpload, wDownload, wSmall} {
		row := "| " + wl + " |"
		var times []time.Duration
		var rsss []string
		for _, t := range tools {
			ms := r.m[wl][t]
			if len(ms) == 0 {
				row += " - |"
				times = append(times, 0)
				rsss = append(rsss, "-")
				continue
			}
			d, _, rss := median(ms)
			cell := fmt.Sprintf("%.2f s", d.Seconds())
			if wl == wSmall {
				cell += fmt.Sprintf(" (%.0f files/s)", float64(r.small.files)/d.Seconds())
			}
			row += " " + cell + " |"
			times = append(times, d)
			rsss = append(rsss, fmt.Sprintf("%.0f MiB", mib(rss)))
		}
		for i := range tools[1:] {
			if times[0] == 0 || times[i+1] == 0 {
				row += " - |"
				continue
			}
			row += fmt.Sprintf(" %.2f× |", times[i+1].Seconds()/times[0].Seconds())
		}
		for _, x := range rsss {
			row += " " + x + " |"
		}
		fmt.Fprintln(w, row)
	}
	r.cpuTable(w, tools)
}

// cpuTable prints the median CPU time of each tool per workload: its own
// process's and the stack's servers' during its runs (for rclone, MinIO's
// is what counts), and mattersync's as a multiple of rclone's.
func (r *results) cpuTable(w io.Writer, tools []string) {
	fmt.Fprintln(w, "\nCPU time: the tool's process + the gateway, MinIO and Vault during its runs (medians)")
	fmt.Fprintln(w)
	head, rule := "| workload |", "|---|"
	for _, t := range tools {
		head += " " + t + " |"
		rule += "---|"
	}
	for _, t := range tools[1:] {
		head += " " + t + " ratio |"
		rule += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	for _, wl := range []string{wUpload, wDownload, wSmall} {
		row := "| " + wl + " |"
		cpus := make([]time.Duration, len(tools))
		for i, t := range tools {
			if ms := r.m[wl][t]; len(ms) > 0 {
				_, cpus[i], _ = median(ms)
			}
			if cpus[i] == 0 {
				row += " - |"
				continue
			}
			row += fmt.Sprintf(" %.2f s |", cpus[i].Seconds())
		}
		for i := range tools[1:] {
			if cpus[0] == 0 || cpus[i+1] == 0 {
				row += " - |"
				continue
			}
			row += fmt.Sprintf(" %.2f× |", cpus[i+1].Seconds()/cpus[0].Seconds())
		}
		fmt.Fprintln(w, row)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
