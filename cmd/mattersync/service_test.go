package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// The service definition carries the absolute config path, so the service
// never depends on its working directory or environment.
func TestServiceConfigBakesConfigPath(t *testing.T) {
	sc, err := serviceConfig("rel/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("rel/agent.yaml")
	want := []string{"service", "run", "--config", abs}
	if !slices.Equal(sc.Arguments, want) {
		t.Fatalf("Arguments = %q, want %q", sc.Arguments, want)
	}
	if sc.Name != "mattersync" {
		t.Fatalf("Name = %q", sc.Name)
	}
	// The hidden "service run" command the definition names must exist.
	if _, err := run(t, "", "service", "run", "--help"); err != nil {
		t.Fatalf("service run: %v", err)
	}
}
