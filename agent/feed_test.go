package agent_test

import (
	"testing"

	"github.com/mattersync/mattersync/kms"
)

// A running agent hears of a colleague's commits through its one feed
// request (POST /v1/feed) and downloads them without anyone asking: its
// full rescan is an hour away, so only the feed can have poked it.
func TestRunningAgentFollowsTheFeed(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.runningAgent(w.member(kms.RoleRW))
		for _, name := range []string{"First.txt", "Second.txt"} {
			alice.write(name, []byte("from alice: "+name))
			alice.sync()
			eventually(w.t, name+" at bob", func() error { return bob.hasFile(name, []byte("from alice: "+name)) })
		}
	})
}
