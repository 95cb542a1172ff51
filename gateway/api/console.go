package api

// ConsoleSignIn is the answer of POST /v1/admin/console/signin: the web
// console's sign-in, checked and audited by the gateway (only members of
// mattersync-admins get it; anyone else gets 403, audited as well).
type ConsoleSignIn struct {
	User   string `json:"user"`
	Entity string `json:"entity"`
	// Screened lists the matters the administrator is walled off from:
	// the console leaves them out.
	Screened []string `json:"screened,omitempty"`
}
