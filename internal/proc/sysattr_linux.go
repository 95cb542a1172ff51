package proc

import "syscall"

// sysProcAttr makes a test server die with the test binary, even on SIGKILL,
// so a crashed test run never leaves servers behind. Its own process group
// keeps a terminal's Ctrl-C away from it: the parent stops it in order
// (agents before the gateway before Vault), and a server that died of the
// signal first would look like a crash.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
