package agent

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/watch"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
	"go.yaml.in/yaml/v3"
)

// Config is the agent's configuration file (configs/agent.yaml).
type Config struct {
	Gateway struct {
		URL    string `yaml:"url"`     // https://gateway.firm.example
		CAFile string `yaml:"ca_file"` // PEM bundle for a private CA; empty: system roots
		// PublicKey is the gateway's audit signing public key: the PKIX PEM
		// text of the .pub file next to the gateway's signing key
		// (audit-signing-key.pem.pub). Required by wipe_on_revoke: the
		// agent removes folders only on a revocation statement signed
		// with it.
		PublicKey string `yaml:"public_key"`
	} `yaml:"gateway"`
	Vault struct {
		Address string `yaml:"address"`
		CAFile  string `yaml:"ca_file"`
		// Auth is how the agent logs in to Vault: "oidc" (the firm's
		// identity provider in the browser, through Vault's OIDC auth
		// method, with the TOTP code Vault asks for: `mattersync login`),
		// "userpass" (Vault userpass or LDAP) or "token" (e.g. from Vault
		// Agent).
		Auth string `yaml:"auth"`
		// AuthMount is the mount of the login method; empty: the layout's
		// userpass mount, or its OIDC mount for oidc. Set it to e.g.
		// "ldap" for LDAP logins.
		AuthMount string `yaml:"auth_mount"`
		Username  string `yaml:"username"`
		// OIDCCallback is where `mattersync login` (auth oidc) listens
		// for the browser coming back from the identity provider:
		// host:port, host 127.0.0.1, ::1 or localhost; default
		// 127.0.0.1:0 (any free port). A provider that wants a fixed
		// port or localhost gets it here (docs/SSO.md).
		OIDCCallback string `yaml:"oidc_callback"`
		// PasswordEnv / TokenEnv name environment variables holding the
		// secret: the config file never holds one.
		PasswordEnv string `yaml:"password_env"`
		TokenEnv    string `yaml:"token_env"`
		// TokenFile is a file a Vault Agent sink keeps a fresh token in
		// (auto-auth with the firm's identity provider); read at each
		// login. The file is Vault Agent's, protected by its permissions.
		TokenFile string `yaml:"token_file"`
		// Layout names mattersync's mounts and identity-token role in
		// Vault; the defaults match `mattersync-admin vault init`.
		Layout kms.Layout `yaml:"layout"`
	} `yaml:"vault"`
	Root           string        `yaml:"root"`            // folder holding one folder per matter
	DeviceName     string        `yaml:"device_name"`     // shown in conflict names and the audit log
	DataDir        string        `yaml:"data_dir"`        // index, logs, status token
	KeyCacheTTL    time.Duration `yaml:"key_cache_ttl"`   // how long unwrapped epoch keys stay in memory
	RescanInterval time.Duration `yaml:"rescan_interval"` // full rescan, the safety net under fsnotify
	Debounce       time.Duration `yaml:"debounce"`        // quiet time before a changed file is read
	Ignore         []string      `yaml:"ignore"`          // file name patterns added to the defaults
	// MaxFileSize is the largest file the agent downloads or uploads (the
	// firm's limit). A manifest declaring more is refused before anything
	// is written: it is the mark of a dedup bomb (one tiny chunk
	// referenced hundreds of thousands of times) as much as of a file too
	// big for laptops. Default 64 GiB.
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// TrashRetention is how long a file colleagues deleted stays in the
	// matter's trash (.mattersync/trash) on this laptop; TrashMaxSize caps
	// each matter's trash, oldest out first. Both are applied at every
	// full pass; the whole trash goes when the user loses the matter.
	// Defaults: 30 days, 1 GiB.
	TrashRetention time.Duration `yaml:"trash_retention"`
	TrashMaxSize   ByteSize      `yaml:"trash_max_size"`
	Bandwidth      struct {
		UploadKiBps   int `yaml:"upload_kibps"` // 0: unlimited
		DownloadKiBps int `yaml:"download_kibps"`
	} `yaml:"bandwidth"`
	// WipeOnRevoke removes local matter folders when the user is revoked
	// (the gateway says so in a statement signed with gateway.public_key,
	// and Vault refuses the login); by default the agent stops and keeps
	// them (IT decides).
	WipeOnRevoke bool `yaml:"wipe_on_revoke"`
	// AgentVersion is the binary's version, for the device inventory
	// (set by the command, not the file; empty: the build's module
	// version).
	AgentVersion string `yaml:"-"`
	// OnAccessLost is what happens to a matter folder when the user loses
	// the matter (an ethical wall, a removal), once Vault and the gateway
	// both confirm it: "quarantine" (default) moves the work that never
	// reached the gateway to <data_dir>/quarantine for IT and removes the
	// rest; "remove" removes everything; "keep" leaves the folder, no
	// longer synced. The matter's trash is emptied in every case.
	OnAccessLost string `yaml:"on_access_lost"`
	// OnMatterClosed is what happens to a matter folder when the firm
	// closes the matter (mattersync-admin matter close; the gateway says
	// so): "keep" (default) leaves the folder, no longer synced;
	// "quarantine" moves the work that never reached the gateway to
	// <data_dir>/quarantine for IT and removes the rest; "remove" removes
	// everything. The matter's trash is emptied in every case.
	OnMatterClosed string `yaml:"on_matter_closed"`
	// QuarantineUnsynced moves work that never reached the gateway to
	// <data_dir>/quarantine before a wipe on revocation, for IT to review
	// (default); false removes it with the rest. (on_access_lost decides
	// for a wall or a removal.)
	QuarantineUnsynced bool   `yaml:"quarantine_unsynced"`
	StatusAddr         string `yaml:"status_addr"` // loopback address of the local status endpoint (port 0: any free port)
	// PresenceTTL is how long the gateway keeps "open on this device" for
	// a document open here without hearing from this agent again: the
	// agent refreshes it every third of it while the owner file is there,
	// so a crashed laptop's presence ends after at most this long.
	// Default 90s.
	PresenceTTL time.Duration `yaml:"presence_ttl"`
	// SyncMatters is the firm's default of which of the user's matters
	// this laptop syncs: all (default), none, or a list of matter IDs. The
	// user adds or removes matters over it (`mattersync matters
	// add|remove`, selection.go).
	SyncMatters MatterSelection `yaml:"sync_matters"`
	LogLevel    string          `yaml:"log_level"` // debug | info | warn | error
	// InsecureHTTP allows http:// gateway and Vault URLs, and only to a
	// loopback address: for a development stack on this machine (make run).
	// Without it an http URL is a config error, so a typo or a downgraded
	// installer property never sends identity tokens, Vault tokens and
	// passwords in clear over a network.
	InsecureHTTP bool `yaml:"insecure_http"`
}

