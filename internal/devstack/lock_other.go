//go:build !unix

package devstack

// lockDir is a no-op where flock is missing: the dev stack runs on Linux
// and macOS.
func lockDir(string) (func(), error) { return func() {}, nil }
