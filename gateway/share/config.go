package share

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Policies a matter that was never set takes (Config.Default).
const (
	PolicyOn  = "on"
	PolicyOff = "off"
)

// Config is the gateway's sharing: section (docs/SHARING.md). A gateway
// without one shares nothing: its share routes answer sharing_off (members)
// or not_found (recipients).
type Config struct {
	// Default is the policy of matters an admin never set: on or off
	// (default off: IT opens sharing matter by matter, or for all).
	Default string `yaml:"default"`
	// PublicURL is where recipients reach the gateway's share pages; a
	// link is PublicURL + "/s/<id>" (plus the key in the fragment, which
	// the agent adds). https, or http with insecure_dev.
	PublicURL string     `yaml:"public_url"`
	SMTP      SMTPConfig `yaml:"smtp"`
	// Codes bound one-time codes per hour (docs/SHARING.md).
	Codes CodeLimits `yaml:"codes"`
	// CodeTTL is how long a mailed code is good for (default 10m).
	CodeTTL time.Duration `yaml:"code_ttl"`
	// GrantTTL is how long the download capability a verified code gives
	// is good for (default 10m); it is good for one download.
	GrantTTL time.Duration `yaml:"grant_ttl"`
	// MaxObjectBytes bounds a share object (default 2 GiB, at most 5 GiB:
	// one S3 PUT).
	MaxObjectBytes int64 `yaml:"max_object_bytes"`
	// DefaultExpiry is a share's lifetime when its creator names none
	// (default 7 days); MaxExpiry the longest one may ask (default 30
	// days).
	DefaultExpiry time.Duration `yaml:"default_expiry"`
	MaxExpiry     time.Duration `yaml:"max_expiry"`
	// DefaultMaxDownloads is a share's download limit when its creator
	// names none (default 3); MaxDownloads the highest one may ask
	// (default 20).
	DefaultMaxDownloads int64 `yaml:"default_max_downloads"`
	MaxDownloads        int64 `yaml:"max_downloads"`
	// RequestsPerSecond and Burst: the token bucket of each source
	// address (IPv6: its /64) on the recipient routes (/s/...), taken
	// before anything else is looked at (defaults 1 and 30).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"`
	// ExpireSweep is how often each replica looks for shares that
	// expired unseen, to record their share.expire (default 10m).
	ExpireSweep time.Duration `yaml:"expire_sweep"`
	// Requests bounds file requests (request.go).
	Requests RequestConfig `yaml:"requests"`
}

// CodeLimits bound one-time codes per hour: codes sent and wrong codes
// tried, per share and per recipient address. Once a bound is reached,
// codes are refused (429 code_limit) until the hour has passed.
// WrongPerShareTotal bounds wrong codes over a share's whole life: the
// one that reaches it revokes the share (default 20).
type CodeLimits struct {
	SentPerShare       int `yaml:"sent_per_share"`
	SentPerAddress     int `yaml:"sent_per_address"`
	WrongPerShare      int `yaml:"wrong_per_share"`
	WrongPerAddress    int `yaml:"wrong_per_address"`
	WrongPerShareTotal int `yaml:"wrong_per_share_total"`
}

// DefaultConfig is a sharing section's defaults; PublicURL and SMTP have
// none.
func DefaultConfig() Config {
	return Config{
		Default:             PolicyOff,
		Codes:               CodeLimits{SentPerShare: 5, SentPerAddress: 10, WrongPerShare: 5, WrongPerAddress: 10, WrongPerShareTotal: 20},
		CodeTTL:             10 * time.Minute,
		GrantTTL:            10 * time.Minute,
		MaxObjectBytes:      2 << 30,
		DefaultExpiry:       7 * 24 * time.Hour,
		MaxExpiry:           30 * 24 * time.Hour,
		DefaultMaxDownloads: 3,
		MaxDownloads:        20,
		RequestsPerSecond:   1,
		Burst:               30,
		ExpireSweep:         10 * time.Minute,
		Requests:            defaultRequestConfig(),
	}
}