// DefaultConfig returns the defaults for this OS and user.
func DefaultConfig() Config {
	var c Config
	c.Vault.Auth = "userpass"
	c.Vault.Layout = kms.DefaultLayout()
	home, _ := os.UserHomeDir()
	c.Root = filepath.Join(home, "Matters")
	c.DataDir = defaultDataDir(home)
	c.DeviceName, _ = os.Hostname()
	c.Vault.Username = osUserName()
	c.KeyCacheTTL = 15 * time.Minute
	c.RescanInterval = time.Hour
	c.Debounce = 500 * time.Millisecond
	c.MaxFileSize = 64 << 30
	c.TrashRetention = 30 * 24 * time.Hour
	c.TrashMaxSize = 1 << 30
	c.QuarantineUnsynced = true
	c.OnAccessLost = AccessLostQuarantine
	c.OnMatterClosed = ClosedKeep
	c.StatusAddr = "127.0.0.1:0" // a new port on every start: none to squat
	c.PresenceTTL = 90 * time.Second
	c.LogLevel = "info"
	return c
}

// defaultDataDir follows each OS's convention for per-user application data.
func defaultDataDir(home string) string {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "mattersync")
		}
		return filepath.Join(home, "AppData", "Local", "mattersync")
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "mattersync")
	default:
		if d := os.Getenv("XDG_STATE_HOME"); d != "" {
			return filepath.Join(d, "mattersync")
		}
		return filepath.Join(home, ".local", "state", "mattersync")
	}
}

// LoadConfig reads a config file over the defaults. Unknown keys are errors,
// so a misspelt setting is never silently ignored.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("agent config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return c, fmt.Errorf("agent config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes YAML over the defaults, strictly, and validates it.
func ParseConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports every problem in the config at once.
func (c *Config) Validate() error { return c.validate(true) }

