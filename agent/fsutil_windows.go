package agent

// syncDir is a no-op on Windows: NTFS journals renames (MoveFileEx), and
// directories can't be opened for fsync there.
func syncDir(string) error { return nil }
