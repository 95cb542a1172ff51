# {{.Name}}-matter-{{.Matter}}-screened: attached to the group
# matter-{{.Matter}}-screened, the ethical wall. "deny" beats every grant,
# including the one a screened person would get from matter-{{.Matter}}-rw/ro.
#
# The paths must stay identical to matter.hcl (see there).

path "{{.KV}}/data/matters/{{.Matter}}/meta" {
  capabilities = ["deny"]
}
path "{{.KV}}/data/matters/{{.Matter}}/epochs" {
  capabilities = ["deny"]
}
path "{{.Transit}}/decrypt/matter-{{.Matter}}" {
  capabilities = ["deny"]
}
