package pod

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Receive records an entity that arrived by federation, already verified
// (envelope signature, sender == author, relayable signatures: the
// federation engine's job), as a Received op; the store materialises it.
// The payload is the entity's XML as pod/diaspora/entity parses it. A
// guid already received is kept once (the fold keeps the first).
func (p *Pod) Receive(ctx context.Context, payload []byte) error {
	e, err := entity.Parse(payload)
	if err != nil {
		return fmt.Errorf("%w: received entity: %w", ErrInvalid, err)
	}
	guid := entity.GUIDOf(e)
	if guid == "" {
		// Entities without a guid of their own (profile, contact,
		// retraction, …) are keyed by their content.
		h := sha256.Sum256(payload)
		guid = e.Type() + ":" + hex.EncodeToString(h[:])
	}
	return p.appendReceived(ctx, guid, e.Type(), strings.ToLower(e.Author()), payload)
}

// AddPerson records what discovery found about a person (their guid, key
// and public profile), so every device knows them.
func (p *Pod) AddPerson(ctx context.Context, rec store.PersonRecord) error {
	if rec.FetchedAt == 0 {
		rec.FetchedAt = p.cfg.Now().UnixMilli()
	}
	payload, guid, err := rec.Encode()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return p.appendReceived(ctx, guid, store.EntityPerson, strings.ToLower(rec.DiasporaID), payload)
}

func (p *Pod) appendReceived(ctx context.Context, guid, typ, author string, payload []byte) error {
	h := sha256.Sum256(payload)
	rec := oplog.Received{GUID: guid, EntityType: typ, Author: author, PayloadHash: hex.EncodeToString(h[:]), Payload: string(payload)}
	return p.log.Write(ctx, func(w *store.Writer) error {
		var n int
		if err := w.QueryRowContext(ctx, "SELECT count(*) FROM st_received WHERE guid = ?", guid).Scan(&n); err != nil {
			return fmt.Errorf("check received %s: %w", guid, err)
		}
		if n > 0 {
			return nil // already here: nothing to add
		}
		_, err := w.Append(rec)
		return err
	})
}
