package agent

// DiskEncryption says whether the disk holding the matters folder is
// encrypted (BitLocker, FileVault, LUKS/dm-crypt): "on", "off", or
// "unknown (<why>)". A firm's policy is that client files live only on
// encrypted disks; the agent reports it in status and its log so IT can
// check, and never guesses "on".
func DiskEncryption(path string) string {
	state, why := diskEncryption(path)
	if state == "unknown" && why != "" {
		return "unknown (" + why + ")"
	}
	return state
}
