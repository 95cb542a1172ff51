package agent

import "os"

// dirSyncSupported is false on Windows: NTFS journals renames (MoveFileEx),
// and folders can't be opened for fsync there.
const dirSyncSupported = false

func syncDir(string) error { return nil }

// privateDir creates dir. Windows folders below the user's profile inherit
// its ACL (the user, SYSTEM, Administrators), so there are no mode bits to
// tighten.
func privateDir(dir string) error { return os.MkdirAll(dir, 0o700) }
