package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/kms/kmstest"
)

// A one-shot command's log carries errors only, as text, never JSON.
func TestCLILogIsTerseText(t *testing.T) {
	var b bytes.Buffer
	log := newCLILogger(&b).With("matter", "2026-0001")
	log.Info("synced")
	log.Warn("matters folder is not on a disk known to be encrypted", "state", "unknown")
	log.Error("cannot write the index", "err", errors.New("disk full"))
	if got, want := b.String(), "mattersync: cannot write the index; matter: 2026-0001; err: disk full\n"; got != want {
		t.Fatalf("CLI log = %q, want %q", got, want)
	}
}

// `versions` against a real Vault login prints its error and nothing else
// on stderr: no JSON log line (the agent's disk-encryption warning was one
// on every call).
func TestOneShotCommandPrintsNoLogLines(t *testing.T) {
	v := kmstest.Setup(t)
	u := v.User(t, false)
	cfg, path := loginConfig(t, v, u)
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", u.Password)
	out, err := run(t, "", "versions", "--config", path, filepath.Join(cfg.Root, "Nowhere", "Brief.docx"))
	if err == nil || !strings.Contains(err.Error(), "not in a synced matter folder") {
		t.Fatalf("versions outside a matter: %v", err)
	}
	if out != "" {
		t.Fatalf("versions printed more than its error:\n%s", out)
	}
}
