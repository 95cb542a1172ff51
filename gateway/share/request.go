package share

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// RequestConfig is the sharing.requests: section: the limits of file
// requests (docs/SHARING.md, "Request files"). A request's lifetime is
// bounded like a share's (sharing.default_expiry, max_expiry).
type RequestConfig struct {
	// DefaultMaxFiles is how many files a request takes when its maker
	// names no limit (default 20); MaxFiles the most one may ask
	// (default 100).
	DefaultMaxFiles int64 `yaml:"default_max_files"`
	MaxFiles        int64 `yaml:"max_files"`
	// MaxFileBytes bounds one drop object (default 256 MiB): the page
	// seals and hashes a file in the browser's memory.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxBytes bounds the drop objects of one request together (default
	// 2 GiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// UploadTTL is how long a verified code lets the client upload
	// (default 1h): one code for a batch of files.
	UploadTTL time.Duration `yaml:"upload_ttl"`
	// ClaimTTL is how long a member's agent holds a drop it claimed
	// before another may take it (default 10m).
	ClaimTTL time.Duration `yaml:"claim_ttl"`
}

func defaultRequestConfig() RequestConfig {
	return RequestConfig{DefaultMaxFiles: 20, MaxFiles: 100, MaxFileBytes: 256 << 20, MaxBytes: 2 << 30,
		UploadTTL: time.Hour, ClaimTTL: 10 * time.Minute}
}

func (c *RequestConfig) fillDefaults() {
	d := defaultRequestConfig()
	for _, f := range []struct{ v, def *int64 }{{&c.DefaultMaxFiles, &d.DefaultMaxFiles}, {&c.MaxFiles, &d.MaxFiles},
		{&c.MaxFileBytes, &d.MaxFileBytes}, {&c.MaxBytes, &d.MaxBytes}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.UploadTTL == 0 {
		c.UploadTTL = d.UploadTTL
	}
	if c.ClaimTTL == 0 {
		c.ClaimTTL = d.ClaimTTL
	}
}

func (c *RequestConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("sharing.requests."+format, args...)) }
	if c.MaxFiles < 1 || c.MaxFiles > 10_000 {
		bad("max_files: %d must be between 1 and 10000", c.MaxFiles)
	}
	if c.DefaultMaxFiles < 1 || c.DefaultMaxFiles > c.MaxFiles {
		bad("default_max_files: %d must be between 1 and max_files", c.DefaultMaxFiles)
	}
	if c.MaxFileBytes < 1<<20 || c.MaxFileBytes > 2<<30 {
		bad("max_file_bytes: %d must be between 1 MiB and 2 GiB (the page seals a file in memory)", c.MaxFileBytes)
	}
	if c.MaxBytes < c.MaxFileBytes || c.MaxBytes > 1<<40 {
		bad("max_bytes: %d must be between max_file_bytes and 1 TiB", c.MaxBytes)
	}
	if c.UploadTTL < time.Minute || c.UploadTTL > 24*time.Hour {
		bad("upload_ttl: %v must be between 1m and 24h", c.UploadTTL)
	}
	if c.ClaimTTL < time.Minute || c.ClaimTTL > 24*time.Hour {
		bad("claim_ttl: %v must be between 1m and 24h", c.ClaimTTL)
	}
	return errors.Join(errs...)
}

// RequestLink is the link of request id, without its fragment (the public
// key the agent adds).
func (c *Config) RequestLink(id string) string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/r/" + id
}