// validate checks the config; transport says whether to check the URLs'
// schemes too. New skips that check: it is handed a Remote and Keys that
// already carry their transports, and connects nowhere itself.
func (c *Config) validate(transport bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkURL := func(key, v string) {
		if v == "" {
			bad("%s is required", key)
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("%s %q must be an https URL with a host", key, v)
			return
		}
		if u.Scheme != "http" || !transport {
			return
		}
		switch {
		case !c.InsecureHTTP:
			bad("%s %q is plain http: tokens and passwords would cross the network unencrypted; use https (or, for a development stack on this machine only, set insecure_http: true)", key, v)
		case !loopbackHost(u.Hostname()):
			bad("%s %q: insecure_http allows http only to a loopback address (127.0.0.1, ::1, localhost); use https", key, v)
		}
	}
	checkURL("gateway.url", c.Gateway.URL)
	checkURL("vault.address", c.Vault.Address)
	switch c.Vault.Auth {
	case "userpass":
		if c.Vault.Username == "" {
			bad("vault.username is required (the OS account name could not be read)")
		}
	case "token", "oidc":
	default:
		bad("vault.auth %q must be userpass, token or oidc", c.Vault.Auth)
	}
	if err := c.Vault.Layout.Validate(); err != nil {
		bad("vault.layout: %w", err)
	}
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		bad("root %q must be an absolute folder path", c.Root)
	}
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		bad("data_dir %q must be an absolute folder path", c.DataDir)
	}
	if c.DeviceName == "" {
		bad("device_name is required (the host name could not be read)")
	}
	if c.KeyCacheTTL < time.Minute || c.KeyCacheTTL > 24*time.Hour {
		bad("key_cache_ttl %v must be between 1m and 24h", c.KeyCacheTTL)
	}
	if c.RescanInterval < time.Minute {
		bad("rescan_interval %v must be at least 1m", c.RescanInterval)
	}
	if c.Debounce < 10*time.Millisecond || c.Debounce > time.Minute {
		bad("debounce %v must be between 10ms and 1m", c.Debounce)
	}
	if _, err := watch.NewIgnore(c.Ignore); err != nil {
		bad("ignore: %w", err)
	}
	if c.MaxFileSize < 1<<20 || c.MaxFileSize > 1<<50 {
		bad("max_file_size %v must be between 1MiB and 1PiB", c.MaxFileSize)
	}
	if c.Gateway.PublicKey != "" {
		if _, err := ParseGatewayKey(c.Gateway.PublicKey); err != nil {
			bad("gateway.public_key: %w", err)
		}
	} else if c.WipeOnRevoke {
		bad("wipe_on_revoke needs gateway.public_key (the gateway's audit signing public key, PEM): folders are removed only on a revocation statement signed with it")
	}
	switch c.OnAccessLost {
	case AccessLostQuarantine, AccessLostRemove, AccessLostKeep:
	default:
		bad("on_access_lost %q must be quarantine, remove or keep", c.OnAccessLost)
	}
	switch c.OnMatterClosed {
	case ClosedKeep, ClosedQuarantine, ClosedRemove:
	default:
		bad("on_matter_closed %q must be keep, quarantine or remove", c.OnMatterClosed)
	}
	if c.TrashRetention < 0 || c.TrashRetention > 10*365*24*time.Hour {
		bad("trash_retention %v must be between 0 (emptied at every full pass) and 87600h (10 years)", c.TrashRetention)
	}
	if c.TrashMaxSize < 0 || c.TrashMaxSize > 1<<50 {
		bad("trash_max_size %v must be between 0 and 1PiB", c.TrashMaxSize)
	}
	if c.Bandwidth.UploadKiBps < 0 || c.Bandwidth.DownloadKiBps < 0 {
		bad("bandwidth limits must not be negative")
	}
	if err := c.SyncMatters.validate(); err != nil {
		bad("%w", err)
	}
	if c.PresenceTTL < time.Second || c.PresenceTTL > 10*time.Minute {
		bad("presence_ttl %v must be between 1s and 10m", c.PresenceTTL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// loopbackHost reports whether host names this machine only.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IgnorePatterns returns the default patterns plus the configured ones.
func (c *Config) IgnorePatterns() []string {
	return append(append([]string(nil), watch.DefaultIgnore...), c.Ignore...)
}

// LoginMount is the auth mount the agent logs in at.
func (c *Config) LoginMount() string {
	if c.Vault.AuthMount != "" {
		return c.Vault.AuthMount
	}
	if c.Vault.Auth == "oidc" {
		return c.Vault.Layout.OIDCMount()
	}
	return c.Vault.Layout.Userpass
}

// osUserName is the signed-in account's name without a Windows domain
// ("FIRM\\alice" -> "alice"), lowercased: the default Vault user name.
func osUserName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	name := u.Username
	if i := strings.LastIndexAny(name, `\\/`); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(name)
}

// ParseGatewayKey parses the gateway's Ed25519 public key (PKIX PEM).
func ParseGatewayKey(pemText string) (ed25519.PublicKey, error) {
	return api.ParsePublicKey([]byte(pemText))
}
