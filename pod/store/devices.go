package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
)

// The device registry (docs/sync.md): which devices share this identity.
// It lives in the op log like everything else, so every device knows
// every other one: the set DevicesSet (member: the device's Ed25519 public
// key in hex), the set RevokedDevicesSet (a revoked device stays revoked;
// nothing removes from it), and LWW fields DeviceNameField(key).
const (
	DevicesSet        = "devices"
	RevokedDevicesSet = "revoked_devices"
)

// DeviceNameField is the field holding a device's name.
func DeviceNameField(keyHex string) string { return "device/" + keyHex + "/name" }

// RegisteredDevice is one device of the registry.
type RegisteredDevice struct {
	Key     []byte // Ed25519 public key
	Name    string // "" when never named
	Revoked bool
}

// Devices reads the registry: every device added or revoked, sorted by
// key.
func Devices(ctx context.Context, q Querier) ([]RegisteredDevice, error) {
	added, err := Members(ctx, q, DevicesSet)
	if err != nil {
		return nil, err
	}
	revoked, err := Members(ctx, q, RevokedDevicesSet)
	if err != nil {
		return nil, err
	}
	all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(added), revoked...))))
	out := make([]RegisteredDevice, 0, len(all))
	for _, k := range all {
		key, err := hex.DecodeString(k)
		if err != nil || len(key) != 32 {
			continue // not a device key: never written by a pod
		}
		d := RegisteredDevice{Key: key, Revoked: slices.Contains(revoked, k)}
		v, err := Field(ctx, q, DeviceNameField(k))
		if err != nil {
			return nil, fmt.Errorf("read the name of device %s: %w", k, err)
		}
		d.Name = v
		out = append(out, d)
	}
	return out, nil
}
