package gateway

import (
	"context"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// ShareStore keeps shares with people outside the firm, their one-time
// codes and download capabilities (docs/SHARING.md). Every change
// appends its audit record in the same transaction.
type ShareStore interface {
	CreateShare(ctx context.Context, sh store.Share, rec *audit.Record) error
	// Share returns a share or store.ErrNotFound.
	Share(ctx context.Context, id string) (store.Share, error)
	Shares(ctx context.Context, f store.ShareFilter) ([]store.Share, error)
	// RevokeShares revokes the live shares f selects and returns them;
	// rec (may be nil) is appended only when any was.
	RevokeShares(ctx context.Context, f store.ShareFilter, by, reason string, now time.Time, rec *audit.Record) ([]store.Share, error)
	AddShareCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, rec *audit.Record) error
	VerifyShareCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, rec *audit.Record) (store.Share, error)
	ReleaseShare(ctx context.Context, id string, grant [32]byte, now time.Time, rec *audit.Record) (store.Share, error)
}

// SharingPolicyStore keeps each matter's sharing policy: whether its
// members may share at all (mattersync-admin matter sharing on|off).
type SharingPolicyStore interface {
	SetSharing(ctx context.Context, matter string, p store.SharingPolicy, rec *audit.Record) error
	Sharing(ctx context.Context, matter string) (store.SharingPolicy, error)
}
