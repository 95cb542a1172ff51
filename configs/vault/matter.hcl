# {{.Name}}-matter-{{.Matter}}: attached to the groups matter-{{.Matter}}-rw and
# matter-{{.Matter}}-ro. Vault grants both roles the same: reading needs the
# epoch keys, and the gateway decides who may write.
#
# The paths must stay identical to screened.hcl: Vault merges capabilities per
# path string across policies, and only then does "deny" beat these grants.

# Display name and creation time.
path "{{.KV}}/data/matters/{{.Matter}}/meta" {
  capabilities = ["read"]
}

# Wrapped epoch keys (vault:vN:... ciphertexts, useless without decrypt).
path "{{.KV}}/data/matters/{{.Matter}}/epochs" {
  capabilities = ["read"]
}

# Unwrap epoch keys with the matter's transit key, which never leaves Vault.
path "{{.Transit}}/decrypt/matter-{{.Matter}}" {
  capabilities = ["update"]
}
