package pod

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// The device registry (docs/sync.md): the devices that share this
// identity, replicated in the op log (store.DevicesSet,
// store.RevokedDevicesSet, store.DeviceNameField). A device is trusted —
// its logs accepted, its connections admitted — while it is registered
// and not revoked. This device is always trusted by itself.

// maxDeviceName bounds a device's name (characters).
const maxDeviceName = 64

// ThisDevice is this device's public key: the key of its op log, which is
// also its libp2p identity.
func (p *Pod) ThisDevice() ed25519.PublicKey {
	return p.log.Key().Public().(ed25519.PublicKey)
}

// RegisteredDevices reads the registry.
func (p *Pod) RegisteredDevices(ctx context.Context) ([]store.RegisteredDevice, error) {
	return store.Devices(ctx, p.db.R)
}

// DeviceTrusted reports whether ops and connections of the device are
// accepted: this device, or a registered device that is not revoked.
func (p *Pod) DeviceTrusted(ctx context.Context, key ed25519.PublicKey) (bool, error) {
	if key.Equal(p.ThisDevice()) {
		return true, nil
	}
	devs, err := store.Devices(ctx, p.db.R)
	if err != nil {
		return false, err
	}
	for _, d := range devs {
		if ed25519.PublicKey(d.Key).Equal(key) {
			return !d.Revoked, nil
		}
	}
	return false, nil
}

// trustedDeviceList is the registry without revoked devices, as hex keys,
// sorted; empty while no device was ever paired.
func (p *Pod) trustedDeviceList(ctx context.Context) ([]string, error) {
	devs, err := store.Devices(ctx, p.db.R)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range devs {
		if !d.Revoked {
			out = append(out, hex.EncodeToString(d.Key))
		}
	}
	return out, nil
}

// RegisterDevices adds devices (with their names) to the registry, this
// device included when it is not yet there: pairing calls it on the
// device that admits a new one. A revoked device cannot come back. A
// registered device keeps its name (the user may have renamed it); the
// name given is taken only when it has none.
func (p *Pod) RegisterDevices(ctx context.Context, devs map[string]string) error {
	if err := checkDevices(devs); err != nil {
		return err
	}
	return p.log.Write(ctx, func(w *store.Writer) error { return p.registerDevices(ctx, w, devs) })
}

func checkDevices(devs map[string]string) error {
	for k, name := range devs {
		if err := checkDeviceKey(k); err != nil {
			return err
		}
		if err := checkDeviceName(name); err != nil {
			return err
		}
	}
	return nil
}

// registerDevices is RegisterDevices inside w's transaction (devs checked).
func (p *Pod) registerDevices(ctx context.Context, w *store.Writer, devs map[string]string) error {
	have, err := store.Devices(ctx, w)
	if err != nil {
		return err
	}
	known := map[string]store.RegisteredDevice{}
	for _, d := range have {
		known[hex.EncodeToString(d.Key)] = d
	}
	for k := range devs {
		if known[k].Revoked {
			return fmt.Errorf("%w: device %s was revoked; it cannot be paired again (reset it to get a new device key)", ErrConflict, k)
		}
	}
	self := hex.EncodeToString(p.ThisDevice())
	if _, ok := known[self]; !ok {
		if _, named := devs[self]; !named {
			devs[self] = ""
		}
	}
	for k, name := range devs {
		if _, ok := known[k]; !ok {
			if _, err := w.Append(oplog.SetAdd{Set: store.DevicesSet, Member: k}); err != nil {
				return err
			}
		}
		if name != "" && known[k].Name == "" {
			if _, err := w.Append(oplog.SetField{Key: store.DeviceNameField(k), Value: name}); err != nil {
				return err
			}
		}
	}
	return nil
}

// deviceRevoked reports whether the registry revoked the device.
func (p *Pod) deviceRevoked(ctx context.Context, key []byte) (bool, error) {
	devs, err := store.Devices(ctx, p.db.R)
	if err != nil {
		return false, err
	}
	for _, d := range devs {
		if ed25519.PublicKey(d.Key).Equal(ed25519.PublicKey(key)) {
			return d.Revoked, nil
		}
	}
	return false, nil
}

// RenameDevice names a registered device.
func (p *Pod) RenameDevice(ctx context.Context, keyHex, name string) error {
	if err := checkDeviceName(name); err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: a device's name cannot be empty", ErrInvalid)
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		d, err := registered(ctx, w, keyHex)
		if err != nil {
			return err
		}
		if d.Name == name {
			return nil
		}
		_, err = w.Append(oplog.SetField{Key: store.DeviceNameField(keyHex), Value: name})
		return err
	})
}

// RevokeDevice revokes a registered device: every device refuses its
// connections and its ops from then on (ops accepted before stay). This
// device cannot revoke itself. Revoking does not revoke the identity key
// the device holds: a stolen device can still sign as the identity.
func (p *Pod) RevokeDevice(ctx context.Context, keyHex string) error {
	if keyHex == hex.EncodeToString(p.ThisDevice()) {
		return fmt.Errorf("%w: this device cannot revoke itself; revoke it from another device", ErrInvalid)
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		d, err := registered(ctx, w, keyHex)
		if err != nil {
			return err
		}
		if d.Revoked {
			return nil
		}
		_, err = w.Append(oplog.SetAdd{Set: store.RevokedDevicesSet, Member: keyHex})
		return err
	})
}

func registered(ctx context.Context, q store.Querier, keyHex string) (store.RegisteredDevice, error) {
	if err := checkDeviceKey(keyHex); err != nil {
		return store.RegisteredDevice{}, err
	}
	devs, err := store.Devices(ctx, q)
	if err != nil {
		return store.RegisteredDevice{}, err
	}
	for _, d := range devs {
		if hex.EncodeToString(d.Key) == keyHex {
			return d, nil
		}
	}
	return store.RegisteredDevice{}, fmt.Errorf("%w: no device %s is paired with this identity", ErrNotFound, keyHex)
}

func checkDeviceKey(k string) error {
	b, err := hex.DecodeString(k)
	if err != nil || len(b) != ed25519.PublicKeySize || hex.EncodeToString(b) != k {
		return fmt.Errorf("%w: %q is not a device key (64 lowercase hex digits)", ErrInvalid, k)
	}
	return nil
}

func checkDeviceName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxDeviceName || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: a device's name is at most %d characters of text without control characters", ErrInvalid, maxDeviceName)
	}
	return nil
}
