package keylock

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"seedpod/pod/internal/vectors"
)

// rsa4096PKCS8 is a 4096-bit RSA key made once for these tests the way the
// pod makes its identity key (rsa.GenerateKey, PKCS#8 PEM). The shared
// vectors have a 4096-bit public key only, and the rules keep key
// generation in tests at 2048 bits; the sizes that matter here (lines, QR
// codes) are those of 4096-bit keys. It protects nothing.
const rsa4096PKCS8 = `
-----BEGIN PRIVATE KEY-----
MIIJQwIBADANBgkqhkiG9w0BAQEFAASCCS0wggkpAgEAAoICAQChLtOYToyOdyBZ
cQo19nmfmKhu3JZoMc1HbggPC18T2qkITfbQKe0lJeqj9qangvYU6/1V/qgMQXfF
X6k1bRUt85/pjQQs+B9Ym5vxfFYpnk2EiL9qBh3afIhpNmvQ6z/nAKgRd6GhCka9
lB4EQ5XOcexD7HVN0aruZxXn5AvmFGyUtye2ThH6603JSjE4a4gfhff+qwln3fVS
GSXVL02MbcP7CetmqqruWOkGI8phpCTfqyma6LXaRs0FrxRvMNmGNSSKEhAEbnAh
nN3MFcXB23Lm76NSbd0ABllS51SPpQWnzhvWknvqsn/MSMPunYuOJLAHa1+pF471
eyOzv7jQ43lQAaZ82G9BpRqk40ur+oDHoiLzy9aozrAxKx0DI0uJcHyu4Jb8lPwD
k+PuktUkbr6v2ZWhatSmnN17Uf1XE7WaYjoyxkyARXXo6PO0pmIKx8cESShVAFDs
mvexUimlm0+u0sm/9hSc8f9GAbpXSTZ99NpyeoYlPosjzvLa78Eqj/B0lqEV89a3
aOkuWxH2GlpiRqj9dp89uKU5/sdWhWvsmq3+QQy+WyhCTzpOq/jBdCWgxDxLYFi1
L1pQN1ZyzKe6v2s4vgKxNb5E/Zj2/mzNVorBl0iuABeDZ/T3UP5ce8jOO3a01JxP
VsfS4bk1QluJOCfpC3E24i4/4HhELQIDAQABAoICACB2jXBmFaIV9SJ+hWdz8nAF
75qQfAyVRzqFO0NIb4hQqG2/QiAP6a7rMZR/d3ZShpyVISuCRDdfsi9DApH7m+Hq
6QDBgZ9LBAk1IhXjjHkKZKN2ZVMF01pvbYv/RXzI/NBaTf9ioF+Occv5+oeyUwhG
4qaVh9S6D1q/0WYohIr8/xd+whVSKQXoAX0yn7I02jA7K8UTjqvoROIZpYiH4+8O
JoQ3rb06T33800YEzFyZEkIoN5N3HjVNwDpOVmfEp3MD3g2e8LHrylLCxNs3YWKX
f89qYXMXJIU+QhxT8jCSNI7lEK9JRoLxG5M57phvC63/zqJX6mbkk0r216x6x06d
ODIYFQCqHWWnF0vSDb6pRhcwhgRVto9fNkZPre0zEfEHMBXU5Gbeys532zHvebBr
x/oaltL7//VfPIrnsKJveMWpKoHXK9RFkMpqvZBwlLgQpLklpSQ4CZyZIge3h947
kRV2tPJywi7AdsfBPxmAHWXHZxUy7czgY1sru2i0U0r7KZ7t2nCEtZYPMREhR/IK
1HEETV2b4hsASAJIl/US+Dp4T18blTm14EKeVhWea3/OfdpvWd5fKlOnny6S1aIV
ZZkZ1qUijadTg2u/DX97NnANKGFqz0OWXUEGAWCtzyxzF3GBne1g4ki+MeX4kEre
KP+Yq7Cgz3rrwjOyRZtzAoIBAQDDrxpKTECvXMSqDgGJiJImwn2J+hxE/W990kwA
eGmyPbC+AIwv+XdV+OvvIqCnNFnGsZiDoUu/XxB1lG02KfT72pAFKNi8LHZZbuc/
dOt062w9RoUMUuYwBlJogIuXJs5P2Wn5+ordS8iqLJ5gKD2gRRxwtesMrkABgsKv
Q3L3cWpNdNgJR3F6ViEWKPholFHtwhJm3d/LKprFs+lKHlCOZc6DXHWgEAvYdvVC
B5m7qMofchXiyTtgTeBbS91Ozxpowj4SbQmPsB8C5ls3VEww6zS+YCQrASMt23bJ
Z1EBjtF2HMRBs1HuHr6jzUptHrxdMT6yC0wQGMXHI3sKtfkjAoIBAQDS3VYq9laD
+U8I79us+UQbbkv7rySgNYf8L9FdkZrKJAqxtPiiC550mJxMzA2VwXlB8K4gyQtX
1KHzisLzJ4FRCWuXGmO2yuqo6TABS5mRGG0dygk2wfGgkviOoti0EO+Rh1/bqYLH
N7fTYuYA/s12u2hY085xRDpqia66101dmar5k4h4LvUQ+QDmutAR6KAxZT02N+cA
Q61J3o8xf8R/59f4CbeBtOvvqYEiUxtBV0149OJ0Dr+5llm2Qnshn2L1sT9cWFdJ
CHnf28cCkjxMKithkl//EIWGJIQa2w9WqcBLT4i/bOLcQbN74CmqLRPyYqCucne3
BpAODhEdYKpvAoIBADp+Lveij3tb2ZWTljYMUtOvM2N5FdYxg5AyunExjTawZhKF
i2ITye4y+COFUExqw6M3FwXRwxizS/I5qeOU6xwVmxNPwGmPSNk243z+cBuE+9fd
Kowig5g7a4q9UfyepvELZjhJAhVgP91OdRD9Nl6gCf5PArHJrGxHL/a/zK/WgRYi
JSmw52TQNhevq4FnRI4zgtio3eqXE6ihPMzg/udx2yc9DhQId+H+vRU9vGBx9eks
awpdaJhC7xubM84I7jX+Shur6D3BQaPWQ9HoKtY8mImHp4gLUP62KW3OqlIy5L3P
n4KcHZN2MTo5dVPk6h1ZSQpjghsVrJj4LCFpf80CggEBALkRF6JnR7FWqz4tvgDH
WTY2DKwdoKiXsvzsPvW/aDpHfbdQHPOj/PNaSbvBT58DCliMU1dk+/afIXCtdcKR
BpdIDEy3FZMF7wRGfSJ15pcI+COwAXw0pcwHke0mEcmgH5L7XG9fC++rAESfxTxU
ZaHyg3eKleKlPhvpMRi9BCLFTuDy0lCg7edyk47toNZG8+nGb/3Y/H4n57wwgD6y
Y5Tat5rzdEJ7tqNGgpbMl9w2MkGZs/KmSzEoOx6SpJzy1ZjLcs+qnRj1Pnnx221v
SUqTrDVbkbM8HeSIwgUMBB9Mpv+yE1PmzgkABPYQ3KCGJb6TP3E798QEF4SuZekB
wTMCggEBAKasixuSQ08e3lNoJ/oHnqfo5zWYOqkVtEcReaffjyv+uXT6FJLjxflW
H+g4XJbm+vLKR+XDsXVDQ288HAa/zmfGnyniewDoQjtdWsC70KAdnONLdFmfMr8y
pRw0Zf+gko+EcAdglyqKblyiet1lc47FZJ5zQ1YM9hqpLyT4yT0vza09MH9vjIjT
ibXcdlAeNjzlioCdLl1Ruewe7xRhIwGAxoMPgBSnTqqyNC/VoIZ2mxLNBtweDs0O
RTmTQBxknkrHniVWT+2CLWE1LBHzPaISWZ4JV4rNCnAikFAWGmU254Ipy317I8aS
hQ1Ng3JqF778g9fvm46bwlpzmUH0j44=
-----END PRIVATE KEY-----
`

