package store

import (
	"errors"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Share is a file version shared with someone outside the firm
// (docs/SHARING.md). The share object in the bucket is ciphertext under a
// share key that lives only in the link's URL fragment: nothing here can
// decrypt it, and nothing here names the file.
type Share struct {
	ID        string // random, chosen by the gateway; the link's /s/<id>
	Matter    string
	File      format.ID
	Version   int64
	Recipient string // the address that must prove control (lower case)
	Entity    string // the creator
	User      string
	Created   time.Time
	Expires   time.Time
	// MaxDownloads is how many downloads the share allows (at least 1);
	// Downloads how many were released.
	MaxDownloads int64
	Downloads    int64
	Size         int64  // the share object's size in bytes
	ObjectKey    string // where the share object is in the bucket
	// Revoked is when the share was revoked (zero: never), by whom and why
	// ("user revoked", "matter closed", an admin's reason).
	Revoked      time.Time
	RevokedBy    string
	RevokeReason string
}

// Usable says why s can release no bytes at now, or nil.
func (s Share) Usable(now time.Time) error {
	switch {
	case !s.Revoked.IsZero():
		return ErrShareRevoked
	case !now.Before(s.Expires):
		return ErrShareExpired
	case s.Downloads >= s.MaxDownloads:
		return ErrShareUsedUp
	}
	return nil
}

// ShareCode is a one-time code sent to a share's recipient, stored only as
// a hash.
type ShareCode struct {
	Share   string
	Hash    [32]byte
	Created time.Time
	Expires time.Time
}

// ShareFilter selects shares to list or revoke: every set field must
// match; ID "" with Matter and Entity "" selects every share.
type ShareFilter struct {
	ID     string
	Matter string
	Entity string // the creator
}

// SharingPolicy is a matter's sharing setting.
type SharingPolicy int

// A matter's sharing policy: the gateway's default until an admin set it.
const (
	SharingDefault SharingPolicy = iota
	SharingOn
	SharingOff
)

// Errors refusing a share's use.
var (
	ErrShareRevoked = errors.New("store: the share was revoked")
	ErrShareExpired = errors.New("store: the share has expired")
	ErrShareUsedUp  = errors.New("store: the share's downloads are used up")
	// ErrCodeWrong: no unused, unexpired code of the share has this hash.
	ErrCodeWrong = errors.New("store: wrong, used or expired code")
	// ErrCodeLimit: too many codes sent, or wrong codes tried, for the
	// share or its recipient address in the last hour.
	ErrCodeLimit = errors.New("store: too many codes for this share or address")
)

// CodeLimits bound one-time codes per hour: codes sent and wrong codes
// tried, per share and per recipient address; and wrong codes over a
// share's lifetime (WrongPerShareTotal, 0: unbounded), after which the
// share is refused with ErrCodeCap.
type CodeLimits struct {
	SentPerShare, SentPerAddress   int
	WrongPerShare, WrongPerAddress int
	WrongPerShareTotal             int
}

// ErrCodeCap: the share's wrong codes reached CodeLimits.WrongPerShareTotal
// (the wrong code just tried included): it takes no more codes, and the
// gateway revokes it.
var ErrCodeCap = errors.New("store: too many wrong codes over the share's lifetime")

// ShareRules are what a share's creation and every use of it check again
// inside their transaction, besides the share's own state (Usable): the
// matter is neither closed nor shredded, its sharing policy is on, and the
// creator is not denied, still a member (where the matter's membership is
// recorded) and not screened. A share that fails them is refused with a
// *ShareBlocked.
type ShareRules struct {
	// DefaultOn is the gateway's sharing default (sharing.default: on):
	// the policy of a matter an admin never set.
	DefaultOn bool
	// Token, on creation only, is when the creator's identity token
	// counts as issued (its iat less vault.reissue_leeway): a reissue
	// stamp at or after it refuses the creation, as the gateway refuses
	// the token from then on. Zero on use: there a reissue stamp after
	// the share's creation refuses it unless the matter's membership
	// history shows the creator still a member.
	Token time.Time
}

// ShareBlocked is the refusal of a share's creation or use by its
// ShareRules; Reason says which ("matter closed", "user revoked", ...).
// It matches ErrShareRevoked: the link is as good as revoked.
type ShareBlocked struct{ Reason string }

func (b *ShareBlocked) Error() string { return "store: share refused: " + b.Reason }

// Is makes a ShareBlocked match ErrShareRevoked.
func (b *ShareBlocked) Is(target error) bool { return target == ErrShareRevoked }

// ShareGrant is the download capability a verified code gives: one
// download of the share until Expires, presented as a secret whose hash
// is Hash.
type ShareGrant struct {
	Hash    [32]byte
	Expires time.Time
}

// ErrGrantInvalid: the download capability is unknown, used or expired.
var ErrGrantInvalid = errors.New("store: the download capability is unknown, used or expired")
