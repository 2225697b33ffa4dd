package pod

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/federation"
	"seedpod/pod/oplog"
	"seedpod/pod/relayclient"
	"seedpod/pod/store"
)

// Moving the identity to another relay (or the user's own domain).
//
// The identity keeps its key and person guid; its diaspora* ID becomes
// username@new-relay. The move is recorded in one write: identity/domain
// (and identity/username), the relay URL, the old diaspora* ID in
// store.FormerIDsSet (so what was sent and received under it stays the
// user's: store.Me.IsMe) and the old relay in FormerRelaysSet (the engine
// keeps reading its inbox for pods that have not followed yet). Every
// contact is told by an AccountMigration from the old ID to the new one,
// built by Pending (handed key "migration:<old>"): signed by the same key
// as both identities, so it verifies on any diaspora* pod that discovers
// the new ID. Receivers follow it (pod/store/project_moves.go on a Seedpod).

// FormerRelaysSet holds the relays the identity moved away from: members
// are the JSON of federation.FormerRelay.
const FormerRelaysSet = "former_relays"

// MoveRelay moves the identity to the relay at relayURL with the
// enrolment code its operator gave (username defaults to the current one)
// and returns the new diaspora* ID. ErrInvalid when no relay is set up
// yet or the new relay refuses; ErrUnavailable when it does not answer.
func (p *Pod) MoveRelay(ctx context.Context, relayURL, code, username string) (string, error) {
	if p.fed == nil {
		return "", ErrFederationOff
	}
	if strings.TrimSpace(code) == "" {
		return "", fmt.Errorf("%w: code: the enrolment code the new relay's operator gave you is required", ErrInvalid)
	}
	id, err := p.fed.MoveRelay(ctx, relayURL, code, username)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, federation.ErrNoIdentity):
		return "", fmt.Errorf("%w: create the identity (and let its key finish) first", ErrNoIdentity)
	case errors.Is(err, federation.ErrInvalid):
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var ae *relayclient.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return "", fmt.Errorf("%w: the relay refused: %s", ErrInvalid, ae.Message)
	}
	return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// MoveRelay records a move (federation.Host).
func (h fedHost) MoveRelay(ctx context.Context, relayURL, domain, username string, former federation.FormerRelay) error {
	fr, err := json.Marshal(former)
	if err != nil {
		return err
	}
	return h.p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		body := []oplog.Body{oplog.SetField{Key: "identity/domain", Value: domain}, oplog.SetField{Key: RelayURLKey, Value: relayURL}}
		if username != me.Username {
			body = append(body, oplog.SetField{Key: "identity/username", Value: username})
		}
		for _, set := range [][2]string{{store.FormerIDsSet, strings.ToLower(former.Handle)}, {FormerRelaysSet, string(fr)}} {
			in, err := store.IsMember(ctx, w, set[0], set[1])
			if err != nil {
				return err
			}
			if !in {
				body = append(body, oplog.SetAdd{Set: set[0], Member: set[1]})
			}
		}
		for _, b := range body {
			if _, err := w.Append(b); err != nil {
				return fmt.Errorf("record the move to %s: %w", relayURL, err)
			}
		}
		return nil
	})
}

// formerRelays are the relays the identity moved away from, without the
// one it uses now.
func (p *Pod) formerRelays(ctx context.Context, current string) ([]federation.FormerRelay, error) {
	ms, err := store.Members(ctx, p.db.R, FormerRelaysSet)
	if err != nil {
		return nil, err
	}
	var out []federation.FormerRelay
	for _, m := range ms {
		var fr federation.FormerRelay
		if json.Unmarshal([]byte(m), &fr) != nil || fr.URL == "" || strings.EqualFold(fr.Handle, current) {
			continue
		}
		out = append(out, fr)
	}
	return out, nil
}

// migrations are the AccountMigrations to send: one from each former
// diaspora* ID to the current one, not handed yet, to every contact.
func (h fedHost) migrations(ctx context.Context, me store.Me, key *rsa.PrivateKey) ([]federation.Outgoing, error) {
	if len(me.Former) == 0 {
		return nil, nil
	}
	keys := make([]string, len(me.Former))
	for i, f := range me.Former {
		keys[i] = migrationKey(f, me.Handle())
	}
	handed, err := store.Handed(ctx, h.p.db.R, keys)
	if err != nil {
		return nil, err
	}
	var out []federation.Outgoing
	for i, old := range me.Former {
		if handed[keys[i]] {
			continue
		}
		prof, err := h.profileEntity(ctx, me.Handle())
		if err != nil {
			return nil, err
		}
		m := &entity.AccountMigration{AuthorID: old, OldIdentityID: old, Profile: prof}
		// The new identity signs; it has the same key as the old one,
		// which signs the envelope (diaspora* sends the old one as author).
		if err := m.Sign(key); err != nil {
			return nil, fmt.Errorf("sign the migration from %s: %w", old, err)
		}
		payload, err := entity.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("build the migration from %s: %w", old, err)
		}
		to, err := h.contactsEverywhere(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, federation.Outgoing{Key: keys[i], GUID: federation.DerivedGUID(keys[i]),
			EntityType: "AccountMigration", Payload: payload, Public: true, Sender: old, Recipients: to})
	}
	return out, nil
}

// migrationKey is the handed key of the migration from old to now.
func migrationKey(old, now string) string { return "migration:" + old + ">" + now }

// contactsEverywhere is every contact (sharing with the user or in one of
// the user's aspects) and everyone the user has a conversation with.
func (h fedHost) contactsEverywhere(ctx context.Context) ([]federation.Recipient, error) {
	q := h.p.db.R
	var rs outboxRecipients
	guids, err := store.ContactGUIDs(ctx, q)
	if err != nil {
		return nil, err
	}
	rs.guids(guids)
	hs, err := store.ConversationPeople(ctx, q)
	if err != nil {
		return nil, err
	}
	rs.handles(hs)
	resolved, err := h.p.outboxResolve(ctx, rs)
	if err != nil {
		return nil, err
	}
	out := recipientsOf(resolved)
	slices.SortFunc(out, func(a, b federation.Recipient) int { return strings.Compare(a.Handle, b.Handle) })
	return out, nil
}
