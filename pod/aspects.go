package pod

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"seedpod/pod/apiv1"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Aspects and their members (API.md §3.7). Names are unique among the
// live aspects, case-insensitively; order is a position renumbered 0..n-1
// when an aspect moves. Adding someone to an aspect starts sharing with
// them, removing them from their last one stops it (the contacts
// projection derives both; the outbox federates the Contact).

// MaxAspectName is diaspora's limit on aspect names (Aspect validates
// length ≤ 255).
const MaxAspectName = 255

// firstNewAspectID: ids below are the seeded ones (1–4) and reserved.
const firstNewAspectID = 1000

func apiAspect(a store.Aspect) apiv1.Aspect {
	return apiv1.Aspect{ID: a.ID, Name: a.Name, Order: a.Order}
}

// Aspects lists the aspects in order (index-paged): the page and whether
// more follow.
func (p *Pod) Aspects(ctx context.Context, pg apiv1.IndexPage) ([]apiv1.Aspect, bool, error) {
	as, err := store.Aspects(ctx, p.db.R)
	if err != nil {
		return nil, false, err
	}
	out := []apiv1.Aspect{}
	for i, a := range as {
		if i >= pg.Offset() && len(out) < pg.PerPage {
			out = append(out, apiAspect(a))
		}
	}
	return out, len(as) > pg.Offset()+pg.PerPage, nil
}

// Aspect reads one aspect (ErrNotFound when there is none).
func (p *Pod) Aspect(ctx context.Context, id int64) (apiv1.Aspect, error) {
	a, err := aspectOrNotFound(ctx, p.db.R, id)
	return apiAspect(a), err
}

func aspectOrNotFound(ctx context.Context, q store.Querier, id int64) (store.Aspect, error) {
	a, ok, err := store.AspectByID(ctx, q, id)
	if err != nil {
		return a, err
	}
	if !ok {
		return a, fmt.Errorf("%w: aspect not found", ErrNotFound)
	}
	return a, nil
}

// checkAspectName validates a new name for aspect id (0 for a new aspect):
// 1–255 characters, not a name another live aspect has (any case).
func checkAspectName(ctx context.Context, q store.Querier, name string, id int64) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: the aspect needs a name", ErrInvalid)
	}
	if err := checkText("aspect name", name, MaxAspectName); err != nil {
		return "", err
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return "", fmt.Errorf("%w: an aspect name is one line", ErrInvalid)
	}
	as, err := store.Aspects(ctx, q)
	if err != nil {
		return "", err
	}
	for _, a := range as {
		if a.ID != id && strings.EqualFold(a.Name, name) {
			return "", fmt.Errorf("%w: there is an aspect named %q already", ErrInvalid, a.Name)
		}
	}
	return name, nil
}

// CreateAspect adds an aspect at the end of the list.
func (p *Pod) CreateAspect(ctx context.Context, name string) (apiv1.Aspect, error) {
	var out apiv1.Aspect
	err := p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if !me.Exists() {
			return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
		}
		name, err := checkAspectName(ctx, w, name, 0)
		if err != nil {
			return err
		}
		as, err := store.Aspects(ctx, w)
		if err != nil {
			return err
		}
		order := 0
		for _, a := range as {
			order = max(order, a.Order+1)
		}
		var id int64
		for {
			var b [8]byte
			rand.Read(b[:])
			id = firstNewAspectID + int64(binary.BigEndian.Uint64(b[:])%(1<<31-firstNewAspectID))
			used, err := store.AspectIDUsed(ctx, w, id)
			if err != nil {
				return err
			}
			if !used {
				break
			}
		}
		key := "aspect/" + strconv.FormatInt(id, 10)
		if _, err := w.Append(oplog.SetField{Key: key + "/name", Value: name}); err != nil {
			return err
		}
		if _, err := w.Append(oplog.SetField{Key: key + "/order", Value: strconv.Itoa(order)}); err != nil {
			return err
		}
		out = apiv1.Aspect{ID: id, Name: name, Order: order}
		return nil
	})
	return out, err
}

// AspectUpdate changes an aspect: a new name, a new position, or both.
type AspectUpdate struct {
	Name  *string
	Order *int
}

