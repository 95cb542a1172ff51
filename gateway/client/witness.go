package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mattersync/mattersync/gateway/api"
)

// ReportIntegrity tells the gateway what the agent refused (audited as
// integrity.<kind>, which raises an integrity alert).
func (c *Client) ReportIntegrity(ctx context.Context, matter string, rep api.IntegrityReport) error {
	p, err := matterPath(matter)
	if err != nil {
		return err
	}
	if !api.ValidIntegrityKind(rep.Kind) || !api.ValidIntegrityObject(rep.Object) {
		return fmt.Errorf("%w: integrity report", ErrInvalid)
	}
	_, _, err = c.doJSON(ctx, http.MethodPost, p+"/integrity", nil, nil, rep, nil, http.StatusNoContent)
	return err
}

// Head returns the matter's signed head, with the checkpoints after the one
// whose Seq is after (0: from the first) and the feed's change at seq (0:
// none asked).
func (c *Client) Head(ctx context.Context, matter string, after, seq int64) (api.MatterHead, error) {
	var out api.MatterHead
	p, err := matterPath(matter)
	if err != nil {
		return out, err
	}
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "seq": {strconv.FormatInt(seq, 10)}}
	_, _, err = c.doJSON(ctx, http.MethodGet, p+"/head", q, nil, nil, &out, http.StatusOK)
	return out, err
}

// Resync tells the agents of a matter, after the store was restored, to
// start again from it and commit what it lacks (admin).
func (c *Client) Resync(ctx context.Context, matter, reason string) (api.Resync, error) {
	var out api.Resync
	if _, err := matterPath(matter); err != nil {
		return out, err
	}
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/matters/"+matter+"/resync", nil, nil, api.ResyncRequest{Reason: reason}, &out, http.StatusOK)
	return out, err
}
