package gateway

// What stops a link (docs/SHARING.md, "What stops a link"): a share lives
// only while its matter is open, not shredded and shares by policy, and
// its creator is not denied, still a member (where the matter's
// membership is recorded) and not screened. The revocation hooks (user
// revoke, matter close and shred, sharing off) revoke the shares they
// find, but the guarantee is the check each creation and each use makes
// again inside its own transaction (store.ShareRules): a creation that
// was in flight during a hook, a hook that failed, a membership change
// (which has no hook), a change of the gateway's default — all are
// refused there. The first refused use revokes the share for good, with
// its share.revoke record, and the expiry sweep revokes those nobody
// used.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
)

// revokedByGateway is who revoked a share the rules refused.
const revokedByGateway = "mattersync-gateway"

// shareRules are the rules every use of a share checks (creation adds the
// creator's token time).
func (s *Server) shareRules() store.ShareRules {
	return store.ShareRules{DefaultOn: s.sharing.cfg != nil && s.sharing.cfg.Default == share.PolicyOn}
}

// blockedCreate maps a creation the rules refused to its answer.
func blockedCreate(err error) (Kind, string, bool) {
	var b *store.ShareBlocked
	if !errors.As(err, &b) {
		return 0, "", false
	}
	switch b.Reason {
	case "matter closed", "matter shredded":
		return KindMatterClosed, "the matter was closed while the share was being sent: nothing is shared", true
	case "sharing off":
		return KindSharingOff, "sharing was turned off for the matter while the share was being sent: nothing is shared", true
	}
	return KindForbidden, "your access changed while the share was being sent (" + b.Reason + "): nothing is shared", true
}

// revokeBlocked revokes sh, which the rules (or the wrong-code cap)
// refused, for reason, with its share.revoke record; once, whichever
// replica sees it first. A failure leaves it to the next refusal or sweep:
// the rules refuse it meanwhile.
func (s *Server) revokeBlocked(ctx context.Context, sh store.Share, reason, requestID string) {
	s.revokeMarked(ctx, sh, "", reason, requestID)
}

// revokeMarked is revokeBlocked with mark (an alerts.Object* marker, or
// "") starting the record's object.
func (s *Server) revokeMarked(ctx context.Context, sh store.Share, mark, reason, requestID string) {
	now := time.Now()
	obj := shareObject(sh) + " reason=" + strconv.Quote(reason)
	if mark != "" {
		obj = mark + " " + shareObject(sh) + " creator=" + sh.User + " reason=" + strconv.Quote(reason)
	}
	rec := &audit.Record{Time: now, Matter: sh.Matter, Action: "share.revoke", Object: obj,
		Result: audit.ResultOK, Status: http.StatusOK, RequestID: requestID, User: revokedByGateway}
	done, err := s.shares.RevokeShares(context.WithoutCancel(ctx), store.ShareFilter{ID: sh.ID}, revokedByGateway, reason, now, rec)
	if err != nil {
		s.log.Warn("refused share not marked revoked (refused meanwhile; the next refusal or sweep tries again)", "share", sh.ID, "err", err)
		return
	}
	if len(done) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}

// sweepShares is one pass of the expiry sweep: share.expire for the
// shares that expired unseen, and share.revoke for the live ones the
// rules now refuse (a failed hook, a membership change, the default
// turned off).
func (s *Server) sweepShares(ctx context.Context) error {
	list, err := s.shares.Shares(ctx, store.ShareFilter{})
	if err != nil {
		return err
	}
	now := time.Now()
	rules := s.shareRules()
	for _, sh := range list {
		if !sh.Revoked.IsZero() {
			continue
		}
		if !now.Before(sh.Expires) {
			s.markExpired(ctx, sh, newRequestID())
			continue
		}
		_, err := s.shares.CheckShare(ctx, sh.ID, nil, now, rules)
		var b *store.ShareBlocked
		switch {
		case errors.As(err, &b):
			s.revokeBlocked(ctx, sh, b.Reason, newRequestID())
		case err != nil && !errors.Is(err, store.ErrShareUsedUp) && !errors.Is(err, store.ErrShareExpired) && !errors.Is(err, store.ErrShareRevoked):
			return err
		}
	}
	return nil
}
