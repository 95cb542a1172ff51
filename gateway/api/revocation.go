package api

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// HeaderRevocationNonce carries a fresh random nonce (32 to 128 lowercase
// hex characters) from an agent that was told "revoked" and, before it
// removes anything under wipe_on_revoke, wants the gateway's word in
// writing: a refusal with code revoked then carries a Revocation signed
// with the gateway's audit signing key over that nonce. One answer from
// whatever listens at the gateway's address is not enough to wipe a laptop.
const HeaderRevocationNonce = "X-Mattersync-Revocation-Nonce"

// Revocation is the gateway's signed statement that an entity is revoked,
// bound to the nonce the agent sent.
type Revocation struct {
	Entity    string    `json:"entity"`
	Nonce     string    `json:"nonce"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"` // Ed25519 over RevocationMessage
}

// RevocationMessage is what the gateway signs: a domain-separated line
// per field, so a checkpoint signature can never pass for one.
func RevocationMessage(entity, nonce string, t time.Time) []byte {
	return []byte("mattersync revocation v1\n" + entity + "\n" + nonce + "\n" + strconv.FormatInt(t.UnixMicro(), 10) + "\n")
}

// ValidNonce reports whether s is a revocation nonce: 32 to 128 lowercase
// hex characters.
func ValidNonce(s string) bool {
	if len(s) < 32 || len(s) > 128 || len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParsePublicKey parses the gateway's Ed25519 audit signing public key
// (PKIX PEM): one parser for the gateway, the admin tool and the agent
// (which verifies revocation statements with it).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("public key: not a PEM PUBLIC KEY")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("public key: not an Ed25519 key")
	}
	return ek, nil
}

// Verify checks that r is pub's statement that entity is revoked, over
// nonce, made no earlier than notBefore.
func (r *Revocation) Verify(pub ed25519.PublicKey, entity, nonce string, notBefore time.Time) error {
	switch {
	case r == nil:
		return fmt.Errorf("the gateway sent no signed revocation statement")
	case r.Entity != entity:
		return fmt.Errorf("the revocation statement names another user")
	case r.Nonce != nonce:
		return fmt.Errorf("the revocation statement is not an answer to this agent's nonce")
	case r.Time.Before(notBefore):
		return fmt.Errorf("the revocation statement is older than the question")
	case !ed25519.Verify(pub, RevocationMessage(r.Entity, r.Nonce, r.Time), r.Signature):
		return fmt.Errorf("the revocation statement's signature does not verify with the gateway's public key")
	}
	return nil
}
