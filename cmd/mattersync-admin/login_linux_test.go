package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mattersync/mattersync/kms/kmstest"
)

// openPTY opens a pseudo-terminal: the master (what a terminal emulator
// holds) and the slave (the command's stdin).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err) // not a service: a kernel feature
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoEchoReader: secrets are read without echo only from a terminal.
func TestNoEchoReader(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if noEchoReader(r) != nil || noEchoReader(strings.NewReader("x\n")) != nil {
		t.Errorf("a pipe or a reader counts as a terminal")
	}
	_, slave := openPTY(t)
	if noEchoReader(slave) == nil {
		t.Errorf("a terminal does not count as one")
	}
}

// TestLoginFromTerminal: with stdin a terminal, --login prompts on stderr
// and the password typed is not echoed.
func TestLoginFromTerminal(t *testing.T) {
	env := kmstest.Setup(t)
	it := env.User(t, true)
	master, slave := openPTY(t)
	var stdout bytes.Buffer
	var stderr lockedBuffer
	a := newApp(slave, &stdout, &stderr, func(k string) string {
		return map[string]string{"VAULT_ADDR": env.Vault.Addr, "HOME": t.TempDir()}[k]
	})
	l := env.Config.Layout
	args := []string{"--transit-mount", l.Transit, "--kv-mount", l.KV, "--userpass-mount", l.Userpass,
		"--vault-name", l.Name, "--audience", l.Audience, "--login", it.Name, "user", "list"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- run(ctx, a, args) }()

	// Type only once the terminal stopped echoing: the line discipline
	// echoes what arrives before.
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		select {
		case c := <-code:
			t.Fatalf("exit %d before reading the password; stderr %q", c, stderr.String())
		case <-ctx.Done():
			t.Fatalf("the terminal kept echoing; stderr %q", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !strings.Contains(stderr.String(), "password for "+it.Name+": ") {
		t.Errorf("no prompt on stderr: %q", stderr.String())
	}
	if _, err := master.WriteString(it.Password + "\n"); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d; stderr %q", c, stderr.String())
	}
	if !strings.Contains(stdout.String(), it.Name) {
		t.Errorf("user list printed %q", stdout.String())
	}
	// Echo happens as input arrives, so anything echoed is already there:
	// a non-blocking read gets it.
	fd := int(master.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if err == unix.EAGAIN {
		n = 0
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(buf[:n]), it.Password) || strings.Contains(stdout.String()+stderr.String(), it.Password) {
		t.Errorf("the password was echoed or printed: terminal %q", buf[:n])
	}
}
