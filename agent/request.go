package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// RequestOptions are a file request's recipient and limits (zero: the
// gateway's defaults).
type RequestOptions struct {
	From     string // the client's address
	Expires  time.Duration
	MaxFiles int64
}

// FileRequest is a file request made: the gateway's record and the link
// to send the client, whose fragment is the request's public key.
type FileRequest struct {
	api.Request
	Link string
}

// ErrNoRequests: the gateway client cannot make file requests.
var ErrNoRequests = errors.New("this agent's gateway connection cannot make file requests")

// Request makes a file request for the matter whose folder holds path
// (docs/SHARING.md, "Request files"): a fresh X25519 key pair, its
// private half wrapped under the matter's current epoch key, registered
// with the gateway with the public half; the link carries the public key
// in its fragment, which browsers never send, so the gateway that serves
// the page cannot substitute a key of its own. Only an rw member may ask
// (the gateway checks too); files land in the matter's Incoming folder.
func (a *Agent) Request(ctx context.Context, path string, o RequestOptions) (FileRequest, error) {
	if a.drops == nil {
		return FileRequest{}, ErrNoRequests
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return FileRequest{}, err
	}
	rel, err := filepath.Rel(a.cfg.Root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return FileRequest{}, fmt.Errorf("%s is not a matter folder inside the matters folder %s", abs, a.cfg.Root)
	}
	folder, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	ms, err := a.idx.Matters(ctx)
	if err != nil {
		return FileRequest{}, err
	}
	for _, m := range ms {
		if m.Folder != folder || m.State != "active" {
			continue
		}
		if roleOf(m) != kms.RoleRW {
			return FileRequest{}, fmt.Errorf("matter %s: you can read it but not add to it: only members who may edit a matter can request files into it", m.ID)
		}
		n, key, err := a.keys.CurrentKey(ctx, m.ID)
		if err != nil {
			return FileRequest{}, fmt.Errorf("matter %s: current key: %w", m.ID, err)
		}
		priv := format.NewRequestKey()
		wrapped, err := format.WrapRequestKey(m.ID, n, key, priv)
		clear(key)
		if err != nil {
			return FileRequest{}, err
		}
		pub := base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())
		q, err := a.drops.CreateRequest(ctx, m.ID, api.RequestCreate{To: o.From, Expires: int64((o.Expires + time.Second - 1) / time.Second),
			MaxFiles: o.MaxFiles, PublicKey: pub, WrappedKey: base64.RawURLEncoding.EncodeToString(wrapped)})
		if err != nil {
			return FileRequest{}, err
		}
		return FileRequest{Request: q, Link: q.URL + "#" + pub}, nil
	}
	return FileRequest{}, fmt.Errorf("%s is not in a synced matter folder", abs)
}
