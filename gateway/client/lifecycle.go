package client

// The admin API of a matter's lifecycle: retention, storage usage, runs of
// purge and garbage collection.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// Retention returns the retention policy that applies to a matter
// (admin): its own, or the firm's.
func (c *Client) Retention(ctx context.Context, matter string) (api.Retention, error) {
	return c.retention(ctx, http.MethodGet, matter, nil)
}

// SetRetention gives a matter a policy of its own (admin); fields left
// nil keep what applies now, req.Reason is required.
func (c *Client) SetRetention(ctx context.Context, matter string, req api.RetentionRequest) (api.Retention, error) {
	return c.retention(ctx, http.MethodPut, matter, req)
}

// ClearRetention returns a matter to the firm's policy (admin); reason is
// required. A matter without a policy of its own is api.CodeNotFound.
func (c *Client) ClearRetention(ctx context.Context, matter, reason string) (api.Retention, error) {
	return c.retention(ctx, http.MethodDelete, matter, api.RetentionRequest{Reason: reason})
}

func (c *Client) retention(ctx context.Context, method, matter string, in any) (api.Retention, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Retention{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Retention
	_, _, err := c.doJSON(ctx, method, "/v1/admin/matters/"+matter+"/retention", nil, nil, in, &out, http.StatusOK)
	return out, err
}

// Storage says what a matter's bytes in the bucket are kept for (admin).
func (c *Client) Storage(ctx context.Context, matter string) (api.Storage, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Storage{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Storage
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/storage", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// StartRun asks for a run of purge and garbage collection (admin); the
// gateway's runner takes it within seconds. Follow it with Run.
func (c *Client) StartRun(ctx context.Context, req api.RunRequest) (api.Run, error) {
	if req.Matter != "" {
		if err := format.ValidateMatterID(req.Matter); err != nil {
			return api.Run{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	var out api.Run
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/storage/runs", nil, nil, req, &out, http.StatusAccepted)
	return out, err
}

// Run returns one run, with its progress or result (admin).
func (c *Client) Run(ctx context.Context, id int64) (api.Run, error) {
	if id < 1 {
		return api.Run{}, fmt.Errorf("%w: run ID", ErrInvalid)
	}
	var out api.Run
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/storage/runs/"+strconv.FormatInt(id, 10), nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// Runs returns the latest limit runs, newest first (admin).
func (c *Client) Runs(ctx context.Context, limit int) ([]api.Run, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.Runs
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/storage/runs", q, nil, nil, &out, http.StatusOK)
	return out.Runs, err
}

// HoldStorage says how far a matter's objects carry the storage's legal
// hold its hold asks for (admin).
func (c *Client) HoldStorage(ctx context.Context, matter string) (api.HoldStorage, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.HoldStorage{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.HoldStorage
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/hold/storage", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// Shred removes every record of a closed matter's storage at the gateway
// and starts the run that deletes its objects (admin); reason is
// required. A matter on hold is api.CodeLegalHold. Follow it with
// ShredState until it carries the destruction record.
func (c *Client) Shred(ctx context.Context, matter, reason string) (api.Shred, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Shred{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Shred
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/matters/"+matter+"/shred", nil, nil, api.ShredRequest{Reason: reason}, &out, http.StatusAccepted)
	return out, err
}

// ShredState says how far a shredded matter's storage is gone (admin).
func (c *Client) ShredState(ctx context.Context, matter string) (api.Shred, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Shred{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Shred
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/shred", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// CloseMatter closes matter at the gateway (its writes and changes feed
// refused from now on, its agents told); closing again returns the first
// close.
func (c *Client) CloseMatter(ctx context.Context, matter, reason string) (api.ClosedMatter, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.ClosedMatter{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.ClosedMatter
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/matters/"+matter+"/close", nil, nil, api.CloseRequest{Reason: reason}, &out, http.StatusOK)
	return out, err
}
