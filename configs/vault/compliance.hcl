# {{.Name}}-compliance: attached to the group mattersync-compliance
# (`mattersync-admin report officer add <user>`). A compliance officer's
# reports name files: the admin tool reads a matter's wrapped epoch keys and
# unwraps them with transit decrypt, on the officer's machine, to open the
# manifests the gateway hands out as ciphertext. Every decrypt is in Vault's
# audit device. These keys open file content too: give this policy only to
# people the firm trusts with every matter, as it would an administrator.
path "{{.KV}}/data/matters/*" {
  capabilities = ["read"]
}
path "{{.Transit}}/decrypt/matter-*" {
  capabilities = ["update"]
}
