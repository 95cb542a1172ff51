package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// CreateShare asks for a share link to version req.Version of file
// req.File in matter, for req.To, and uploads its share object (size
// bytes from body: format.SealShare's output). The answer's URL is the
// link without its fragment: the caller appends "#" and the share key.
// Without req.SHA256 the body must be an io.Seeker: it is read once to
// hash it, then from where it was again.
func (c *Client) CreateShare(ctx context.Context, matter string, req api.ShareRequest, body io.Reader, size int64) (api.Share, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Share{}, err
	}
	if err := checkID("file", req.File); err != nil {
		return api.Share{}, err
	}
	if req.Version < 1 || req.To == "" || req.Expires < 0 || req.MaxDownloads < 0 || size <= 0 {
		return api.Share{}, fmt.Errorf("%w: a share needs a version ≥ 1, a recipient, a body, and no negative expiry or download limit", ErrInvalid)
	}
	sum := req.SHA256
	if sum == ([32]byte{}) {
		if sum, err = hashSeeker(body, size); err != nil {
			return api.Share{}, err
		}
	}
	q := url.Values{}
	q.Set("file", req.File)
	q.Set("version", strconv.FormatInt(req.Version, 10))
	q.Set("to", req.To)
	if req.Expires > 0 {
		q.Set("expires", strconv.FormatInt(int64((req.Expires+time.Second-1)/time.Second), 10))
	}
	if req.MaxDownloads > 0 {
		q.Set("max_downloads", strconv.FormatInt(req.MaxDownloads, 10))
	}
	hdr := http.Header{}
	hdr.Set(api.HeaderChecksum, hex.EncodeToString(sum[:]))
	hdr.Set("Content-Type", "application/octet-stream")
	res, err := c.do(ctx, http.MethodPost, p+"/shares", q, hdr, body, size, http.StatusCreated)
	if err != nil {
		return api.Share{}, err
	}
	defer res.Body.Close()
	var out api.Share
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
		return api.Share{}, fmt.Errorf("client: create share: decode answer: %w", err)
	}
	return out, nil
}

// hashSeeker returns the SHA-256 of the next size bytes of r, an
// io.Seeker, and seeks back.
func hashSeeker(r io.Reader, size int64) ([32]byte, error) {
	sk, ok := r.(io.Seeker)
	if !ok {
		return [32]byte{}, fmt.Errorf("%w: the share object's SHA-256 is needed: set ShareRequest.SHA256 or pass a body that can seek", ErrInvalid)
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return [32]byte{}, fmt.Errorf("client: share object: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, size))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return [32]byte{}, fmt.Errorf("client: share object: %w", err)
	}
	if _, err := sk.Seek(start, io.SeekStart); err != nil {
		return [32]byte{}, fmt.Errorf("client: share object: %w", err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func checkShareID(id string) error {
	if len(id) != 32 {
		return fmt.Errorf("%w: share ID must be 32 lowercase hex characters", ErrInvalid)
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return fmt.Errorf("%w: share ID must be 32 lowercase hex characters", ErrInvalid)
		}
	}
	return nil
}

// RevokeShare revokes a share the caller made in matter. A share revoked
// or expired already answers an empty list.
func (c *Client) RevokeShare(ctx context.Context, matter, id, reason string) (api.ShareRevocation, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.ShareRevocation{}, err
	}
	if err := checkShareID(id); err != nil {
		return api.ShareRevocation{}, err
	}
	var out api.ShareRevocation
	_, _, err = c.doJSON(ctx, http.MethodDelete, p+"/shares/"+id, nil, nil, revokeBody(reason), &out, http.StatusOK)
	return out, err
}

func revokeBody(reason string) any {
	if reason == "" {
		return nil
	}
	return api.ShareRevokeRequest{Reason: reason}
}

// AdminRevokeShare revokes any share (mattersync-admins).
func (c *Client) AdminRevokeShare(ctx context.Context, id, reason string) (api.ShareRevocation, error) {
	if err := checkShareID(id); err != nil {
		return api.ShareRevocation{}, err
	}
	var out api.ShareRevocation
	_, _, err := c.doJSON(ctx, http.MethodDelete, "/v1/admin/shares/"+id, nil, nil, revokeBody(reason), &out, http.StatusOK)
	return out, err
}

// Shares lists shares (mattersync-admins): of matter and/or made by user
// (an entity ID or a user name); "" selects all.
func (c *Client) Shares(ctx context.Context, matter, user string) ([]api.Share, error) {
	q := url.Values{}
	if matter != "" {
		if err := format.ValidateMatterID(matter); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		q.Set("matter", matter)
	}
	if user != "" {
		q.Set("user", user)
	}
	var out api.ShareList
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/shares", q, nil, nil, &out, http.StatusOK)
	return out.Shares, err
}

// Sharing returns a matter's sharing policy (mattersync-admins).
func (c *Client) Sharing(ctx context.Context, matter string) (api.Sharing, error) {
	return c.sharing(ctx, http.MethodGet, matter, nil)
}

// SetSharing sets a matter's sharing policy to on or off
// (mattersync-admins); off also revokes its live shares.
func (c *Client) SetSharing(ctx context.Context, matter string, on bool) (api.Sharing, error) {
	req := api.SharingRequest{Sharing: api.SharingOff}
	if on {
		req.Sharing = api.SharingOn
	}
	return c.sharing(ctx, http.MethodPut, matter, req)
}

func (c *Client) sharing(ctx context.Context, method, matter string, in any) (api.Sharing, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Sharing{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Sharing
	_, _, err := c.doJSON(ctx, method, "/v1/admin/matters/"+matter+"/sharing", nil, nil, in, &out, http.StatusOK)
	return out, err
}
