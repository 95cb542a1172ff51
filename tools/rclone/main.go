// Command rclone builds rclone, pinned in go.mod, as the peer that
// `make bench-peer` (bench/peer) measures mattersync against: an S3 remote
// and a crypt remote on the same MinIO. Only the backends and commands the
// bench uses are linked (local, s3, crypt; copy, obscure, version), which
// keeps the cold build short; they behave as in the released binary. It
// lives in its own module so rclone's dependency graph never mixes with
// ours, and is built only by `tools/install.sh rclone`, not by default.
package main

import (
	_ "github.com/rclone/rclone/backend/crypt"
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"
	"github.com/rclone/rclone/cmd"
	_ "github.com/rclone/rclone/cmd/copy"
	_ "github.com/rclone/rclone/cmd/obscure"
	_ "github.com/rclone/rclone/cmd/version"
)

func main() { cmd.Main() }
