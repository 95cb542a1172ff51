package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { Main(m) }

func TestVaultTransitRoundTrip(t *testing.T) {
	v := Vault(t)
	c := v.Client(t)
	mount := v.Mount(t, "transit")
	if _, err := c.Logical().Write(mount+"/keys/smoke", nil); err != nil {
		t.Fatalf("create key: %v", err)
	}
	plain := []byte("privileged and confidential")
	enc, err := c.Logical().Write(mount+"/encrypt/smoke", map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)})
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	ct, _ := enc.Data["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("ciphertext %q does not look like transit output", ct)
	}
	dec, err := c.Logical().Write(mount+"/decrypt/smoke", map[string]any{"ciphertext": ct})
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	got, err := base64.StdEncoding.DecodeString(dec.Data["plaintext"].(string))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: got %q, %v; want %q", got, err, plain)
	}
}

func TestMinIOPutGetDelete(t *testing.T) {
	m := MinIO(t)
	c := m.Client(t)
	bucket := m.Bucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := []byte(RandomHex(100))
	if _, err := c.PutObject(ctx, bucket, "m/x/c/1", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	obj, err := c.GetObject(ctx, bucket, "m/x/c/1", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get: %d bytes, %v; want %d bytes", len(got), err, len(body))
	}
	if err := c.RemoveObject(ctx, bucket, "m/x/c/1", minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.StatObject(ctx, bucket, "m/x/c/1", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("stat after delete: %v, want NoSuchKey", err)
	}
}

func TestPostgresQuery(t *testing.T) {
	dsn := Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var db string
	var sum int
	if err := conn.QueryRow(ctx, "SELECT current_database(), $1::int + $2::int", 40, 2).Scan(&db, &sum); err != nil {
		t.Fatalf("query: %v", err)
	}
	if sum != 42 || !strings.HasPrefix(db, "mattersync_test_") {
		t.Fatalf("got db %q sum %d", db, sum)
	}
}