// testKey is a private key PEM the tests seal and print.
type testKey struct {
	name string
	pem  []byte
}

// testKeys returns the keys the tests run over: the 4096-bit PKCS#8 key
// above, the 2048- and 1024-bit PKCS#1 keys from the shared vectors, and
// one of those as PKCS#8 (what the pod stores).
func testKeys(t testing.TB) []testKey {
	t.Helper()
	bob := vectors.Read(t, "keys/bob_generated_rsa2048.private.pem")
	b, _ := pem.Decode(bob)
	if b == nil {
		t.Fatal("bob's vector key does not decode")
	}
	rk, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		t.Fatal(err)
	}
	return []testKey{
		{"rsa4096-pkcs8", []byte(rsa4096PKCS8[1:])},
		{"rsa2048-pkcs1-bob", bob},
		{"rsa2048-pkcs1-alice", vectors.Read(t, "keys/alice_new_generated_rsa2048.private.pem")},
		{"rsa2048-pkcs8-bob", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		{"rsa1024-pkcs1-spec", vectors.Read(t, "keys/alice_integration_spec_rsa1024.private.pem")},
	}
}

// fast are argon2 parameters for tests: 64 KiB, one pass (~0.1 ms).
var fast = Params{Time: 1, MemoryKiB: 64, Threads: 1}

// tight are caps for tests that let tampered parameters through: nothing
// over 1 MiB-pass runs.
var tight = limits{memoryKiB: 1024, time: 16, threads: 4, work: 1024}

func sealT(t testing.TB, keyPEM []byte, pass string) []byte {
	t.Helper()
	b, err := Seal(keyPEM, []byte(pass), fast)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
