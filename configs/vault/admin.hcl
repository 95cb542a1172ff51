# {{.Name}}-admin: attached to the group {{.AdminGroup}}. Everything
# `mattersync-admin` does after `vault init` (which needs a bootstrap/root
# token): matters, members, users, rotation, revocation, shredding.
#
# Admins never get transit "decrypt": they create and rewrap wrapped epoch
# keys without ever seeing one. They can, however, write the per-matter
# policies, so this policy must only go to people trusted with every matter.

# Matter keys: create, rotate, configure (min_decryption_version), delete (shred).
path "{{.Transit}}/keys/matter-*" {
  capabilities = ["create", "read", "update", "delete"]
}
# New epoch keys, returned wrapped only; rewrap to the newest key version.
path "{{.Transit}}/datakey/wrapped/matter-*" {
  capabilities = ["update"]
}
path "{{.Transit}}/rewrap/matter-*" {
  capabilities = ["update"]
}

# Matter metadata, wrapped epoch keys, revocation records.
path "{{.KV}}/data/matters/*" {
  capabilities = ["create", "read", "update"]
}
path "{{.KV}}/metadata/matters/*" {
  capabilities = ["read", "list", "delete"]
}
path "{{.KV}}/data/revocations/*" {
  capabilities = ["create", "read", "update"]
}
path "{{.KV}}/metadata/revocations/*" {
  capabilities = ["read", "list"]
}

# The audit head the gateway keeps (read only: `audit verify` compares it
# with the database).
path "{{.KV}}/data/audit/head" {
  capabilities = ["read"]
}
path "{{.KV}}/metadata/audit/head" {
  capabilities = ["read"]
}

# Per-matter policies.
path "sys/policies/acl/{{.Name}}-matter-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Users (entities, aliases) and groups.
path "identity/entity" {
  capabilities = ["create", "update"]
}
path "identity/entity/name/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "identity/entity/id/*" {
  capabilities = ["read", "update"]
}
path "identity/entity-alias" {
  capabilities = ["create", "update"]
}
path "identity/entity-alias/id/*" {
  capabilities = ["read"]
}
path "identity/group/name/matter-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "identity/group/name/{{.AdminGroup}}" {
  capabilities = ["read", "update"]
}
# Compliance officers (reports that name files), set up with the bootstrap
# token by `mattersync-admin report officer setup`.
path "identity/group/name/mattersync-compliance" {
  capabilities = ["read", "update"]
}
path "identity/group/id/*" {
  capabilities = ["read"]
}

# Which entity an identity-provider sign-in already belongs to (user sso).
path "identity/lookup/entity" {
  capabilities = ["update"]
}

# Login MFA: enrol and reset people's TOTP secrets (user mfa enroll|reset);
# the method and its enforcement are set up by vault init --mfa.
path "identity/mfa/method/totp/*" {
  capabilities = ["read", "list"]
}
path "identity/mfa/method/totp/admin-generate" {
  capabilities = ["update"]
}
path "identity/mfa/method/totp/admin-destroy" {
  capabilities = ["update"]
}
path "identity/mfa/login-enforcement/{{.Name}}-login" {
  capabilities = ["read"]
}

# userpass users (dev/test and small firms), and the mount accessor for aliases.
path "auth/{{.Userpass}}/users/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/auth" {
  capabilities = ["read"]
}

# Revocation: revoke every token a user obtained by logging in.
path "sys/leases/revoke-prefix/auth/*" {
  capabilities = ["update", "sudo"]
}

# The admin's own identity token, for the gateway's admin API.
path "identity/oidc/token/{{.Name}}" {
  capabilities = ["read"]
}
