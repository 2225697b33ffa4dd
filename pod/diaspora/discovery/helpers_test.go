package discovery

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func pkcs1Body(t *testing.T, k interface{}) string {
	t.Helper()
	pk, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("%T", k)
	}
	s := string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: x509.MarshalPKCS1PublicKey(pk)}))
	s = strings.TrimPrefix(s, "-----BEGIN X-----\n")
	return strings.TrimSuffix(s, "-----END X-----\n")
}
