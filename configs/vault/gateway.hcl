# {{.Name}}-gateway: the gateway's own Vault login (AppRole, set up by
# `mattersync-admin audit anchor-setup`). It keeps the newest signed audit
# checkpoint (the head) in Vault, where whoever holds the gateway's database
# cannot roll it back, and may do nothing else: no transit key, no matter
# metadata or epoch key, no identity. It cannot delete or destroy versions
# of the head, nor change how many Vault keeps (no metadata access): the
# gateway still holds no credential that can decrypt anything.
path "{{.KV}}/data/audit/head" {
  capabilities = ["create", "read", "update"]
}
