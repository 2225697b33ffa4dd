package pod

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Following people who move (a received AccountMigration).
//
// The store shows the move (people.moved_to, sharing carried to the new
// identity, conversations open to it: pod/store/project_moves.go) and the
// outbox sends to the identity a recipient finally moved to
// (outboxResolve). What the user decided about the old identity, kept by
// person guid in the user's own sets, is carried over here with own ops,
// so it stays the user's to change: the aspects they were in (the new
// identity joins them, the old one leaves), blocks and ignores (the new
// identity is blocked and ignored too).

// followMoves carries the user's sets over for every account migration in
// a page just stored. Running it again finds nothing left to carry, so a
// page received twice (a crash before the relay's acknowledgement) is
// safe.
func (p *Pod) followMoves(ctx context.Context, es []entity.Entity) error {
	for _, e := range es {
		m, ok := e.(*entity.AccountMigration)
		if !ok {
			continue
		}
		if err := p.followMove(ctx, strings.ToLower(m.OldIdentity()), strings.ToLower(m.NewIdentity())); err != nil {
			return err
		}
	}
	return nil
}

// followMove carries the user's sets from the identity from to the one it
// moved to, when that move is the one the store holds (the first
// migration of from).
func (p *Pod) followMove(ctx context.Context, from, to string) error {
	moved := 0
	err := p.log.Write(ctx, func(w *store.Writer) error {
		moved = 0
		old, ok, err := store.PersonByHandle(ctx, w, from)
		if err != nil || !ok || old.MovedTo != to {
			return err
		}
		nw, ok, err := store.PersonByHandle(ctx, w, to)
		if err != nil {
			return err
		}
		if !ok || nw.GUID == old.GUID {
			// Not discovered (the engine discovers the signer before it
			// accepts a migration, so only a store without federation),
			// or the same person under a new handle: nothing keyed by
			// guid to carry.
			return nil
		}
		sets, err := store.SetsOf(ctx, w, old.GUID)
		if err != nil {
			return err
		}
		blocked, err := store.IsMember(ctx, w, store.SetBlocks, nw.GUID)
		if err != nil {
			return err
		}
		for _, set := range sets {
			aspect := strings.HasPrefix(set, "aspect/")
			if !aspect && set != store.SetBlocks && set != store.SetIgnores {
				continue
			}
			if aspect && !blocked || !aspect {
				in, err := store.IsMember(ctx, w, set, nw.GUID)
				if err != nil {
					return err
				}
				if !in {
					var op oplog.Body = oplog.SetAdd{Set: set, Member: nw.GUID}
					if aspect {
						op = oplog.AspectAdd{Aspect: strings.TrimPrefix(set, "aspect/"), Member: nw.GUID}
					}
					if _, err := w.Append(op); err != nil {
						return fmt.Errorf("carry %s of %s to %s: %w", set, from, to, err)
					}
				}
			}
			if aspect {
				tags, err := store.SetTags(ctx, w, set, old.GUID)
				if err != nil {
					return err
				}
				if _, err := w.Append(oplog.AspectRemove{Aspect: strings.TrimPrefix(set, "aspect/"), Member: old.GUID,
					Observed: oplog.Refs(tags)}); err != nil {
					return fmt.Errorf("take %s out of %s: %w", from, set, err)
				}
			}
			moved++
		}
		return nil
	})
	if err == nil && moved > 0 {
		slog.Info("followed a move", "from", from, "to", to, "sets", moved)
	}
	return err
}
