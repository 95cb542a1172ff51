package kms

// Compliance officers: reports that name files open the manifests the
// gateway hands out as ciphertext, on the officer's machine, with the
// matter's epoch keys. The policy {{.Name}}-compliance (compliance.hcl)
// may read the wrapped epoch keys and unwrap them (transit decrypt); Vault
// audits every unwrap. It is given through the group ComplianceGroup.

import (
	"context"
	"fmt"
)

// ComplianceGroup is the Vault identity group of compliance officers.
const ComplianceGroup = "mattersync-compliance"

func (l Layout) compliancePolicy() string { return l.Name + "-compliance" }

// SetupCompliance creates, idempotently, the compliance policy and the
// group that carries it. It needs a bootstrap (root-like) token, like
// Init.
func (a *Admin) SetupCompliance(ctx context.Context, progress Progress) ([]Step, error) {
	const op = "compliance setup"
	l := a.s.layout
	var steps []Step
	for _, t := range []struct {
		name string
		f    func() (string, error)
	}{
		{"policy " + l.compliancePolicy(), func() (string, error) {
			return a.s.putPolicy(ctx, op, l.compliancePolicy(), "compliance.hcl", "", false)
		}},
		{"group " + ComplianceGroup, func() (string, error) {
			return a.ensureGroup(ctx, op, ComplianceGroup, []string{l.compliancePolicy()}, nil, false)
		}},
	} {
		detail, err := t.f()
		steps = append(steps, progress.report(Step{Name: t.name, Detail: detail, Err: err}))
		if err != nil {
			return steps, err
		}
	}
	return steps, nil
}

// SetCompliance adds user to (on) or removes them from the compliance
// group, and reports whether anything changed.
func (a *Admin) SetCompliance(ctx context.Context, user string, on bool) (bool, error) {
	op := fmt.Sprintf("compliance officer %s", user)
	u, err := a.User(ctx, user)
	if err != nil {
		return false, err
	}
	g, err := a.s.readGroup(ctx, op, ComplianceGroup)
	if err != nil {
		return false, err
	}
	if g == nil {
		return false, errorf(op, NotFound, "group %s does not exist: run `mattersync-admin report officer setup` with the bootstrap token", ComplianceGroup)
	}
	return a.setMember(ctx, op, ComplianceGroup, u.EntityID, on)
}

// ComplianceOfficers lists the compliance group's members' entity IDs.
func (a *Admin) ComplianceOfficers(ctx context.Context) ([]string, error) {
	g, err := a.s.readGroup(ctx, "compliance officers", ComplianceGroup)
	if err != nil || g == nil {
		return nil, err
	}
	return g.Members, nil
}

// MatterKeys returns every epoch key of matter, unwrapped, for reading its
// manifests: the caller must have the compliance policy (Denied
// otherwise). The caller clears the keys when done.
func (a *Admin) MatterKeys(ctx context.Context, matter string) (map[uint32][]byte, error) {
	op := "matter keys " + matter
	if err := validateMatter(op, matter); err != nil {
		return nil, err
	}
	set, _, err := a.s.readEpochs(ctx, op, matter)
	if err != nil {
		return nil, err
	}
	keys, err := a.s.decryptEpochs(ctx, op, matter, set)
	if KindOf(err) == Denied {
		return nil, errorf(op, Denied, "refused: naming files needs the compliance policy (`mattersync-admin report officer add <you>`)")
	}
	return keys, err
}
