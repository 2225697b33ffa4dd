package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
)

// cbcEncrypt encrypts whole blocks without padding (to build bad-padding cases).
func cbcEncrypt(t testing.TB, key, iv, dst, src []byte) {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(dst, src)
}
