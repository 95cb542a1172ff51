package admin

// mattersync's Vault set-up: mounts, identity token key and role,
// policies, the admin group (kms.Admin.Init).

import (
	"context"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// InitVault creates what mattersync needs in Vault, or checks it is in
// place; running it again changes nothing. It returns the identity token
// configuration the gateway verifies tokens with.
func (s *Session) InitVault(ctx context.Context, opt kms.InitOptions) (kms.TokenConfig, error) {
	if _, err := s.Vault.Init(ctx, opt, s.kmsProgress()); err != nil {
		return kms.TokenConfig{}, err
	}
	return s.Vault.TokenConfig(ctx)
}

// VaultStatus checks the set-up without changing anything (InitVault
// with DryRun). If init has work to do it returns the token configuration
// with a fault.Incomplete error.
func (s *Session) VaultStatus(ctx context.Context) (kms.TokenConfig, error) {
	steps, err := s.Vault.Init(ctx, kms.InitOptions{DryRun: true}, s.kmsProgress())
	if err != nil {
		return kms.TokenConfig{}, err
	}
	tc, err := s.Vault.TokenConfig(ctx)
	if err != nil {
		return kms.TokenConfig{}, err
	}
	for _, st := range steps {
		if st.Detail != "unchanged" {
			return tc, fault.Errorf(fault.Incomplete, "mattersync is not fully set up in Vault: run `mattersync-admin vault init`")
		}
	}
	return tc, nil
}
