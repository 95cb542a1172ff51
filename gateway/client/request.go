package client

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// File requests (docs/SHARING.md, "Request files"; docs/API.md).

// CreateRequest asks for a file-request link in matter (rw members). The
// answer's URL is the link without its fragment: the caller appends "#"
// and the public key (base64url), which it also sent in req.
func (c *Client) CreateRequest(ctx context.Context, matter string, req api.RequestCreate) (api.Request, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Request{}, err
	}
	if req.To == "" || req.PublicKey == "" || req.WrappedKey == "" || req.Expires < 0 || req.MaxFiles < 0 {
		return api.Request{}, fmt.Errorf("%w: a request needs a recipient, the public and wrapped keys, and no negative expiry or file limit", ErrInvalid)
	}
	var out api.Request
	_, _, err = c.doJSON(ctx, http.MethodPost, p+"/requests", nil, nil, req, &out, http.StatusCreated)
	return out, err
}

// RevokeRequest revokes a request the caller made in matter. A request
// revoked or expired already answers an empty list.
func (c *Client) RevokeRequest(ctx context.Context, matter, id, reason string) (api.RequestRevocation, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.RequestRevocation{}, err
	}
	if err := checkShareID(id); err != nil {
		return api.RequestRevocation{}, err
	}
	var out api.RequestRevocation
	_, _, err = c.doJSON(ctx, http.MethodDelete, p+"/requests/"+id, nil, nil, revokeBody(reason), &out, http.StatusOK)
	return out, err
}

// AdminRevokeRequest revokes any request (mattersync-admins).
func (c *Client) AdminRevokeRequest(ctx context.Context, id, reason string) (api.RequestRevocation, error) {
	if err := checkShareID(id); err != nil {
		return api.RequestRevocation{}, err
	}
	var out api.RequestRevocation
	_, _, err := c.doJSON(ctx, http.MethodDelete, "/v1/admin/requests/"+id, nil, nil, revokeBody(reason), &out, http.StatusOK)
	return out, err
}

// Requests lists file requests (mattersync-admins): of matter and/or made
// by user; "" selects all.
func (c *Client) Requests(ctx context.Context, matter, user string) ([]api.Request, error) {
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
	var out api.RequestList
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/requests", q, nil, nil, &out, http.StatusOK)
	return out.Requests, err
}

// Drops lists a matter's pending drops (rw members), oldest first.
func (c *Client) Drops(ctx context.Context, matter string) ([]api.Drop, error) {
	p, err := matterPath(matter)
	if err != nil {
		return nil, err
	}
	var out api.DropList
	_, _, err = c.doJSON(ctx, http.MethodGet, p+"/drops", nil, nil, nil, &out, http.StatusOK)
	return out.Drops, err
}

// ClaimDrop claims a drop for this device: an *Error with code
// api.CodeDropClaimed if another agent holds it or it was delivered.
func (c *Client) ClaimDrop(ctx context.Context, matter, id string) (api.Drop, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Drop{}, err
	}
	if err := checkShareID(id); err != nil {
		return api.Drop{}, err
	}
	var out api.Drop
	_, _, err = c.doJSON(ctx, http.MethodPost, p+"/drops/"+id+"/claim", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// OpenDrop streams the object of a drop this device claimed.
func (c *Client) OpenDrop(ctx context.Context, matter, id string) (io.ReadCloser, int64, error) {
	p, err := matterPath(matter)
	if err != nil {
		return nil, 0, err
	}
	if err := checkShareID(id); err != nil {
		return nil, 0, err
	}
	res, err := c.do(ctx, http.MethodGet, p+"/drops/"+id+"/object", nil, nil, nil, 0, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return res.Body, res.ContentLength, nil
}

// FinishDrop marks a drop this device claimed delivered (done.File) or
// left with a problem (done.Problem).
func (c *Client) FinishDrop(ctx context.Context, matter, id string, done api.DropDone) (api.Drop, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Drop{}, err
	}
	if err := checkShareID(id); err != nil {
		return api.Drop{}, err
	}
	var out api.Drop
	_, _, err = c.doJSON(ctx, http.MethodPost, p+"/drops/"+id+"/done", nil, nil, done, &out, http.StatusOK)
	return out, err
}

// FeedDrops is Feed that also asks, for each matter in drops, for news of
// drops past the count given (an agent of an rw member).
func (c *Client) FeedDrops(ctx context.Context, cursors, drops map[string]int64, wait time.Duration) (api.Feed, error) {
	req := api.FeedRequest{Matters: make([]api.FeedCursor, 0, len(cursors))}
	for _, m := range slices.Sorted(maps.Keys(cursors)) {
		if _, err := matterPath(m); err != nil {
			return api.Feed{}, err
		}
		fc := api.FeedCursor{Matter: m, Since: cursors[m]}
		if n, ok := drops[m]; ok {
			fc.Drops = &n
		}
		req.Matters = append(req.Matters, fc)
	}
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.Round(time.Millisecond).String()}}
	}
	var out api.Feed
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/feed", q, nil, req, &out, http.StatusOK)
	return out, err
}

// UndeliveredDrops lists the drops not delivered yet, of matter or of
// all ("") (mattersync-admins): pending, or left with a problem.
func (c *Client) UndeliveredDrops(ctx context.Context, matter string) ([]api.Drop, error) {
	q := url.Values{}
	if matter != "" {
		if err := format.ValidateMatterID(matter); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		q.Set("matter", matter)
	}
	var out api.DropList
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/drops", q, nil, nil, &out, http.StatusOK)
	return out.Drops, err
}
