package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// latencies collects durations; safe for concurrent use.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// summary is p50/p99/max of what was collected ("-" when empty).
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(d []time.Duration) summary {
	if len(d) == 0 {
		return summary{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	return summary{N: len(d), P50: q(0.5), P99: q(0.99), Max: d[len(d)-1]}
}

func (l *latencies) summary() summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.d)
}

func (s summary) String() string {
	if s.N == 0 {
		return "none"
	}
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", r(s.P50), r(s.P99), r(s.Max), s.N)
}

// counts counts events by name; safe for concurrent use.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(name string, n int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[name] += n
	c.mu.Unlock()
}

func (c *counts) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, c.m[k])
	}
	return b.String()
}

// procUsage is a process's CPU time and resident memory from /proc.
type procUsage struct {
	cpu time.Duration // user + system since the process started
	rss int64         // bytes
}

// clockTick is USER_HZ, 100 on every Linux the project runs on.
const clockTick = 100

func readProc(pid int) (procUsage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, err
	}
	// The command name may hold spaces: fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 22 {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, rss 24 (pages).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return procUsage{cpu: time.Duration(ut+st) * time.Second / clockTick, rss: rss * int64(os.Getpagesize())}, nil
}

// usage accumulates, per server name, the CPU time used during the run
// (across restarts: a new PID starts a new base) and the peak RSS.
type usage struct {
	mu       sync.Mutex
	last     map[int]time.Duration // pid -> CPU time at the last sample
	cpu      map[string]time.Duration
	peak     map[string]int64
	now      map[string]int64 // RSS at the last sample, summed over the name's PIDs
	from, to time.Time        // the baseline sample, the last one
}

func newUsage() *usage {
	return &usage{last: map[int]time.Duration{}, cpu: map[string]time.Duration{}, peak: map[string]int64{}, now: map[string]int64{}}
}

// sample reads every pid of every name once. The baseline sample (at the
// run's start) counts nothing: earlier CPU was not this run's. A pid first
// seen later started during the run and counts from zero.
func (u *usage) sample(pids map[string][]int, baseline bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if baseline {
		u.from = time.Now()
	}
	u.to = time.Now()
	for name, list := range pids {
		var rss int64
		for _, pid := range list {
			p, err := readProc(pid)
			if err != nil {
				continue
			}
			rss += p.rss
			prev, seen := u.last[pid]
			if !seen && baseline {
				prev = p.cpu
			}
			if p.cpu > prev {
				u.cpu[name] += p.cpu - prev
			}
			u.last[pid] = p.cpu
		}
		u.now[name] = rss
		u.peak[name] = max(u.peak[name], rss)
	}
}
