package agent

// How a copy is marked read-only while a colleague has the document open
// (presence.go), as pure functions of the file's bits so that the Windows
// arithmetic is tested on every OS. markReadOnly and restoreWritable
// (presence_unix.go, presence_windows.go) apply them.

// fileAttributeReadOnly is Windows' FILE_ATTRIBUTE_READONLY.
const fileAttributeReadOnly = 0x1

// winMarked is a file's Windows attributes with the read-only attribute
// set, the others (hidden, archive, ...) kept.
func winMarked(attrs uint32) uint32 { return attrs | fileAttributeReadOnly }

// winRestored is the attributes to set when the mark goes: the
// read-only attribute as it was before the mark (prev), every other
// attribute as it is now (a download since may have changed archive).
func winRestored(cur, prev uint32) uint32 {
	return cur&^fileAttributeReadOnly | prev&fileAttributeReadOnly
}

// winReadOnly reports whether attrs has the read-only attribute.
func winReadOnly(attrs uint32) bool { return attrs&fileAttributeReadOnly != 0 }

// unixMarked is a file's permission bits without any write bit.
func unixMarked(perm uint32) uint32 { return perm &^ 0o222 }

// unixRestored is the permission bits to set when the mark goes: the
// write bits the file had before the mark (prev), the rest as now.
func unixRestored(cur, prev uint32) uint32 { return cur&^0o222 | prev&0o222 }

// unixReadOnly reports whether the owner cannot write perm.
func unixReadOnly(perm uint32) bool { return perm&0o200 == 0 }
