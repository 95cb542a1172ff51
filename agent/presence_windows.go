//go:build windows

package agent

import "golang.org/x/sys/windows"

// markReadOnly sets the read-only attribute of path, keeping its other
// attributes, and returns its attributes before (prev), or marked false if
// it was read-only already (then nothing changed and nothing is to be
// restored). Word then opens the copy read-only.
func markReadOnly(path string) (prev uint32, marked bool, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, false, err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return 0, false, err
	}
	if winReadOnly(attrs) || attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		return attrs, false, nil
	}
	return attrs, true, windows.SetFileAttributes(p, winMarked(attrs))
}

// restoreWritable gives path back the read-only attribute it had before
// markReadOnly (prev), keeping its other attributes as they are now.
func restoreWritable(path string, prev uint32) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return err
	}
	return windows.SetFileAttributes(p, winRestored(attrs, prev))
}

// readOnlyNow reports whether path has the read-only attribute.
func readOnlyNow(path string) (bool, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return false, err
	}
	return winReadOnly(attrs), nil
}
