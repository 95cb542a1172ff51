package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// RecordMembership reports a matter's whole membership as Vault has it
// (admin); the gateway records the differences and returns them.
func (c *Client) RecordMembership(ctx context.Context, matter string, snap api.MembershipSnapshot) ([]api.MembershipChange, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.MembershipHistory
	_, _, err := c.doJSON(ctx, http.MethodPut, "/v1/admin/matters/"+matter+"/members", nil, nil, snap, &out, http.StatusOK)
	return out.Changes, err
}

// MembershipHistory returns a matter's recorded membership changes, oldest
// first (admin).
func (c *Client) MembershipHistory(ctx context.Context, matter string) ([]api.MembershipChange, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.MembershipHistory
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/members/history", nil, nil, nil, &out, http.StatusOK)
	return out.Changes, err
}

// AdminFile returns a version of a file with its sealed manifest, for an
// administrator who is not a member (compliance reports open it with keys
// of their own). version 0 is the head.
func (c *Client) AdminFile(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.FileVersion{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkID("file", fileID); err != nil {
		return api.FileVersion{}, err
	}
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	var out api.FileVersion
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/files/"+fileID, q, nil, nil, &out, http.StatusOK)
	return out, err
}
