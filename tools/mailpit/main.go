// Command mailpit builds the real Mailpit SMTP server with its HTTP API, pinned
// in go.mod, as the mail server of mattersync's tests and local stack: it
// receives the one-time codes the gateway sends to share recipients, and tests
// read them through its API. It lives in its own module so Mailpit's
// dependency graph never mixes with ours.
package main

import (
	"github.com/axllent/mailpit/cmd"
)

func main() {
	cmd.Execute()
}
