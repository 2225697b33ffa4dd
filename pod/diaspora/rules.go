package diaspora

import (
	"fmt"
	"slices"

	"seedpod/pod/diaspora/entity"
)

// VerifyEntity checks a bare entity (no envelope) as a receiver would after
// the envelope: parse and validate, then the related entity and the
// relayable or migration signature. There is no sender, so sender
// authorisation is not checked.
func VerifyEntity(payload []byte, keys KeyLookup, rel RelatedLookup) (entity.Entity, error) {
	if keys == nil {
		keys = Keys(nil)
	}
	if rel == nil {
		rel = NoRelated{}
	}
	e, err := entity.Parse(payload)
	if err != nil {
		return nil, reject(StageEntity, err)
	}
	if err := checkRelated(e, keys, rel, ""); err != nil {
		return nil, err
	}
	return e, nil
}

// relayableTargets are the retraction target types whose root author may
// retract them too (moderation of comments on one's own post).
var relayableTargets = []string{"Comment", "Like", "PollParticipation", "EventParticipation"}

// checkRelated runs the entity-specific checks of PROTOCOL.md §3.3 step 7
// and the sender rules of §7.4. An empty sender skips sender authorisation
// (VerifyEntity).
func checkRelated(e entity.Entity, keys KeyLookup, rel RelatedLookup, sender string) error {
	allowed := func(ok bool, who string) error {
		if sender == "" || ok {
			return nil
		}
		return reject(StageReceive, fmt.Errorf("%w: %s %s signed by %s, %s", ErrNotAllowed, e.Type(), guidOrAuthor(e), sender, who))
	}
	switch v := e.(type) {
	case entity.Relayable:
		parent, ok := rel.Related(v.ParentType(), v.ParentGUID())
		if !ok {
			return reject(StageEntity, fmt.Errorf("%w: %s %s, parent of %s %s", ErrRelatedUnknown, v.ParentType(), v.ParentGUID(), v.Type(), v.GUID()))
		}
		root := parent.root()
		// The root author's own relayable is covered by the envelope
		// signature; anyone else's must carry a valid author_signature.
		if v.Author() != root {
			pub, ok := keys.PublicKey(v.Author())
			if !ok {
				return reject(StageEntity, fmt.Errorf("%w: %s (author of %s %s)", ErrUnknownSender, v.Author(), v.Type(), v.GUID()))
			}
			if err := entity.VerifyAuthorSignature(v, pub); err != nil {
				return reject(StageEntity, err)
			}
		}
		return allowed(sender == root || (parent.Local && sender == v.Author()),
			fmt.Sprintf("but only the root author %s relays it (or its author, to the root author's pod)", root))

	case *entity.AccountMigration:
		signer := v.SignerID()
		pub, ok := keys.PublicKey(signer)
		if !ok {
			return reject(StageEntity, fmt.Errorf("%w: %s (must sign the account migration)", ErrUnknownSender, signer))
		}
		if err := v.VerifySignature(pub); err != nil {
			return reject(StageEntity, err)
		}
		return allowed(sender == v.Author(), "not its author "+v.Author())

	case *entity.Retraction:
		target, ok := rel.Related(v.TargetType(), v.TargetGUID())
		if !ok {
			return reject(StageEntity, fmt.Errorf("%w: retraction target %s %s", ErrRelatedUnknown, v.TargetType(), v.TargetGUID()))
		}
		if slices.Contains(relayableTargets, v.TargetType()) {
			return allowed(sender == target.Author || sender == target.root(),
				"neither the target's author "+target.Author+" nor its root author "+target.root())
		}
		return allowed(sender == target.Author, "not the target's author "+target.Author)

	case *entity.Reshare:
		if v.RootGUID() != "" {
			root, ok := rel.Related("Post", v.RootGUID())
			if !ok {
				return reject(StageEntity, fmt.Errorf("%w: reshared post %s", ErrRelatedUnknown, v.RootGUID()))
			}
			if root.Author != v.RootAuthor() {
				return reject(StageEntity, fmt.Errorf("%w: reshare %s names root author %s, the post's author is %s",
					entity.ErrInvalid, v.GUID(), v.RootAuthor(), root.Author))
			}
			if !root.Public {
				return reject(StageEntity, fmt.Errorf("%w: reshare %s of post %s, which is not public", entity.ErrInvalid, v.GUID(), v.RootGUID()))
			}
		}
		return allowed(sender == v.Author(), "not its author "+v.Author())

	case *entity.Participation:
		parent, ok := rel.Related(v.ParentType(), v.ParentGUID())
		if !ok {
			return reject(StageEntity, fmt.Errorf("%w: %s %s, parent of participation %s", ErrRelatedUnknown, v.ParentType(), v.ParentGUID(), v.GUID()))
		}
		if !parent.Local {
			return reject(StageEntity, fmt.Errorf("%w: participation %s in %s %s", ErrNotLocal, v.GUID(), v.ParentType(), v.ParentGUID()))
		}
		return allowed(sender == v.Author(), "not its author "+v.Author())
	}
	return allowed(sender == e.Author(), "not its author "+e.Author())
}

// privateOnly are entities that only ever travel privately: a public copy is
// either a leak or a forgery (PROTOCOL.md §12: Contact has no GUID or time,
// so a captured public one could be replayed at will).
var privateOnly = []string{"contact", "conversation", "message"}

// checkPublic is §3.3 step 9 for the public route, hardened: entities that
// are private by nature are refused too, and a relayable whose known parent
// is not public may not be spread on the public route (visibility
// escalation, §12).
func checkPublic(e entity.Entity, rel RelatedLookup) error {
	if slices.Contains(privateOnly, e.Type()) {
		return fmt.Errorf("%w: %s is only ever sent privately", ErrNotPublic, e.Type())
	}
	if !entity.AcceptableOnPublicRoute(e) {
		return fmt.Errorf("%w: %s %s has public=false", ErrNotPublic, e.Type(), guidOrAuthor(e))
	}
	if r, ok := e.(entity.Relayable); ok {
		if parent, known := rel.Related(r.ParentType(), r.ParentGUID()); known && !parent.Public {
			return fmt.Errorf("%w: %s %s is on %s %s, which is not public", ErrNotPublic, r.Type(), r.GUID(), r.ParentType(), r.ParentGUID())
		}
	}
	return nil
}

// checkRecipient binds a private delivery to the user it was delivered to
// (PROTOCOL.md §12: the reference does not).
func checkRecipient(e entity.Entity, recipient string) error {
	switch v := e.(type) {
	case *entity.Contact:
		if v.Recipient != recipient {
			return fmt.Errorf("%w: contact for %s delivered to %s", ErrWrongRecipient, v.Recipient, recipient)
		}
	case *entity.Conversation:
		if !slices.Contains(v.Participants, recipient) {
			return fmt.Errorf("%w: conversation %s does not include %s", ErrWrongRecipient, v.GUID(), recipient)
		}
	}
	return nil
}

func guidOrAuthor(e entity.Entity) string {
	if g := entity.GUIDOf(e); g != "" {
		return g
	}
	return "by " + e.Author()
}
