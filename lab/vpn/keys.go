package vpn

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// KeyPair is a WireGuard key pair, both halves base64 as `wg` prints them.
type KeyPair struct {
	Private string `json:"privateKey"`
	Public  string `json:"publicKey"`
}

// GenerateKey returns a new Curve25519 key pair (what `wg genkey | wg pubkey` gives).
func GenerateKey() (KeyPair, error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return KeyPair{}, fmt.Errorf("generate wireguard key: %w", err)
	}
	// Clamp as `wg genkey` does, so the stored key is the canonical scalar.
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	priv := base64.StdEncoding.EncodeToString(k[:])
	pub, err := PublicKey(priv)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{Private: priv, Public: pub}, nil
}

// PublicKey derives the base64 public key of a base64 private key.
func PublicKey(private string) (string, error) {
	k, err := ParseKey(private)
	if err != nil {
		return "", err
	}
	pk, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		return "", fmt.Errorf("derive wireguard public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(pk.PublicKey().Bytes()), nil
}

// ParseKey decodes a base64 WireGuard key (44 characters, 32 bytes).
func ParseKey(s string) ([32]byte, error) {
	var k [32]byte
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return k, fmt.Errorf("%q is not a base64 WireGuard key (44 characters ending in '=')", abbrev(s))
	}
	copy(k[:], b)
	return k, nil
}

// hexKey is the form wireguard-go's configuration protocol wants.
func hexKey(s string) string {
	k, _ := ParseKey(s) // validated with the spec
	return hex.EncodeToString(k[:])
}

// abbrev keeps private keys out of error messages.
func abbrev(s string) string {
	if len(s) <= 8 {
		return s
	}
	return s[:4] + "…" + s[len(s)-2:]
}
