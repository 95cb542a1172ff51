package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/zalando/go-keyring"

	"github.com/mattersync/mattersync/agent"
)

// tokenFileName is where `mattersync login --token-file` keeps the login in
// the data dir, for machines without an OS credential store (headless
// Linux, an SSH session: no Secret Service on the session bus).
const tokenFileName = "vault-token"

// tokenFile is its content: the login and which Vault login it is for, so
// a data dir reused with another user or Vault is not handed a stranger's
// token.
type tokenFile struct {
	Key   string `json:"key"`
	Token string `json:"token"`
}

// credentials is where the agent finds the login `mattersync login` kept
// (agent.Secrets): the token file when one was written, else the OS
// credential store.
type credentials struct{ dataDir string }

func (c credentials) Get(key string) (string, error) {
	tf, err := readTokenFile(c.dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return keychain{}.Get(key)
	case err != nil:
		return "", err
	case tf.Key != key:
		return keychain{}.Get(key)
	}
	return tf.Token, nil
}

func tokenFilePath(dataDir string) string { return filepath.Join(dataDir, tokenFileName) }

// readTokenFile reads the token file, refusing one that others can read
// (as ssh does with a private key): the token is the user's Vault login.
func readTokenFile(dataDir string) (tokenFile, error) {
	path := tokenFilePath(dataDir)
	fi, err := os.Stat(path)
	if err != nil {
		return tokenFile{}, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return tokenFile{}, fmt.Errorf("%s is readable by other users (mode %v): run `chmod 600 %s`, or `mattersync logout` and log in again", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return tokenFile{}, err
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil || tf.Token == "" {
		return tokenFile{}, fmt.Errorf("%s is not a login written by `mattersync login --token-file`: run it again", path)
	}
	return tf, nil
}

// writeTokenFile keeps token for key in the data dir, readable only by the
// user (0600 in the 0700 data dir), written whole or not at all.
func writeTokenFile(dataDir, key, token string) error {
	b, err := json.Marshal(tokenFile{Key: key, Token: token})
	if err != nil {
		return err
	}
	return agent.WriteFileAtomic(tokenFilePath(dataDir), b, 0o600)
}

// credentialStoreProblem says why the OS credential store cannot keep the
// login, or nil when it can. A read that fails other than "not found"
// means there is no store to talk to (no Secret Service, no D-Bus session).
func credentialStoreProblem(cfg agent.Config, key string) error {
	_, err := keyring.Get(keychainService, key)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	alt := "$MATTERSYNC_VAULT_PASSWORD (or the variable vault.password_env names)"
	if cfg.Vault.Auth == "token" {
		alt = "$VAULT_TOKEN (or the variable vault.token_env names), or vault.token_file for a Vault Agent sink"
	}
	return fmt.Errorf("no OS credential store in this session (%v): a headless Linux machine or an SSH session has no Secret Service.\n"+
		"Run `mattersync login --token-file` instead: it keeps the renewable login (never your password) in %s, readable only by you.\n"+
		"Or give the agent its login in its service's environment: %s. See docs/AGENT.md, \"Logging in\"",
		err, tokenFilePath(cfg.DataDir), alt)
}
