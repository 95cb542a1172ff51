package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is a server started for tests, with its log in dir.
type process struct {
	name string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error // set before done is closed
}

// startProcess starts bin with args and env in a fresh temp dir (also its
// HOME, so nothing lands in the user's home) and waits until readyURL answers
// 200, or fails with the tail of its log.
func startProcess(name, bin string, args, env []string, readyURL func(dir string) string) (*process, error) {
	dir, err := os.MkdirTemp("", "mattersync-"+name+"-")
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := p.waitReady(readyURL(dir), 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *process) waitReady(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("testenv: %s exited before it was ready (%v): %s", p.name, p.err, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s not ready at %s after %v: %s", p.name, url, timeout, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, p.name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop terminates the server (SIGTERM, then SIGKILL after 10 s) and removes
// its directory.
func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if err := os.RemoveAll(p.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "testenv: remove %s: %v\n", p.dir, err)
	}
}