// FillDefaults gives every field the file left zero its default (a zero
// is never a useful setting of these).
func (c *Config) FillDefaults() {
	d := DefaultConfig()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	num64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	str(&c.Default, d.Default)
	num(&c.Codes.SentPerShare, d.Codes.SentPerShare)
	num(&c.Codes.SentPerAddress, d.Codes.SentPerAddress)
	num(&c.Codes.WrongPerShare, d.Codes.WrongPerShare)
	num(&c.Codes.WrongPerAddress, d.Codes.WrongPerAddress)
	num(&c.Codes.WrongPerShareTotal, d.Codes.WrongPerShareTotal)
	dur(&c.CodeTTL, d.CodeTTL)
	dur(&c.GrantTTL, d.GrantTTL)
	num64(&c.MaxObjectBytes, d.MaxObjectBytes)
	dur(&c.DefaultExpiry, d.DefaultExpiry)
	dur(&c.MaxExpiry, d.MaxExpiry)
	num64(&c.DefaultMaxDownloads, d.DefaultMaxDownloads)
	num64(&c.MaxDownloads, d.MaxDownloads)
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = d.RequestsPerSecond
	}
	num(&c.Burst, d.Burst)
	dur(&c.ExpireSweep, d.ExpireSweep)
	c.Requests.fillDefaults()
}

// Validate reports every problem in c at once, each named "sharing.<key>".
// insecureDev allows an http public_url and smtp.tls: none.
func (c *Config) Validate(insecureDev bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("sharing."+format, args...)) }
	if c.Default != PolicyOn && c.Default != PolicyOff {
		bad("default: %q is not on or off", c.Default)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(c.PublicURL, " \r\n#?") {
		bad("public_url: %q is not an http(s) URL without query or fragment (the links start with it)", c.PublicURL)
	} else if u.Scheme == "http" && !insecureDev {
		bad("public_url: plain http requires insecure_dev: true (the page and the code would cross the network in clear)")
	}
	if err := c.SMTP.Validate(insecureDev); err != nil {
		errs = append(errs, fmt.Errorf("sharing.%w", err))
	}
	l := c.Codes
	if l.SentPerShare < 1 || l.SentPerAddress < 1 || l.WrongPerShare < 1 || l.WrongPerAddress < 1 {
		bad("codes: sent_per_share, sent_per_address, wrong_per_share and wrong_per_address must be positive")
	}
	if l.WrongPerShareTotal < 1 || l.WrongPerShareTotal > 1000 {
		bad("codes: wrong_per_share_total must be between 1 and 1000 (wrong codes over a link's life, then it is revoked)")
	}
	if l.WrongPerShare > 100 || l.WrongPerAddress > 1000 {
		bad("codes: wrong_per_share (at most 100) and wrong_per_address (at most 1000) bound the guesses of a 6-digit code")
	}
	if c.CodeTTL < time.Minute || c.CodeTTL > time.Hour {
		bad("code_ttl: %v must be between 1m and 1h", c.CodeTTL)
	}
	if c.GrantTTL < time.Minute || c.GrantTTL > time.Hour {
		bad("grant_ttl: %v must be between 1m and 1h", c.GrantTTL)
	}
	if c.MaxObjectBytes < 1<<20 || c.MaxObjectBytes > 5<<30 {
		bad("max_object_bytes: %d must be between 1 MiB and 5 GiB (one S3 PUT)", c.MaxObjectBytes)
	}
	if c.MaxExpiry < time.Hour || c.MaxExpiry > 365*24*time.Hour {
		bad("max_expiry: %v must be between 1h and 8760h", c.MaxExpiry)
	}
	if c.DefaultExpiry < time.Minute || c.DefaultExpiry > c.MaxExpiry {
		bad("default_expiry: %v must be between 1m and max_expiry", c.DefaultExpiry)
	}
	if c.MaxDownloads < 1 || c.MaxDownloads > 1000 {
		bad("max_downloads: %d must be between 1 and 1000", c.MaxDownloads)
	}
	if c.DefaultMaxDownloads < 1 || c.DefaultMaxDownloads > c.MaxDownloads {
		bad("default_max_downloads: %d must be between 1 and max_downloads", c.DefaultMaxDownloads)
	}
	if c.RequestsPerSecond <= 0 || c.Burst < 1 {
		bad("requests_per_second and burst must be positive")
	}
	if c.ExpireSweep < 10*time.Millisecond || c.ExpireSweep > 24*time.Hour {
		bad("expire_sweep: %v must be between 10ms and 24h", c.ExpireSweep)
	}
	if err := c.Requests.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Link is the link of share id, without its fragment (the key the agent
// adds).
func (c *Config) Link(id string) string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/s/" + id
}
