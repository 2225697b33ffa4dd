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
	if _, err = p.appendReceivedAll(ctx, []oplog.Received{receivedOp(e, payload, "")}); err != nil {
		return err
	}
	return p.followMoves(ctx, []entity.Entity{e})
}

// receivedOp is the Received op of a verified entity. Its key (the op's
// GUID, under which the fold keeps the first arrival):
//   - an entity with a guid: the guid; an edit of a status message (edited_at
//     after created_at) is another version of the post: "<guid>#<edited_at ms>";
//   - an entity without a guid (profile, contact, retraction, …): its type and
//     the SHA-256 of its payload; for a Contact also the delivery (relay host
//     and inbox id), because sharing again after stopping sends the same
//     bytes as the first time and must not be taken for a duplicate.
func receivedOp(e entity.Entity, payload []byte, deliveryKey string) oplog.Received {
	h := sha256.Sum256(payload)
	sum := hex.EncodeToString(h[:])
	key := entity.GUIDOf(e)
	switch {
	case key == "":
		key = e.Type() + ":" + sum
		if _, ok := e.(*entity.Contact); ok && deliveryKey != "" {
			dk := sha256.Sum256([]byte(deliveryKey))
			key += ":" + hex.EncodeToString(dk[:8])
		}
	default:
		if m, ok := e.(*entity.StatusMessage); ok && !m.EditedAt.IsZero() && m.EditedAt.After(m.CreatedAt) {
			key = store.ReceivedEditKey(key, m.EditedAt.UnixMilli())
		}
	}
	return oplog.Received{GUID: key, EntityType: e.Type(), Author: strings.ToLower(e.Author()), PayloadHash: sum, Payload: string(payload)}
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
	h := sha256.Sum256(payload)
	_, err = p.appendReceivedAll(ctx, []oplog.Received{{GUID: guid, EntityType: store.EntityPerson,
		Author: strings.ToLower(rec.DiasporaID), PayloadHash: hex.EncodeToString(h[:]), Payload: string(payload)}})
	return err
}

// appendReceivedAll appends the received ops not already held, in one
// transaction, and returns how many it appended.
func (p *Pod) appendReceivedAll(ctx context.Context, recs []oplog.Received) (int, error) {
	n := 0
	err := p.log.Write(ctx, func(w *store.Writer) error {
		n = 0
		if len(recs) > 1 {
			bodies := make([]any, len(recs))
			for i, r := range recs {
				bodies[i] = r
			}
			w.Prefetch(bodies)
		}
		seen := map[string]bool{}
		for _, rec := range recs {
			if seen[rec.GUID] {
				continue
			}
			seen[rec.GUID] = true
			var held int
			if err := w.QueryRowContext(ctx, "SELECT count(*) FROM st_received WHERE guid = ?", rec.GUID).Scan(&held); err != nil {
				return fmt.Errorf("check received %s: %w", rec.GUID, err)
			}
			if held > 0 {
				continue // already here: nothing to add
			}
			if _, err := w.Append(rec); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
