#!/bin/sh
# /usr/local/bin/mattersync: runs the agent's CLI with the machine config as
# the default (`--config` and $MATTERSYNC_CONFIG still win), so
# `mattersync status` in a user's terminal talks about the agent launchd runs.
: "${MATTERSYNC_CONFIG:=@CONFIG@}"
export MATTERSYNC_CONFIG
exec "@BINARY@" "$@"
