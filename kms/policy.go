package kms

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/template"

	vaultpolicy "github.com/mattersync/mattersync/configs/vault"
)

// policyData fills the templates in configs/vault.
type policyData struct {
	Name, Transit, KV, Userpass, AdminGroup, Matter string
}

// renderPolicy renders configs/vault/<file> for the layout (and matter, for
// the per-matter policies).
func (l Layout) renderPolicy(file, matter string) (string, error) {
	t, err := template.New(file).Option("missingkey=error").ParseFS(vaultpolicy.FS(), file)
	if err != nil {
		return "", fmt.Errorf("policy %s: %w", file, err)
	}
	var b bytes.Buffer
	d := policyData{Name: l.Name, Transit: l.Transit, KV: l.KV, Userpass: l.Userpass, AdminGroup: AdminGroup, Matter: matter}
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("policy %s: %w", file, err)
	}
	return b.String(), nil
}

// putPolicy writes policy name unless Vault already has exactly that text,
// and says which.
func (s *session) putPolicy(ctx context.Context, op, name, file, matter string, dryRun bool) (string, error) {
	text, err := s.layout.renderPolicy(file, matter)
	if err != nil {
		return "", errorf(op, Other, "%w", err)
	}
	sec, err := s.readOpt(ctx, op, "sys/policies/acl/"+name)
	if err != nil {
		return "", err
	}
	result := "created"
	if sec != nil {
		if cur, _ := sec.Data["policy"].(string); strings.TrimSpace(cur) == strings.TrimSpace(text) {
			return "unchanged", nil
		}
		result = "updated"
	}
	if dryRun {
		return "would be " + result, nil
	}
	if _, err := s.write(ctx, op, "sys/policies/acl/"+name, map[string]any{"policy": text}); err != nil {
		return "", err
	}
	return result, nil
}
