// Command hydra builds the real ORY Hydra OAuth 2.0 / OpenID Connect server,
// pinned in go.mod, as the identity provider of mattersync's tests and local
// stack (it stands in for Entra ID or Okta). It lives in its own module so
// Hydra's dependency graph never mixes with ours, Vault's or MinIO's.
package main

import (
	"github.com/ory/hydra/v2/cmd"
)

func main() {
	cmd.Execute()
}
