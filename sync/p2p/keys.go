package p2p

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNotEd25519 is returned by DeviceKeyOf for a peer ID that does not embed an Ed25519 key
// (RSA and secp256k1 peer IDs are hashes or other key types; Seedpod devices are Ed25519 only).
var ErrNotEd25519 = errors.New("p2p: peer ID does not embed an Ed25519 key")

// PeerIDOf returns the libp2p peer ID of a device key: the identity multihash of the
// protobuf-wrapped Ed25519 public key (the "12D3KooW…" form).
func PeerIDOf(pub ed25519.PublicKey) (peer.ID, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("p2p: peer ID of a %d-byte public key: want %d bytes", len(pub), ed25519.PublicKeySize)
	}
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("p2p: peer ID of public key %x: %w", pub, err)
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return "", fmt.Errorf("p2p: peer ID of public key %x: %w", pub, err)
	}
	return id, nil
}

// DeviceKeyOf returns the Ed25519 device key a peer ID embeds. It accepts only the canonical
// encoding: PeerIDOf(DeviceKeyOf(id)) == id, so one key never has two accepted peer IDs.
// id comes from the network (a remote peer, a pairing code); it is never trusted further.
func DeviceKeyOf(id peer.ID) (ed25519.PublicKey, error) {
	// An identity multihash of an Ed25519 key is 38 bytes; anything much longer is not one.
	if len(id) == 0 || len(id) > 64 {
		return nil, fmt.Errorf("p2p: device key of a %d-byte peer ID: %w", len(id), ErrNotEd25519)
	}
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("p2p: device key of peer %s: %w", id, errors.Join(ErrNotEd25519, err))
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("p2p: device key of peer %s: key type %v: %w", id, pk.Type(), ErrNotEd25519)
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("p2p: device key of peer %s: %w", id, errors.Join(ErrNotEd25519, err))
	}
	back, err := PeerIDOf(raw)
	if err != nil || back != id {
		return nil, fmt.Errorf("p2p: device key of peer %s: non-canonical encoding: %w", id, ErrNotEd25519)
	}
	return ed25519.PublicKey(raw), nil
}

// identity turns the device key into a libp2p private key, refusing a key whose public half
// does not match its seed (a corrupted or hand-assembled key would otherwise give a peer ID
// that the op log's key does not match).
func identity(priv ed25519.PrivateKey) (crypto.PrivKey, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("p2p: device key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	want := ed25519.NewKeyFromSeed(priv.Seed())
	if !bytes.Equal(want, priv) {
		return nil, errors.New("p2p: device key: public half does not match the seed")
	}
	k, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("p2p: device key: %w", err)
	}
	return k, nil
}