// UpdateAspect renames or moves an aspect. Moving it to position n (clamped
// to the list) renumbers every aspect 0..len-1 in the new order; only the
// order fields that change are written.
func (p *Pod) UpdateAspect(ctx context.Context, id int64, u AspectUpdate) (apiv1.Aspect, error) {
	var out apiv1.Aspect
	err := p.log.Write(ctx, func(w *store.Writer) error {
		a, err := aspectOrNotFound(ctx, w, id)
		if err != nil {
			return err
		}
		key := "aspect/" + strconv.FormatInt(id, 10)
		var newName string
		if u.Name != nil {
			if newName, err = checkAspectName(ctx, w, *u.Name, id); err != nil {
				return err
			}
		}
		if u.Order != nil && *u.Order < 0 {
			return fmt.Errorf("%w: order must not be negative", ErrInvalid)
		}
		if u.Name != nil && newName != a.Name {
			if _, err := w.Append(oplog.SetField{Key: key + "/name", Value: newName}); err != nil {
				return err
			}
		}
		if u.Order != nil {
			as, err := store.Aspects(ctx, w)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(as, func(x store.Aspect) bool { return x.ID == id })
			moved := as[i]
			as = slices.Delete(as, i, i+1)
			pos := min(*u.Order, len(as))
			as = slices.Insert(as, pos, moved)
			for n, x := range as {
				if x.Order == n {
					continue
				}
				if _, err := w.Append(oplog.SetField{Key: "aspect/" + strconv.FormatInt(x.ID, 10) + "/order",
					Value: strconv.Itoa(n)}); err != nil {
					return err
				}
			}
		}
		a, err = aspectOrNotFound(ctx, w, id)
		out = apiAspect(a)
		return err
	})
	return out, err
}

// DeleteAspect deletes an aspect (its name field emptied). Its members
// stay in the set, but the contacts projection counts only aspects that
// exist, so whoever was only in it stops receiving.
func (p *Pod) DeleteAspect(ctx context.Context, id int64) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := aspectOrNotFound(ctx, w, id); err != nil {
			return err
		}
		_, err := w.Append(oplog.SetField{Key: "aspect/" + strconv.FormatInt(id, 10) + "/name", Value: ""})
		return err
	})
}

// AspectContacts lists an aspect's members sorted by name (index-paged).
func (p *Pod) AspectContacts(ctx context.Context, id int64, pg apiv1.IndexPage) ([]apiv1.Person, bool, error) {
	if _, err := aspectOrNotFound(ctx, p.db.R, id); err != nil {
		return nil, false, err
	}
	ls, err := store.AspectContacts(ctx, p.db.R, id, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	ls, more := peoplePage(ls, pg)
	return peopleShortList(ls), more, nil
}

// AddToAspect puts a known person in an aspect (and so starts sharing with
// them). ErrNotFound for an unknown aspect; ErrInvalid for an unknown or
// blocked person, myself, or someone in the aspect already (v1 answers 422,
// not 409).
func (p *Pod) AddToAspect(ctx context.Context, id int64, personGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := aspectOrNotFound(ctx, w, id); err != nil {
			return err
		}
		if personGUID == "" {
			return fmt.Errorf("%w: person_guid is required", ErrInvalid)
		}
		me, err := w.Me()
		if err != nil {
			return err
		}
		if personGUID == me.GUID {
			return fmt.Errorf("%w: you cannot add yourself to an aspect", ErrInvalid)
		}
		if _, ok, err := store.PersonByGUID(ctx, w, personGUID); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: person not found", ErrInvalid)
		}
		if blocked, err := store.IsMember(ctx, w, store.SetBlocks, personGUID); err != nil {
			return err
		} else if blocked {
			return fmt.Errorf("%w: you block this person; unblock them first", ErrInvalid)
		}
		set := store.AspectSetName(id)
		if in, err := store.IsMember(ctx, w, set, personGUID); err != nil {
			return err
		} else if in {
			return fmt.Errorf("%w: the person is in this aspect already", ErrInvalid)
		}
		_, err = w.Append(oplog.AspectAdd{Aspect: strconv.FormatInt(id, 10), Member: personGUID})
		return err
	})
}

// RemoveFromAspect takes a person out of an aspect, removing the add tags
// it observed (a concurrent add on another device survives). ErrNotFound
// for an unknown aspect, ErrInvalid when they are not in it.
func (p *Pod) RemoveFromAspect(ctx context.Context, id int64, personGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := aspectOrNotFound(ctx, w, id); err != nil {
			return err
		}
		in, err := store.IsMember(ctx, w, store.AspectSetName(id), personGUID)
		if err != nil {
			return err
		}
		if !in {
			return fmt.Errorf("%w: the person is not in this aspect", ErrInvalid)
		}
		return aspectRemoveMember(w, id, personGUID)
	})
}

// aspectRemoveMember appends the AspectRemove of a member with the tags it
// observes.
func aspectRemoveMember(w *store.Writer, id int64, guid string) error {
	tags, err := store.SetTags(w.Ctx(), w, store.AspectSetName(id), guid)
	if err != nil || len(tags) == 0 {
		return err
	}
	_, err = w.Append(oplog.AspectRemove{Aspect: strconv.FormatInt(id, 10), Member: guid, Observed: oplog.Refs(tags)})
	return err
}
