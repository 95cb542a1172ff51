package admin

// Matters and their members live in Vault (kms); every change that
// creates an epoch or takes access away also tells the gateway.

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// CreateMatter creates matter id, with a display name, at epoch 1 in
// Vault, then tells the gateway. If only the gateway step failed, the
// matter is returned with a fault.Incomplete error naming the repair.
func (s *Session) CreateMatter(ctx context.Context, id, name string) (kms.MatterInfo, error) {
	m, err := s.Vault.CreateMatter(ctx, id, name, s.kmsProgress())
	if err != nil {
		return kms.MatterInfo{}, err
	}
	s.recordMembership(ctx, m.ID, "", firstNonEmpty(s.Reason, "matter created"))
	return m, epochIncomplete("matter "+m.ID+" created", m.ID, 1, s.gatewayEpoch(ctx, m.ID, 1))
}

// ListMatters returns every matter, shredded ones included.
func (s *Session) ListMatters(ctx context.Context) ([]kms.MatterInfo, error) {
	return s.Vault.ListMatters(ctx)
}

// Members returns a matter's members and screened users.
func (s *Session) Members(ctx context.Context, matter string) ([]kms.Member, error) {
	return s.Vault.Members(ctx, matter)
}

// Grant makes user a member of matter with role rw or ro (or changes their
// role); it reports whether anything changed. Walls are Screen's.
func (s *Session) Grant(ctx context.Context, matter, user string, role kms.Role) (bool, error) {
	if role != kms.RoleRW && role != kms.RoleRO {
		return false, fault.Errorf(fault.Invalid, "role %q: a member is rw or ro (screening is a wall, not a role)", role)
	}
	changed, err := s.Vault.Grant(ctx, matter, user, role)
	if err == nil && changed {
		s.recordMembership(ctx, matter, user, s.Reason)
	}
	return changed, err
}

// Unscreen lifts an ethical wall; it grants nothing by itself. It
// reports whether anything changed.
func (s *Session) Unscreen(ctx context.Context, matter, user string) (bool, error) {
	changed, err := s.Vault.Unscreen(ctx, matter, user)
	if err == nil && changed {
		s.recordMembership(ctx, matter, user, s.Reason)
	}
	return changed, err
}

// AccessOptions tune RemoveMember and Screen.
type AccessOptions struct {
	// NoRotate leaves the matter at its epoch: keys the user may have
	// kept still open data written from now on, until the next rotation.
	NoRotate bool
}

// AccessChange is what RemoveMember or Screen did.
type AccessChange struct {
	// Changed: the user was removed (RemoveMember), or screened (Screen,
	// always true on success).
	Changed bool
	// LostAccess: the user was a member until now, so their identity
	// tokens are reissued and the matter rotated (unless NoRotate).
	LostAccess bool
	// Rotation is the rotation that followed; Epoch 0 if there was none.
	Rotation kms.RotateResult
	// RotationSkipped: the user lost access but AccessOptions.NoRotate
	// said not to rotate.
	RotationSkipped bool
}

// RemoveMember removes user from matter, makes the gateway refuse their
// identity tokens issued until now, and rotates the matter (unless
// opt.NoRotate) so that data written from now on is out of their reach.
func (s *Session) RemoveMember(ctx context.Context, matter, user string, opt AccessOptions) (AccessChange, error) {
	removed, err := s.Vault.Remove(ctx, matter, user)
	if err != nil || !removed {
		return AccessChange{}, err
	}
	s.note("%s removed from %s", user, matter)
	s.recordMembership(ctx, matter, user, s.Reason)
	ch := AccessChange{Changed: true, LostAccess: true}
	riErr := s.gatewayReissue(ctx, user, "removed from "+matter)
	err = s.rotateAfter(ctx, matter, &ch, opt)
	return ch, reissueIncomplete(err, riErr)
}

// Screen puts an ethical wall between user and matter, which beats any
// grant. If they were a member, it goes on as RemoveMember does.
func (s *Session) Screen(ctx context.Context, matter, user string, opt AccessOptions) (AccessChange, error) {
	wasMember, err := s.Vault.Screen(ctx, matter, user)
	if err != nil {
		return AccessChange{}, err
	}
	s.note("%s is screened from %s", user, matter)
	s.recordMembership(ctx, matter, user, s.Reason)
	ch := AccessChange{Changed: true, LostAccess: wasMember}
	var riErr error
	if wasMember {
		riErr = s.gatewayReissue(ctx, user, "screened from "+matter)
	}
	err = s.rotateAfter(ctx, matter, &ch, opt)
	return ch, reissueIncomplete(err, riErr)
}

// rotateAfter rotates matter when a member lost access, unless told not
// to, recording the rotation in ch.
func (s *Session) rotateAfter(ctx context.Context, matter string, ch *AccessChange, opt AccessOptions) error {
	switch {
	case !ch.LostAccess:
		return nil
	case opt.NoRotate:
		ch.RotationSkipped = true
		return nil
	}
	s.note("rotating %s so that data written from now on is out of their reach:", matter)
	var err error
	ch.Rotation, err = s.Rotate(ctx, matter)
	return err
}

// Rotate starts a new key epoch: it rotates the matter's transit key,
// rewraps older epochs, retires old key versions, then tells the gateway.
// A result with Epoch set means the new epoch is stored in Vault (agents
// seal under it), even if the error says a later step failed; a
// fault.Incomplete error means only the gateway step did.
func (s *Session) Rotate(ctx context.Context, matter string) (kms.RotateResult, error) {
	res, err := s.Vault.Rotate(ctx, matter, s.kmsProgress())
	if res.Epoch == 0 {
		return res, err
	}
	gwErr := s.gatewayEpoch(ctx, matter, res.Epoch)
	if err != nil {
		return res, err
	}
	return res, epochIncomplete(fmt.Sprintf("matter %s rotated to epoch %d", matter, res.Epoch), matter, res.Epoch, gwErr)
}

// ShredOptions tune Shred.
type ShredOptions struct {
	// SkipHoldCheck shreds without asking the gateway about a legal hold:
	// only for when there is no gateway and no hold.
	SkipHoldCheck bool
}

// Shred crypto-shreds a closed matter: its transit key, every stored
// version of its wrapped epoch keys, its policies, groups and display
// name are deleted, and nobody, Vault's root included, can decrypt its
// data afterwards. A matter on legal hold is fault.Refused; without a
// gateway to ask, the error wraps ErrHoldUnknown.
func (s *Session) Shred(ctx context.Context, matter string, opt ShredOptions) error {
	if !opt.SkipHoldCheck {
		held, err := s.onHold(ctx, matter)
		if err != nil {
			return err
		}
		if held {
			return fault.Errorf(fault.Refused, "matter %s is on legal hold: shredding refused", matter)
		}
		s.note("legal hold: none")
	}
	return s.Vault.Shred(ctx, matter, s.kmsProgress())
}
