// Command peer measures mattersync against the tool an IT team would pick
// instead, rclone with a crypt remote, on the same MinIO (issue 22): first
// upload of a mixed law-firm tree, its first download on a new device, and
// many small files, both tools interleaved, medians, the ratio per row and
// each process's peak RSS. mattersync runs as the real binaries on the
// `make run` stack (`sync --once`, Vault login included); rclone is built
// by `tools/install.sh rclone`. It reports; it asserts nothing.
//
//	make bench-peer
//	go run ./bench/peer [-mixed-mib 512] [-small-files 5000] [-rounds 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
)

func main() {
	o := options{Out: os.Stdout, Progress: os.Stderr}
	flag.IntVar(&o.MixedMiB, "mixed-mib", 512, "size of the mixed tree (MiB)")
	flag.IntVar(&o.SmallFiles, "small-files", 5000, "files in the small-files tree")
	flag.Int64Var(&o.SmallBytes, "small-bytes", 5<<10, "average size of a small file (bytes)")
	flag.IntVar(&o.Rounds, "rounds", 3, "interleaved rounds")
	flag.StringVar(&o.Rclone, "rclone", "", "rclone binary (default: .tools/bin/rclone, from `tools/install.sh rclone`)")
	flag.StringVar(&o.BaseAgent, "base-agent", "", "another build of the mattersync agent binary, measured as a third peer (\"mattersync base\") on the same gateway")
	flag.StringVar(&o.Bin, "bin", "", "folder with the mattersync binaries (default: built from this checkout)")
	flag.StringVar(&o.Corpora, "corpora", "", "keep the generated corpora in this folder and reuse them (default: generated in the work folder)")
	keep := flag.Bool("keep", false, "keep the work folder")
	flag.Parse()
	if o.Rclone == "" {
		p, err := testenv.FindBinary("rclone")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-peer:", err, "(tools/install.sh rclone)")
			os.Exit(1)
		}
		o.Rclone = p
	}
	work, err := os.MkdirTemp("", "mattersync-peer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peer:", err)
		os.Exit(1)
	}
	o.Work = work
	if !*keep {
		defer os.RemoveAll(work)
	}
	fmt.Printf("mattersync vs rclone crypt, %s, work dir %s\n", time.Now().UTC().Format(time.RFC3339), work)
	res, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peer:", err)
		if !*keep {
			os.RemoveAll(work)
		}
		os.Exit(1)
	}
	res.table(o.Out)
}
