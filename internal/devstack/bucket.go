package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// makeBucket creates the gateway's bucket if it is missing (the gateway
// itself never creates buckets: in a firm, storage is IT's).
func (s *Stack) makeBucket(ctx context.Context) error {
	c, err := minio.New(s.MinIOEndpoint(), &minio.Options{Creds: credentials.NewStaticV4(s.st.S3Access, s.st.S3Secret, "")})
	if err != nil {
		return err
	}
	// MinIO reports ready before it accepts bucket calls: slightly with
	// one drive, longer while four drives form their erasure set.
	var ok bool
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ok, err = c.BucketExists(ctx, s.Bucket()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devstack: bucket: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ok {
		// A bucket of an older stack may lack Object Lock, which cannot be
		// turned on afterwards: legal holds are then not enforced by the
		// storage (the gateway says so in its log).
		if enabled, _, _, _, err := c.GetObjectLockConfig(ctx, s.Bucket()); err != nil || enabled != "Enabled" {
			s.say("bucket %s has no S3 Object Lock: legal holds are not enforced by the storage; remove the stack's state to start over with one", s.Bucket())
		}
		return nil
	}
	// Object Lock (which turns versioning on) lets the storage itself
	// refuse to delete what a legal hold keeps (docs/LIFECYCLE.md).
	if err := c.MakeBucket(ctx, s.Bucket(), minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		return fmt.Errorf("devstack: make bucket: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
