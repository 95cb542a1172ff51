// Package vaultpolicy holds mattersync's Vault policies as files IT can
// review (*.hcl here), embedded in the binaries that install them.
//
// Each file is a text/template rendered by package kms with the configured
// layout: {{.Name}} (policy prefix, OIDC role), {{.Transit}}, {{.KV}},
// {{.Userpass}} (mount paths), {{.AdminGroup}} and, for the per-matter
// policies, {{.Matter}}.
package vaultpolicy

import (
	"embed"
	"io/fs"
)

//go:embed *.hcl
var files embed.FS

// FS returns the policy templates: agent.hcl, admin.hcl, matter.hcl,
// screened.hcl, gateway.hcl (the gateway's audit-head login) and
// compliance.hcl (reports that name files).
func FS() fs.FS { return files }
