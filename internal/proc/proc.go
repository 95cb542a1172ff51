// Package proc starts and stops the server processes of the test
// environment and the local stack (Vault, MinIO, the gateway, agents): a
// log file per process, a readiness probe, graceful stop and kill -9.
package proc

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec says how to start a process.
type Spec struct {
	Name string   // for messages
	Bin  string   // executable
	Args []string // arguments
	Env  []string // added to the current environment
	Dir  string   // working directory
	Log  string   // file receiving stdout and stderr (appended)
	// Ready, if set, is polled until it answers 200 (or the process exits).
	Ready   string
	Timeout time.Duration // for Ready; default 60s
}

// Linux's parent-death signal (see sysProcAttr) fires when the *thread*
// that started the child exits, not the process, and the Go runtime may
// retire threads. All children are therefore started from one goroutine
// locked to its own thread for the life of the process.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnSpawner(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// Process is a started process.
type Process struct {
	spec Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Start starts the process and waits until it is ready.
func Start(s Spec) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(s.Log), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := startOnSpawner(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Process{spec: s, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if s.Ready != "" {
		if err := p.waitReady(); err != nil {
			p.Kill()
			return nil, err
		}
	}
	return p, nil
}

func (p *Process) waitReady() error {
	timeout := p.spec.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.spec.Ready, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v): %s", p.spec.Name, p.err, p.LogTail(2000))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s after %v: %s", p.spec.Name, p.spec.Ready, timeout, p.LogTail(2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LogTail returns the last n bytes of the process's log.
func (p *Process) LogTail(n int) string {
	b, _ := os.ReadFile(p.spec.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// PID returns the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error, valid after Done.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM (on Windows: kills) and waits up to 10 s before
// killing.
func (p *Process) Stop() {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill kills the process at once (kill -9) and waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
