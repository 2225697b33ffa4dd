package entity

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	"seedpod/pod/diaspora/keys"
)

// AccountMigration moves an identity to a new diaspora ID (§10). The
// envelope proves one identity (Author); Signature, made by the other
// identity, proves the second.
type AccountMigration struct {
	AuthorID        string   // old or new identity; send the old one
	Profile         *Profile // the new identity's profile (Profile.AuthorID = new ID)
	Signature       string   // standard base64 over SignatureString, by SignerID
	OldIdentityID   string   // required when AuthorID is the new identity; = AuthorID otherwise
	RemotePhotoPath string
}

func (*AccountMigration) Type() string     { return "account_migration" }
func (m *AccountMigration) Author() string { return m.AuthorID }

// NewIdentity is the diaspora ID moved to (the profile's author).
func (m *AccountMigration) NewIdentity() string {
	if m.Profile == nil {
		return ""
	}
	return m.Profile.AuthorID
}

// OldIdentity is the diaspora ID moved from.
func (m *AccountMigration) OldIdentity() string {
	if m.AuthorID == m.NewIdentity() {
		return m.OldIdentityID
	}
	return m.AuthorID
}

// SignerID is the identity whose key must have made Signature: the one that
// is not the author.
func (m *AccountMigration) SignerID() string {
	if m.AuthorID == m.NewIdentity() {
		return m.OldIdentity()
	}
	return m.NewIdentity()
}

// SignatureString is "AccountMigration:<old>:<new>".
func (m *AccountMigration) SignatureString() string {
	return "AccountMigration:" + m.OldIdentity() + ":" + m.NewIdentity()
}

// VerifySignature checks Signature with pub, the key of SignerID. The error
// wraps ErrSignature.
func (m *AccountMigration) VerifySignature(pub *rsa.PublicKey) error {
	if pub == nil {
		return fmt.Errorf("%w: account_migration: no public key for %s", ErrSignature, m.SignerID())
	}
	if m.Signature == "" {
		return fmt.Errorf("%w: account_migration: signature missing", ErrSignature)
	}
	sig, err := decodeSig(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: account_migration/signature: %v", ErrSignature, err)
	}
	if err := keys.Verify(pub, []byte(m.SignatureString()), sig); err != nil {
		return fmt.Errorf("%w: account_migration %s → %s (signer %s): %w", ErrSignature, m.OldIdentity(), m.NewIdentity(), m.SignerID(), err)
	}
	return nil
}

// Sign sets Signature with priv, the key of SignerID.
func (m *AccountMigration) Sign(priv *rsa.PrivateKey) error {
	sig, err := keys.Sign(priv, []byte(m.SignatureString()))
	if err != nil {
		return fmt.Errorf("%w: account_migration: %v", ErrSignature, err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

func (m *AccountMigration) decode(r *reader) {
	m.AuthorID = r.str("author")
	if n := r.nested("profile"); n != nil {
		m.Profile = &Profile{}
		r.sub(n, m.Profile)
	}
	m.Signature = r.str("signature")
	m.OldIdentityID = r.str("old_identity")
	m.RemotePhotoPath = r.str("remote_photo_path")
	if m.OldIdentityID == "" && m.AuthorID != m.NewIdentity() {
		m.OldIdentityID = m.AuthorID // the reference's default, always emitted
	}
}

func (m *AccountMigration) encode() *node {
	b := newBuilder(m.Type()).str("author", m.AuthorID)
	if m.Profile != nil {
		b.sub(m.Profile, false)
	}
	return b.opt("signature", m.Signature).opt("old_identity", m.OldIdentityID).
		opt("remote_photo_path", m.RemotePhotoPath).n
}

func (m *AccountMigration) validate() error {
	c := &checker{typ: m.Type()}
	c.diasporaID("author", m.AuthorID, true)
	if m.Profile == nil {
		c.fail("profile", "missing")
		return c.err
	}
	c.sub(m.Profile)
	c.diasporaID("old_identity", m.OldIdentityID, m.AuthorID == m.NewIdentity())
	if m.AuthorID != m.NewIdentity() && m.OldIdentityID != m.AuthorID {
		c.fail("old_identity", "%q differs from the author, which is not the new identity", trunc(m.OldIdentityID))
	}
	if m.OldIdentity() == m.NewIdentity() {
		c.fail("old_identity", "old and new identity are the same")
	}
	c.uriWithPath("remote_photo_path", m.RemotePhotoPath)
	return c.err
}
