package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// ReportDevice sends the agent's device report (PUT /v1/device). token,
// if not "", is sent instead of the token source's: an agent that wiped
// its folders after a revocation reports it with the last identity token
// it held (the gateway records the report and still answers 403 revoked).
func (c *Client) ReportDevice(ctx context.Context, rep api.DeviceReport, token string) (api.Device, error) {
	var d api.Device
	if err := rep.Validate(); err != nil {
		return d, fault.Errorf(fault.Invalid, "client: device report: %w", err)
	}
	hdr := http.Header{}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	_, _, err := c.doJSON(ctx, http.MethodPut, "/v1/device", nil, hdr, rep, &d, http.StatusOK)
	return d, err
}

// Devices returns the device inventory (GET /v1/admin/devices), of the
// user named user only if not "".
func (c *Client) Devices(ctx context.Context, user string) ([]api.Device, error) {
	var q url.Values
	if user != "" {
		q = url.Values{"user": {user}}
	}
	var out api.Devices
	if _, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/devices", q, nil, nil, &out, http.StatusOK); err != nil {
		return nil, err
	}
	return out.Devices, nil
}
