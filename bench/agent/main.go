// Command agent measures the agent end to end on the real stack (the same
// one `make run` starts): initial sync of a mixed tree next to a plain
// minio-go upload of the same tree, bytes sent for a small edit in a large
// file, save-to-committed latency, and a many-files tree (index time,
// unchanged rescan, idle CPU, RSS). It reports; it asserts nothing.
//
//	go run ./bench/agent [-tree-mib 1024] [-files 100000] [-edits 200]
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/bench/internal/legaldocs"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
)

func main() {
	treeMiB := flag.Int("tree-mib", 1024, "size of the mixed tree for the initial sync (MiB)")
	bigMiB := flag.Int("big-mib", 512, "size of the large file for the edit test (MiB)")
	files := flag.Int("files", 100000, "small files for the many-files test (0 skips it)")
	edits := flag.Int("edits", 200, "small edits for the latency test")
	keep := flag.Bool("keep", false, "keep the work folder")
	flag.Parse()
	if err := run(*treeMiB, *bigMiB, *files, *edits, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	s    *devstack.Stack
	work string
	rows [][2]string
}

func (b *bench) report(name, value string) {
	b.rows = append(b.rows, [2]string{name, value})
	fmt.Printf("%-58s %s\n", name, value)
}

func run(treeMiB, bigMiB, files, edits int, keep bool) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "mattersync-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(work, "bin")
	if err := devstack.BuildBinaries(root, bin); err != nil {
		return err
	}
	vault, err := testenv.FindBinary("vault")
	if err != nil {
		return err
	}
	s, err := devstack.Start(ctx, devstack.Options{Dir: filepath.Join(work, "stack"), Bin: bin, Tools: filepath.Dir(vault), Debounce: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	defer s.Stop()
	b := &bench{s: s, work: work}
	fmt.Printf("mattersync agent benchmark, %s, work dir %s\n\n", time.Now().Format(time.RFC3339), work)

	if err := b.initialSync(ctx, treeMiB); err != nil {
		return err
	}
	if err := b.bigEdit(ctx, bigMiB); err != nil {
		return err
	}
	if err := b.latency(ctx, edits); err != nil {
		return err
	}
	if files > 0 {
		if err := b.manyFiles(ctx, files); err != nil {
			return err
		}
	}
	return nil
}

// initialSync: a mixed tree, synced by `mattersync sync --once` (alice's
// agent stopped), next to the same tree uploaded plainly with minio-go.
func (b *bench) initialSync(ctx context.Context, treeMiB int) error {
	tree := filepath.Join(b.work, "tree")
	n, size, err := makeTree(tree, int64(treeMiB)<<20)
	if err != nil {
		return err
	}
	b.report("mixed tree", fmt.Sprintf("%d files, %.0f MiB (text, docx-like zip, pdf-like, random)", n, mib(size)))

	// Plain upload to the same MinIO, 4 in flight.
	mc, err := b.minio()
	if err != nil {
		return err
	}
	if err := mc.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		return err
	}
	start := time.Now()
	if err := plainUpload(ctx, mc, tree); err != nil {
		return err
	}
	plain := time.Since(start)
	b.report("plain minio-go upload (4 parallel)", rate(size, plain))

	b.s.StopAgent("bob")
	b.s.StopAgent("alice")
	alice := b.s.Agents["alice"]
	if err := os.CopyFS(alice.Folder, os.DirFS(tree)); err != nil {
		return err
	}
	before, err := b.bucketBytes(ctx)
	if err != nil {
		return err
	}
	start = time.Now()
	if out, err := b.agentCmd("alice", "sync", "--once"); err != nil {
		return fmt.Errorf("sync --once: %w: %s", err, out)
	}
	d := time.Since(start)
	after, _ := b.bucketBytes(ctx)
	b.report("initial sync agent -> gateway -> MinIO (sync --once)", rate(size, d))
	b.report("  ratio to plain upload", fmt.Sprintf("%.2f x plain time", d.Seconds()/plain.Seconds()))
	b.report("  stored / plaintext", fmt.Sprintf("%.0f MiB / %.0f MiB (%.0f%%)", mib(after-before), mib(size), 100*float64(after-before)/float64(size)))

	// bob's first sync downloads it all.
	start = time.Now()
	if out, err := b.agentCmd("bob", "sync", "--once"); err != nil {
		return fmt.Errorf("bob sync --once: %w: %s", err, out)
	}
	b.report("initial download gateway -> agent (sync --once)", rate(size, time.Since(start)))
	return nil
}

// bigEdit: bytes sent when 1 MiB changes in the middle of a large file.
func (b *bench) bigEdit(ctx context.Context, bigMiB int) error {
	alice := b.s.Agents["alice"]
	path := alice.Path("Large/video.bin")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := writeRandom(path, int64(bigMiB)<<20, 7); err != nil {
		return err
	}
	start := time.Now()
	if out, err := b.agentCmd("alice", "sync", "--once"); err != nil {
		return fmt.Errorf("sync: %w: %s", err, out)
	}
	b.report(fmt.Sprintf("%d MiB random file, first upload", bigMiB), rate(int64(bigMiB)<<20, time.Since(start)))
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	patch := make([]byte, 1<<20)
	fillRandom(patch, 99)
	if _, err := f.WriteAt(patch, int64(bigMiB)<<19); err != nil {
		return err
	}
	f.Close()
	sent0, err := b.gatewayBytesIn()
	if err != nil {
		return err
	}
	start = time.Now()
	if out, err := b.agentCmd("alice", "sync", "--once"); err != nil {
		return fmt.Errorf("sync: %w: %s", err, out)
	}
	d := time.Since(start)
	sent1, _ := b.gatewayBytesIn()
	sent := sent1 - sent0
	b.report(fmt.Sprintf("1 MiB edit in the %d MiB file: bytes sent", bigMiB), fmt.Sprintf("%.2f MiB = %.2f%% of the file, in %v", mib(sent), 100*float64(sent)/float64(int64(bigMiB)<<20), d.Round(time.Millisecond)))
	return nil
}

// latency: save-to-committed for small edits with the agent running: the
// time from the write to the commit appearing in the matter's change feed
// (read as bob), minus nothing: the debounce (100 ms here) is included.
func (b *bench) latency(ctx context.Context, edits int) error {
	if err := b.s.StartAgent("alice"); err != nil {
		return err
	}
	alice := b.s.Agents["alice"]
	kcfg := kms.DefaultConfig()
	kcfg.Address = b.s.VaultAddr()
	kr, err := kms.Login(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: "bob", Password: b.s.Password("bob")})
	if err != nil {
		return err
	}
	defer kr.Close()
	gw, err := client.New(b.s.GatewayURL(), kr, client.Options{Device: "bench"})
	if err != nil {
		return err
	}
	head, err := gw.Changes(ctx, "2026-0001", 0, 0)
	if err != nil {
		return err
	}
	since := head.Head
	var lat []time.Duration
	for i := range edits {
		start := time.Now()
		if err := os.WriteFile(alice.Path(fmt.Sprintf("Latency/note-%d.txt", i%20)), fmt.Appendf(nil, "edit %d at %s", i, start), 0o644); err != nil {
			if err := os.MkdirAll(alice.Path("Latency"), 0o755); err != nil {
				return err
			}
			continue
		}
		for {
			page, err := gw.Changes(ctx, "2026-0001", since, 10*time.Second)
			if err != nil {
				return err
			}
			if len(page.Changes) > 0 {
				since = page.Changes[len(page.Changes)-1].Seq
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(time.Millisecond) }
	b.report(fmt.Sprintf("save-to-committed, %d small edits (incl. 100 ms debounce)", len(lat)), fmt.Sprintf("p50 %v, p99 %v, max %v", p(0.5), p(0.99), p(1)))
	return nil
}

// manyFiles: a tree of small files: initial index+upload time, unchanged
// rescan time, then the running agent's idle CPU and RSS.
func (b *bench) manyFiles(ctx context.Context, n int) error {
	b.s.StopAgent("alice")
	alice := b.s.Agents["alice"]
	for i := range n {
		p := alice.Path(fmt.Sprintf("Many/%03d/%05d.txt", i/1000, i))
		if i%1000 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, fmt.Appendf(nil, "small file %d", i), 0o644); err != nil {
			return err
		}
	}
	start := time.Now()
	if out, err := b.agentCmd("alice", "sync", "--once"); err != nil {
		return fmt.Errorf("sync: %w: %s", err, out)
	}
	b.report(fmt.Sprintf("%d small files: first sync (index + upload)", n), time.Since(start).Round(time.Millisecond).String())
	start = time.Now()
	if out, err := b.agentCmd("alice", "sync", "--once"); err != nil {
		return fmt.Errorf("sync: %w: %s", err, out)
	}
	b.report(fmt.Sprintf("%d small files: unchanged rescan (sync --once)", n), time.Since(start).Round(time.Millisecond).String())
	if err := b.s.StartAgent("alice"); err != nil {
		return err
	}
	time.Sleep(10 * time.Second) // start-up scan
	pid, err := b.s.AgentPID("alice")
	if err != nil {
		return err
	}
	cpu0, _ := cpuTicks(pid)
	time.Sleep(60 * time.Second)
	cpu1, _ := cpuTicks(pid)
	rss, _ := rssKiB(pid)
	b.report("idle agent over 60 s: CPU", fmt.Sprintf("%.2f%% of one core", float64(cpu1-cpu0)/100/60*100))
	b.report("idle agent: RSS", fmt.Sprintf("%.0f MiB", float64(rss)/1024))
	return nil
}

func (b *bench) agentCmd(user string, args ...string) (string, error) {
	a := b.s.Agents[user]
	cmd := exec.Command(filepath.Join(b.work, "bin", "mattersync"), append(args, "--config", a.Config)...)
	cmd.Env = append(os.Environ(), "MATTERSYNC_VAULT_PASSWORD="+b.s.Password(user))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (b *bench) minio() (*minio.Client, error) {
	ak, sk := b.s.S3Keys()
	return minio.New(b.s.MinIOEndpoint(), &minio.Options{Creds: credentials.NewStaticV4(ak, sk, "")})
}

func (b *bench) bucketBytes(ctx context.Context) (int64, error) {
	mc, err := b.minio()
	if err != nil {
		return 0, err
	}
	var n int64
	for o := range mc.ListObjects(ctx, b.s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return 0, o.Err
		}
		n += o.Size
	}
	return n, nil
}

// gatewayBytesIn sums the gateway's received-bytes counter.
func (b *bench) gatewayBytesIn() (int64, error) {
	resp, err := http.Get(b.s.GatewayOpsURL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mattersync_gateway_received_bytes_total{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return 0, err
			}
			total += v
		}
	}
	return int64(total), sc.Err()
}

