//go:build !unix

package sqlite

// lockFile is a no-op where flock is unavailable: the gateway is built for
// Linux and macOS only.
func lockFile(string) (func() error, error) { return func() error { return nil }, nil }
