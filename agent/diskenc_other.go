//go:build !linux && !darwin && !windows

package agent

func diskEncryption(string) (string, string) { return "unknown", "not supported on this OS" }
