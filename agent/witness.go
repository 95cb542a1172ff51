package agent

import (
	"context"

	"github.com/mattersync/mattersync/gateway/api"
)

// headSource is the optional part of a Remote that serves a matter's
// signed head (gateway/client implements it).
type headSource interface {
	Head(ctx context.Context, matter string, after int64) (api.MatterHead, error)
}
