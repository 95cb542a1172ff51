package testenv

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattersync/mattersync/internal/proc"
)

// process is a server started for tests in its own temp dir.
type process struct {
	*proc.Process
	dir string
}

// startProcess starts bin with args and env in a fresh temp dir (also its
// HOME, so nothing lands in the user's home) and waits until readyURL
// answers 200.
func startProcess(name, bin string, args, env []string, readyURL func(dir string) string) (*process, error) {
	dir, err := os.MkdirTemp("", "mattersync-"+name+"-")
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(proc.Spec{Name: name, Bin: bin, Args: args, Env: append([]string{"HOME=" + dir}, env...),
		Dir: dir, Log: filepath.Join(dir, name+".log"), Ready: readyURL(dir)})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: %w", err)
	}
	return &process{Process: p, dir: dir}, nil
}

// stop stops the server and removes its directory.
func (p *process) stop() {
	p.Stop()
	if err := os.RemoveAll(p.dir); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: remove %s: %v\n", p.dir, err)
	}
}
