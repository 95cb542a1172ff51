# {{.Name}}-agent: the baseline of every mattersync user.
# `mattersync-admin user create` attaches it to the user's entity; firms that
# log in through OIDC or LDAP attach it through the auth method's role or a group.
# It grants no matter: matter access comes from the per-matter policies of the
# matter-<id>-rw and matter-<id>-ro groups.

# Identity tokens for the gateway (claims: sub, username, groups).
path "identity/oidc/token/{{.Name}}" {
  capabilities = ["read"]
}

# Token lifetime, so the agent can keep its login alive and end it.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
