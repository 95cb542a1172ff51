package kms_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/kms"
)

func TestParseMatterGroup(t *testing.T) {
	for _, tc := range []struct {
		group  string
		matter string
		role   kms.Role
		ok     bool
	}{
		{"matter-2026-0001-rw", "2026-0001", kms.RoleRW, true},
		{"matter-a-ro", "a", kms.RoleRO, true},
		{"matter-x-screened", "x", kms.RoleScreened, true},
		{"matter-x-screened-rw", "", "", false}, // "x-screened" is no matter ID: it would collide with x's wall
		{"matter-rw", "", "", false},
		{"matter--rw", "", "", false},
		{"matter-x-admin", "", "", false},
		{"matter-X-rw", "", "", false},
		{"mattersync-admins", "", "", false},
		{"matter-x-rw ", "", "", false},
		{"", "", "", false},
	} {
		m, r, ok := kms.ParseMatterGroup(tc.group)
		if m != tc.matter || r != tc.role || ok != tc.ok {
			t.Errorf("ParseMatterGroup(%q) = %q, %q, %v; want %q, %q, %v", tc.group, m, r, ok, tc.matter, tc.role, tc.ok)
		}
		if ok && kms.MatterGroup(m, r) != tc.group {
			t.Errorf("MatterGroup(%q, %q) does not round-trip to %q", m, r, tc.group)
		}
	}
}

func TestValidateUserName(t *testing.T) {
	for name, ok := range map[string]bool{
		"alice": true, "alice.smith@firm.example": true, "a": true, "0x": true, "a-b_c": true,
		"": false, "Alice": false, "-a": false, ".a": false, "a/b": false, "a b": false,
		"a\n": false, string(make([]byte, 65)): false,
	} {
		if err := kms.ValidateUserName(name); (err == nil) != ok {
			t.Errorf("ValidateUserName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if c := kms.DefaultConfig(); c.Validate() != nil {
		t.Fatalf("default config invalid: %v", c.Validate())
	}
	for name, mut := range map[string]func(*kms.Config){
		"no address":        func(c *kms.Config) { c.Address = "" },
		"ftp address":       func(c *kms.Config) { c.Address = "ftp://vault" },
		"zero key TTL":      func(c *kms.Config) { c.KeyTTL = 0 },
		"zero timeout":      func(c *kms.Config) { c.Timeout = 0 },
		"negative retries":  func(c *kms.Config) { c.Retries = -1 },
		"empty transit":     func(c *kms.Config) { c.Layout.Transit = "" },
		"slash kv":          func(c *kms.Config) { c.Layout.KV = "kv/" },
		"same mounts":       func(c *kms.Config) { c.Layout.KV = c.Layout.Transit },
		"upper name":        func(c *kms.Config) { c.Layout.Name = "Mattersync" },
		"empty audience":    func(c *kms.Config) { c.Layout.Audience = "" },
		"space in userpass": func(c *kms.Config) { c.Layout.Userpass = "user pass" },
	} {
		c := kms.DefaultConfig()
		mut(&c)
		if err := c.Validate(); kms.KindOf(err) != kms.Invalid {
			t.Errorf("%s: Validate() = %v, want an Invalid error", name, err)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"rw", "ro", "screened"} {
		if r, err := kms.ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "RW", "admin", "rw "} {
		if _, err := kms.ParseRole(s); kms.KindOf(err) != kms.Invalid {
			t.Errorf("ParseRole(%q) = %v, want Invalid", s, err)
		}
	}
}

// TestErrorClassification pins how Vault answers map to kinds without a
// server: the status codes and messages Vault uses.
func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind kms.Kind
	}{
		{&vault.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}}, kms.Denied},
		{&vault.ResponseError{StatusCode: 404}, kms.NotFound},
		{&vault.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, kms.Sealed},
		{&vault.ResponseError{StatusCode: 503, Errors: []string{"local node not active but active cluster node not found"}}, kms.Unavailable},
		{&vault.ResponseError{StatusCode: 400, Errors: []string{"check-and-set parameter did not match the current version"}}, kms.Conflict},
		{&vault.ResponseError{StatusCode: 400, Errors: []string{"invalid username or password"}}, kms.Denied},
		{&vault.ResponseError{StatusCode: 500, Errors: []string{"internal error"}}, kms.Other},
		{fmt.Errorf("Put \"http://127.0.0.1:1/v1/x\": dial tcp 127.0.0.1:1: connect: connection refused"), kms.Unavailable},
		{errors.New("something else"), kms.Other},
	} {
		// Errors reach callers through an exported operation; wrap the same way.
		got := kms.KindOf(kms.WrapForTest("op", tc.err))
		if got != tc.kind {
			t.Errorf("%v: kind %v, want %v", tc.err, got, tc.kind)
		}
	}
}

// TestConfigYAML: the agent and gateway embed kms.Config in their strict
// YAML configs; durations are strings, unknown keys are errors.
func TestConfigYAML(t *testing.T) {
	decode := func(doc string) (kms.Config, error) {
		c := kms.DefaultConfig()
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := decode("address: https://vault.firm.example:8200\nkey_ttl: 5m\nlayout:\n  kv: secret-ms\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyTTL != 5*time.Minute || c.Layout.KV != "secret-ms" || c.Layout.Transit != "transit" || c.Timeout != kms.DefaultTimeout {
		t.Errorf("decoded %+v", c)
	}
	if _, err := decode("address: https://v\nkey_tl: 5m\n"); err == nil {
		t.Errorf("unknown key accepted")
	}
	if _, err := decode("address: https://v\nkey_ttl: -1s\n"); err == nil {
		t.Errorf("negative TTL accepted")
	}
}
