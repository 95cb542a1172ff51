package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
)

// OpenPresence tells the gateway that file is open on this client's device
// (the Device option is required), for ttl unless refreshed by calling it
// again; ttl 0 is the gateway's default.
func (c *Client) OpenPresence(ctx context.Context, matter, file string, ttl time.Duration) (api.PresenceAnswer, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.PresenceAnswer{}, err
	}
	if err := checkID("file", file); err != nil {
		return api.PresenceAnswer{}, err
	}
	var out api.PresenceAnswer
	_, _, err = c.doJSON(ctx, http.MethodPut, p+"/presence/"+file, nil, nil,
		api.PresenceRequest{TTLSeconds: int((ttl + time.Second - 1) / time.Second)}, &out, http.StatusOK)
	return out, err
}

// ClosePresence tells the gateway that file is no longer open on this
// client's device. Closing what is not open (any more) is not an error.
func (c *Client) ClosePresence(ctx context.Context, matter, file string) error {
	p, err := matterPath(matter)
	if err != nil {
		return err
	}
	if err := checkID("file", file); err != nil {
		return err
	}
	_, _, err = c.doJSON(ctx, http.MethodDelete, p+"/presence/"+file, nil, nil, nil, nil, http.StatusOK)
	return err
}

// Presence returns the documents open on the caller's matters. With wait
// > 0 and since the Tag of an earlier answer, the gateway holds the request
// until the answer differs or wait passes. Give ctx more time than wait.
func (c *Client) Presence(ctx context.Context, since string, wait time.Duration) (api.PresenceList, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if wait > 0 {
		q.Set("wait", wait.Round(time.Millisecond).String())
	}
	var out api.PresenceList
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/presence", q, nil, nil, &out, http.StatusOK)
	return out, err
}
