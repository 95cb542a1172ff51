// Command vault builds the real HashiCorp Vault server, pinned in go.mod, for
// mattersync's tests and local stack. It lives in its own module so Vault's
// dependency graph never mixes with ours or MinIO's.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
