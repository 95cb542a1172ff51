# SQL that build-msi.sh runs on the MSI after wixl, one statement per line
# (lines starting with # are skipped). It adds what wixl 0.101 cannot express;
# see the comment at the top of mattersync.wxs.

# Equal versions upgrade too (wixl ignores IncludeMaximum): Attributes =
# VersionMinInclusive (256) + VersionMaxInclusive (512). Attributes is part of
# the Upgrade table's key, so the row is replaced rather than updated.
DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'
INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMin`, `VersionMax`, `Attributes`, `ActionProperty`) VALUES ('{6D26DA90-3A35-46BF-8DC1-BDFE50F8D473}', '0.0.0', '@VERSION@', 768, 'WIX_UPGRADE_DETECTED')

# wixl writes its own SecureCustomProperties (the upgrade properties); add ours.
UPDATE `Property` SET `Value` = 'GATEWAY_URL;VAULT_ADDR;MATTERS_ROOT;VAULT_AUTH;VAULT_USERNAME;SYNC_MATTERS;WIX_UPGRADE_DETECTED;WIX_DOWNGRADE_DETECTED' WHERE `Property` = 'SecureCustomProperties'

# Type 34 custom actions (an exe from a directory) that wixl cannot write.
# 3170 = 34 + 64 (ignore the exit code) + 1024 (deferred) + 2048 (no impersonation).
# StopAgents: end every user's agent so its files are not in use (the agent is
# safe against being killed at any point); they start again at next sign-in.
INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES ('StopAgents', 3170, 'System64Folder', '"[System64Folder]taskkill.exe" /F /IM mattersyncw.exe /IM mattersync.exe')
INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('StopAgents', 'REMOVE~="ALL"', 3430)
# RemoveConfig: the machine config goes with a real uninstall, not with the
# removal of the old version during an upgrade (UPGRADINGPRODUCTCODE set).
INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES ('RemoveConfig', 3170, 'System64Folder', '"[System64Folder]cmd.exe" /d /c if exist "[CONFIGDIR]" rmdir /s /q "[CONFIGDIR]"')
INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('RemoveConfig', 'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE', 3510)

# Machine environment: MATTERSYNC_CONFIG points every user's `mattersync`
# command at the machine config, and the install folder joins PATH.
# Name flags: = set on install, - remove on uninstall, * system variable;
# [~]; appends to the existing list (and uninstall removes only our part).
CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, `Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)
INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) VALUES ('MattersyncConfigEnv', '=-*MATTERSYNC_CONFIG', '[CONFIGDIR]agent.yaml', 'InstallInfo')
INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) VALUES ('MattersyncPathEnv', '=-*PATH', '[~];[INSTALLDIR]', 'InstallInfo')
INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('RemoveEnvironmentStrings', '', 3300)
INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('WriteEnvironmentStrings', '', 5200)
