package gateway

import (
	"net/http"

	"github.com/mattersync/mattersync/gateway/api"
)

// The web console's sign-in (docs/CONSOLE.md): once the page has signed in
// to Vault and holds an identity token, it asks here whether the person
// may use the console. The answer is the gateway's, from the token's
// groups, as for every admin route; the request is the audit record of a
// console sign-in, allowed or refused (a lawyer trying the console is
// "admin.console.signin denied"). The gateway still never sees the Vault
// token: only the identity token, as from the CLI.

func (s *Server) consoleRoutes() {
	s.handle("/v1/admin/console/signin", map[string]method{
		http.MethodPost: {"admin.console.signin", permAdmin, s.consoleSignIn},
	})
}

func (s *Server) consoleSignIn(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.console.signin"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, api.ConsoleSignIn{User: rq.ident.User, Entity: rq.ident.Entity, Screened: screenedMatters(rq.ident)})
}
