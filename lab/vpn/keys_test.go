package vpn

import (
	"encoding/base64"
	"encoding/hex"
	"testing"
)

func TestPublicKeyRFC7748(t *testing.T) {
	t.Parallel()
	// RFC 7748 section 6.1, Alice's key pair.
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	want, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	got, err := PublicKey(base64.StdEncoding.EncodeToString(priv))
	if err != nil {
		t.Fatal(err)
	}
	if got != base64.StdEncoding.EncodeToString(want) {
		t.Errorf("PublicKey = %s; want %s", got, base64.StdEncoding.EncodeToString(want))
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	k1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKey()
	if k1.Private == k2.Private {
		t.Fatal("two generated keys are equal")
	}
	raw, err := ParseKey(k1.Private)
	if err != nil {
		t.Fatal(err)
	}
	if raw[0]&7 != 0 || raw[31]&128 != 0 || raw[31]&64 == 0 {
		t.Errorf("private key %x is not clamped", raw)
	}
	if pub, _ := PublicKey(k1.Private); pub != k1.Public || len(k1.Public) != 44 {
		t.Errorf("public key %q; want %q (44 characters)", k1.Public, pub)
	}
	if hexKey(k1.Private) != hex.EncodeToString(raw[:]) {
		t.Error("hexKey does not encode the key's bytes")
	}
}

func TestParseKeyHidesSecrets(t *testing.T) {
	t.Parallel()
	_, err := ParseKey("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA")
	if err == nil {
		t.Fatal("ParseKey accepted a key of the wrong length")
	}
	if len(err.Error()) > 90 {
		t.Errorf("error repeats the key: %v", err)
	}
}
