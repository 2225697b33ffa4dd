package pod

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func newDeviceKey(t *testing.T) (ed25519.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, hex.EncodeToString(pub)
}

func TestDeviceRegistry(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	self := hex.EncodeToString(p.ThisDevice())
	laptop, laptopHex := newDeviceKey(t)
	stranger, _ := newDeviceKey(t)

	if ok, err := p.DeviceTrusted(ctx, p.ThisDevice()); err != nil || !ok {
		t.Fatalf("this device trusted: %v %v", ok, err)
	}
	if ok, _ := p.DeviceTrusted(ctx, laptop); ok {
		t.Fatal("an unregistered device is trusted")
	}
	if err := p.RegisterDevices(ctx, map[string]string{laptopHex: "Laptop"}); err != nil {
		t.Fatal(err)
	}
	devs, err := p.RegisteredDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range devs {
		names[hex.EncodeToString(d.Key)] = d.Name
	}
	if len(devs) != 2 || names[laptopHex] != "Laptop" || names[self] != "" {
		t.Fatalf("registry after pairing: %+v", devs)
	}
	if ok, _ := p.DeviceTrusted(ctx, laptop); !ok {
		t.Fatal("a registered device is not trusted")
	}
	if err := p.RenameDevice(ctx, laptopHex, "Work laptop"); err != nil {
		t.Fatal(err)
	}
	// Registering again changes nothing but names.
	before, _ := p.DB().Heads(ctx)
	if err := p.RegisterDevices(ctx, map[string]string{laptopHex: "Work laptop"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := p.DB().Heads(ctx); after[0].Head.Seq != before[0].Head.Seq {
		t.Fatalf("registering a known device wrote ops: %d → %d", before[0].Head.Seq, after[0].Head.Seq)
	}

	for _, c := range []struct {
		name string
		err  error
		do   func() error
	}{
		{"revoke self", ErrInvalid, func() error { return p.RevokeDevice(ctx, self) }},
		{"revoke a stranger", ErrNotFound, func() error { return p.RevokeDevice(ctx, hex.EncodeToString(stranger)) }},
		{"revoke a malformed key", ErrInvalid, func() error { return p.RevokeDevice(ctx, "ABC") }},
		{"uppercase key", ErrInvalid, func() error { return p.RenameDevice(ctx, strings.ToUpper(laptopHex), "x") }},
		{"empty name", ErrInvalid, func() error { return p.RenameDevice(ctx, laptopHex, "  ") }},
		{"control characters", ErrInvalid, func() error { return p.RenameDevice(ctx, laptopHex, "a\nb") }},
		{"long name", ErrInvalid, func() error { return p.RenameDevice(ctx, laptopHex, strings.Repeat("é", 65)) }},
		{"register a bad key", ErrInvalid, func() error { return p.RegisterDevices(ctx, map[string]string{"00": ""}) }},
	} {
		if err := c.do(); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}

	if err := p.RevokeDevice(ctx, laptopHex); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.DeviceTrusted(ctx, laptop); ok {
		t.Fatal("a revoked device is trusted")
	}
	if err := p.RevokeDevice(ctx, laptopHex); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := p.RegisterDevices(ctx, map[string]string{laptopHex: "Laptop"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("re-pairing a revoked device: %v", err)
	}
	devs, _ = p.RegisteredDevices(ctx)
	for _, d := range devs {
		if hex.EncodeToString(d.Key) == laptopHex && (!d.Revoked || d.Name != "Work laptop") {
			t.Fatalf("revoked laptop: %+v", d)
		}
	}
}