func plainUpload(ctx context.Context, mc *minio.Client, tree string) error {
	var paths []string
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	work := make(chan string)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				rel, _ := filepath.Rel(tree, p)
				if _, err := mc.FPutObject(ctx, "plain", filepath.ToSlash(rel), p, minio.PutObjectOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// makeTree writes a mixed tree of about total bytes: 40% text (office
// documents saved as text, emails), 25% docx-like zips, 15% pdf-like
// (compressed streams), 20% random (scans, media).
func makeTree(dir string, total int64) (int, int64, error) {
	rng := rand.New(rand.NewPCG(42, 1))
	var written int64
	n := 0
	for written < total {
		kind := rng.IntN(100)
		var size int64
		switch r := rng.IntN(100); {
		case r < 70:
			size = 4<<10 + rng.Int64N(60<<10)
		case r < 95:
			size = 256<<10 + rng.Int64N(4<<20)
		default:
			size = 16<<20 + rng.Int64N(48<<20)
		}
		size = min(size, total-written+1)
		p := filepath.Join(dir, fmt.Sprintf("folder-%02d", n%37), fmt.Sprintf("file-%05d", n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, 0, err
		}
		var data []byte
		switch {
		case kind < 40:
			data = legaldocs.Text(rng, size)
			p += ".txt"
		case kind < 65:
			data = legaldocs.Docx(rng, size)
			p += ".docx"
		case kind < 80:
			data = legaldocs.PDF(rng, size)
			p += ".pdf"
		default:
			data = make([]byte, size)
			fillRandom(data, rng.Uint64())
			p += ".jpg"
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return 0, 0, err
		}
		written += int64(len(data))
		n++
	}
	return n, written, nil
}

func fillRandom(b []byte, seed uint64) {
	fillFrom(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), b)
}

// fillFrom fills b (a multiple of 8 bytes long) from r.
func fillFrom(r *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
}

func writeRandom(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(seed, seed))
	for written := int64(0); written < size; written += int64(len(buf)) {
		fillFrom(r, buf)
		if _, err := f.Write(buf[:min(int64(len(buf)), size-written)]); err != nil {
			return err
		}
	}
	return f.Sync()
}

func rate(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f MB/s (%.0f MiB in %v)", float64(n)/1e6/d.Seconds(), mib(n), d.Round(time.Millisecond))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// cpuTicks returns utime+stime of a process in clock ticks (Linux).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}
