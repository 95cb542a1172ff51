# shellcheck shell=sh disable=SC2034 # the variables are for the scripts that source this
# settings.sh, sourced by preinstall and postinstall: where everything goes,
# and the agent's settings from the environment (install.sh) or MDM.
#
# MDM delivers the .mobileconfig's com.mattersync.agent payload as managed
# preferences; the keys are the ones in com.mattersync.agent.mobileconfig.
# The environment (MATTERSYNC_GATEWAY_URL, ...) wins over MDM.

vol=${3:-/}
vol=${vol%/}
prefix="$vol/usr/local/mattersync"
binary="$prefix/bin/mattersync"
configdir="$vol/Library/Application Support/mattersync"
config="$configdir/agent.yaml"
plist="$vol/Library/LaunchAgents/com.mattersync.agent.plist"
label=com.mattersync.agent
managed="$vol/Library/Managed Preferences/com.mattersync.agent"

# managed KEY: a value from the MDM profile, or nothing.
managed() {
	[ -f "$managed.plist" ] || return 0
	/usr/bin/defaults read "$managed" "$1" 2>/dev/null || true
}
gateway_url=${MATTERSYNC_GATEWAY_URL:-$(managed GatewayURL)}
vault_addr=${MATTERSYNC_VAULT_ADDR:-$(managed VaultAddr)}
vault_auth=${MATTERSYNC_VAULT_AUTH:-$(managed VaultAuth)}
vault_username=${MATTERSYNC_VAULT_USERNAME:-$(managed VaultUsername)}
matters_root=${MATTERSYNC_MATTERS_ROOT:-$(managed MattersRoot)}
sync_matters=${MATTERSYNC_SYNC_MATTERS:-$(managed SyncMatters)}

# agent_uids: the users whose agent launchd is running now.
agent_uids() {
	ps -axo uid=,comm= | awk '$2 ~ /(^|\/)mattersync$/ { print $1 }' | sort -u
}
