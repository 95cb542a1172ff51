package testenv

import (
	"sync"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// VaultServer is a running Vault dev server (in-memory, unsealed).
type VaultServer struct {
	Addr  string // http://127.0.0.1:port
	Token string // root token, generated for this run
	proc  *process
}

var shared struct {
	vaultOnce sync.Once
	vault     *VaultServer
	vaultErr  error
	minioOnce sync.Once
	minio     *MinIOServer
	minioErr  error
}

// Vault returns the Vault dev server shared by the tests of this package,
// starting it on first use. Tests sharing it must use their own names
// (mounts, matters, users): see Mount and RandomName.
func Vault(t testing.TB) *VaultServer {
	t.Helper()
	skipShort(t, "Vault")
	shared.vaultOnce.Do(func() {
		shared.vault, shared.vaultErr = startVault()
		if shared.vaultErr == nil {
			registerStop(shared.vault.proc.stop)
		}
	})
	if shared.vaultErr != nil {
		unavailable(t, "%v", shared.vaultErr)
	}
	return shared.vault
}

// NewVault starts a Vault dev server for t alone, stopped when t ends: for
// tests that seal, restart or otherwise disturb the server.
func NewVault(t testing.TB) *VaultServer {
	t.Helper()
	skipShort(t, "Vault")
	v, err := startVault()
	if err != nil {
		unavailable(t, "%v", err)
	}
	t.Cleanup(v.proc.stop)
	return v
}

func startVault() (*VaultServer, error) {
	bin, err := FindBinary("vault")
	if err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	v := &VaultServer{Addr: "http://" + addr, Token: "root-" + RandomHex(16)}
	v.proc, err = startProcess("vault", bin,
		[]string{"server", "-dev", "-dev-no-store-token", "-dev-root-token-id=" + v.Token, "-dev-listen-address=" + addr},
		[]string{"VAULT_ADDR=", "VAULT_TOKEN=", "VAULT_LOG_LEVEL=warn", "VAULT_DISABLE_USER_LOCKOUT=true"},
		func(string) string { return v.Addr + "/v1/sys/health" })
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Client returns a Vault API client authenticated with the root token.
func (v *VaultServer) Client(t testing.TB) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = v.Addr
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatalf("testenv: vault client: %v", err)
	}
	c.SetToken(v.Token)
	return c
}

// Mount enables a secrets engine of kind (e.g. "transit", "kv-v2") at a
// random path, disabled again when t ends, and returns the path.
func (v *VaultServer) Mount(t testing.TB, kind string) string {
	t.Helper()
	c := v.Client(t)
	path := RandomName("t-" + kind + "-")
	if err := c.Sys().Mount(path, &vault.MountInput{Type: kind}); err != nil {
		t.Fatalf("testenv: mount %s at %s: %v", kind, path, err)
	}
	t.Cleanup(func() { _ = c.Sys().Unmount(path) })
	return path
}
