package proc

import "syscall"

// sysProcAttr makes a test server die with the test binary, even on SIGKILL,
// so a crashed test run never leaves servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
