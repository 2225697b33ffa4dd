package pod

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// People: who the pod knows, how they look in API objects, contacts,
// blocks, ignores, followed tags and people search. Aspects are in
// aspects.go, the own profile in profile.go.
//
// For other areas: ShortPerson / ShortPersonIn build the v1 author object
// of a handle (mine too), MePerson the user's own, PersonByGUID and
// PersonByHandle read a people row, AspectMembers gives the recipients of
// aspects, IsMutual the conversation rule.

// peopleMediaPrefix is where the pod serves its content-addressed blobs
// (pod/media): prefix + sha256 hex.
const peopleMediaPrefix = "/api/seedpod/v1/media/"

// peopleMediaURL is the URL of a blob of the pod's media store.
func peopleMediaURL(ctx context.Context, sha string) string {
	if sha == "" {
		return ""
	}
	return absURL(ctx, peopleMediaPrefix+sha)
}

// peopleOwnAvatar reads the profile/avatar field: the URLs of its sizes, nil
// without an avatar.
func peopleOwnAvatar(ctx context.Context, q store.Querier) (*apiv1.PhotoSizes, error) {
	v, err := store.Field(ctx, q, "profile/avatar")
	if err != nil || v == "" {
		return nil, err
	}
	var a struct{ Small, Medium, Large, Raw string }
	if err := json.Unmarshal([]byte(v), &a); err != nil || a.Medium == "" && a.Large == "" && a.Raw == "" {
		return nil, nil // a broken field shows no avatar rather than failing every read
	}
	first := func(s ...string) string {
		for _, x := range s {
			if x != "" {
				return peopleMediaURL(ctx, x)
			}
		}
		return ""
	}
	return &apiv1.PhotoSizes{
		Small:  first(a.Small, a.Medium, a.Large, a.Raw),
		Medium: first(a.Medium, a.Large, a.Raw, a.Small),
		Large:  first(a.Large, a.Raw, a.Medium),
		Raw:    first(a.Raw, a.Large, a.Medium),
	}, nil
}

// peopleOwnName is the display name of the own profile (first and last name).
func peopleOwnName(ctx context.Context, q store.Querier) (string, error) {
	first, err := store.Field(ctx, q, "profile/first_name")
	if err != nil {
		return "", err
	}
	last, err := store.Field(ctx, q, "profile/last_name")
	if err != nil {
		return "", err
	}
	return joinName(first, last), nil
}

// MePersonIn is the user's own short person (identity guid and handle,
// profile name, medium avatar) read through q: p.DB().R, or a *store.Tx /
// *store.Writer inside a write. ErrNoIdentity before the identity exists.
func MePersonIn(ctx context.Context, q store.Querier) (apiv1.Person, error) {
	me, err := peopleReadMe(ctx, q)
	if err != nil {
		return apiv1.Person{}, err
	}
	if !me.Exists() {
		return apiv1.Person{}, fmt.Errorf("%w: create the identity first", ErrNoIdentity)
	}
	name, err := peopleOwnName(ctx, q)
	if err != nil {
		return apiv1.Person{}, err
	}
	out := apiv1.Person{GUID: me.GUID, DiasporaID: me.Handle(), Name: name}
	av, err := peopleOwnAvatar(ctx, q)
	if err != nil {
		return apiv1.Person{}, err
	}
	if av != nil {
		out.Avatar = av.Medium
	}
	return out, nil
}

// MePerson is the user's own short person; see MePersonIn.
func (p *Pod) MePerson(ctx context.Context) (apiv1.Person, error) { return MePersonIn(ctx, p.db.R) }

func peopleReadMe(ctx context.Context, q store.Querier) (store.Me, error) {
	var m store.Me
	var err error
	if m.GUID, err = store.Field(ctx, q, "identity/guid"); err != nil {
		return m, err
	}
	if m.Username, err = store.Field(ctx, q, "identity/username"); err != nil {
		return m, err
	}
	if m.Domain, err = store.Field(ctx, q, "identity/domain"); err != nil {
		return m, err
	}
	m.Former, err = store.Members(ctx, q, store.FormerIDsSet)
	return m, err
}

// ShortPersonOf is the v1 short person of a people row.
func ShortPersonOf(sp store.Person) apiv1.Person {
	return apiv1.Person{GUID: sp.GUID, DiasporaID: sp.Handle, Name: sp.Name, Avatar: sp.AvatarMedium}
}

// ShortPersonIn is the v1 short person ("author") of a diaspora* ID, read
// through q (p.DB().R, or a *store.Tx / *store.Writer inside a write).
// "" or the user's own handle give MePersonIn. A handle the pod does not
// know gives a person with only the diaspora ID (guid "") and no error, so
// a list never fails on one missing person record.
func ShortPersonIn(ctx context.Context, q store.Querier, handle string) (apiv1.Person, error) {
	handle = strings.ToLower(handle)
	if handle == "" {
		return MePersonIn(ctx, q)
	}
	sp, ok, err := store.PersonByHandle(ctx, q, handle)
	if err != nil {
		return apiv1.Person{}, err
	}
	if ok {
		return ShortPersonOf(sp), nil
	}
	me, err := peopleReadMe(ctx, q)
	if err != nil {
		return apiv1.Person{}, err
	}
	if me.IsMe(handle) {
		return MePersonIn(ctx, q)
	}
	return apiv1.Person{DiasporaID: handle}, nil
}

// ShortPerson is ShortPersonIn on the reader pool.
func (p *Pod) ShortPerson(ctx context.Context, handle string) (apiv1.Person, error) {
	return ShortPersonIn(ctx, p.db.R, handle)
}

// ShortPersonByGUIDIn is the v1 short person of a person guid (mine too);
// an unknown guid gives a person with only the guid.
func ShortPersonByGUIDIn(ctx context.Context, q store.Querier, guid string) (apiv1.Person, error) {
	sp, ok, err := store.PersonByGUID(ctx, q, guid)
	if err != nil {
		return apiv1.Person{}, err
	}
	if ok {
		return ShortPersonOf(sp), nil
	}
	me, err := peopleReadMe(ctx, q)
	if err != nil {
		return apiv1.Person{}, err
	}
	if me.Exists() && guid == me.GUID {
		return MePersonIn(ctx, q)
	}
	return apiv1.Person{GUID: guid}, nil
}

// PersonByGUID reads a known person (ErrNotFound otherwise).
func (p *Pod) PersonByGUID(ctx context.Context, guid string) (store.Person, error) {
	sp, ok, err := store.PersonByGUID(ctx, p.db.R, guid)
	if err != nil {
		return sp, err
	}
	if !ok {
		return sp, fmt.Errorf("%w: no person with guid %q", ErrNotFound, guid)
	}
	return sp, nil
}

// PersonByHandle reads a known person by diaspora* ID (ErrNotFound
// otherwise).
func (p *Pod) PersonByHandle(ctx context.Context, handle string) (store.Person, error) {
	sp, ok, err := store.PersonByHandle(ctx, p.db.R, handle)
	if err != nil {
		return sp, err
	}
	if !ok {
		return sp, fmt.Errorf("%w: no person %q", ErrNotFound, handle)
	}
	return sp, nil
}

// AspectMembers are the person guids in any of the aspects (sorted,
// unique): the recipients of a limited post. Inside a write use
// store.AspectMembers(ctx, w, ids).
func (p *Pod) AspectMembers(ctx context.Context, ids []int64) ([]string, error) {
	return store.AspectMembers(ctx, p.db.R, ids)
}

// IsMutual reports whether I share with the person guid and they with me.
// Inside a write use store.IsMutual(ctx, w, guid).
func (p *Pod) IsMutual(ctx context.Context, guid string) (bool, error) {
	return store.IsMutual(ctx, p.db.R, guid)
}

// --- other people's profiles -------------------------------------------

// User is GET /users/:guid: the own profile for my guid, else another's.
type User struct {
	Own   *apiv1.OwnProfile
	Other *apiv1.OtherProfile
}

// User reads a profile by person guid (ErrNotFound for unknown people).
// The details (birthday, gender, location, bio) of someone else are shown
// when their profile is public or they share with me.
func (p *Pod) User(ctx context.Context, guid string) (User, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return User{}, err
	}
	if me.Exists() && guid == me.GUID {
		own, err := p.OwnProfile(ctx)
		if err != nil {
			return User{}, err
		}
		return User{Own: &own}, nil
	}
	sp, ok, err := store.PersonByGUID(ctx, p.db.R, guid)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, fmt.Errorf("%w: user not found", ErrNotFound)
	}
	rel, err := store.ContactOf(ctx, p.db.R, guid)
	if err != nil {
		return User{}, err
	}
	blocked, err := store.IsMember(ctx, p.db.R, store.SetBlocks, guid)
	if err != nil {
		return User{}, err
	}
	ignored, err := store.IsMember(ctx, p.db.R, store.SetIgnores, guid)
	if err != nil {
		return User{}, err
	}
	aspects, err := store.AspectsOf(ctx, p.db.R, guid)
	if err != nil {
		return User{}, err
	}
	o := apiv1.OtherProfile{GUID: sp.GUID, DiasporaID: sp.Handle, Name: sp.Name, Tags: sp.Tags, Blocked: blocked, Ignored: ignored,
		Closed: sp.Closed, MovedTo: sp.MovedTo, Relationship: apiv1.Relationship{Receiving: rel.Receiving, Sharing: rel.Sharing}}
	if sp.AvatarMedium != "" {
		o.Avatar = &apiv1.PhotoSizes{Small: sp.AvatarSmall, Medium: sp.AvatarMedium, Large: sp.AvatarLarge, Raw: sp.AvatarLarge}
	}
	if sp.PublicDetails || rel.Sharing {
		d := apiv1.ProfileDetails{Location: sp.Location, Bio: sp.Bio}
		if bd, err := apiv1.ParseDate(sp.Birthday); err == nil {
			d.Birthday = bd
		}
		if sp.Gender != "" {
			g := sp.Gender
			d.Gender = &g
		}
		o.ProfileDetails = &d
	}
	for _, a := range aspects {
		o.Aspects = append(o.Aspects, apiv1.AspectRef{ID: a.ID, Name: a.Name})
	}
	return User{Other: &o}, nil
}

// peopleShortList turns listed people into v1 short persons.
func peopleShortList(ls []store.Listed) []apiv1.Person {
	out := make([]apiv1.Person, 0, len(ls))
	for _, l := range ls {
		if l.Known {
			out = append(out, ShortPersonOf(l.Person))
		} else {
			out = append(out, apiv1.Person{GUID: l.GUID})
		}
	}
	return out
}

// peoplePage cuts the PerPage+1 rows a query read: the page and whether more follow.
func peoplePage[T any](rows []T, pg apiv1.IndexPage) ([]T, bool) {
	if len(rows) > pg.PerPage {
		return rows[:pg.PerPage], true
	}
	return rows, false
}

// UserContacts is GET /users/:guid/contacts: all my contacts sorted by
// name, for my own guid only (ErrNotFound for any other).
func (p *Pod) UserContacts(ctx context.Context, guid string, pg apiv1.IndexPage) ([]apiv1.Person, bool, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return nil, false, err
	}
	if !me.Exists() || guid != me.GUID {
		return nil, false, fmt.Errorf("%w: user not found", ErrNotFound)
	}
	ls, err := store.Contacts(ctx, p.db.R, store.ContactFilter{}, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	ls, more := peoplePage(ls, pg)
	return peopleShortList(ls), more, nil
}

// ContactEntry is one contact of the Seedpod contacts list.
type ContactEntry struct {
	Person       apiv1.Person       `json:"person"`
	Relationship apiv1.Relationship `json:"relationship"`
	Aspects      []apiv1.AspectRef  `json:"aspects"`
	// Closed: their account is closed; MovedTo: the diaspora* ID they
	// moved to (their aspects follow them there).
	Closed  bool   `json:"closed,omitempty"`
	MovedTo string `json:"moved_to,omitempty"`
}

// Contacts is GET /api/seedpod/v1/contacts: my contacts with their
// relationship and aspects, filtered by relationship ("", mutual, sharing,
// receiving) and aspect (0 for any), sorted by name.
func (p *Pod) Contacts(ctx context.Context, relationship string, aspect int64, pg apiv1.IndexPage) ([]ContactEntry, bool, error) {
	switch relationship {
	case "", "mutual", "sharing", "receiving":
	default:
		return nil, false, fmt.Errorf("%w: relationship must be mutual, sharing or receiving", ErrInvalid)
	}
	if aspect != 0 {
		if _, ok, err := store.AspectByID(ctx, p.db.R, aspect); err != nil {
			return nil, false, err
		} else if !ok {
			return nil, false, fmt.Errorf("%w: no aspect %d", ErrInvalid, aspect)
		}
	}
	ls, err := store.Contacts(ctx, p.db.R, store.ContactFilter{Relationship: relationship, Aspect: aspect}, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	ls, more := peoplePage(ls, pg)
	people := peopleShortList(ls)
	out := make([]ContactEntry, len(ls))
	for i, l := range ls {
		as, err := store.AspectsOf(ctx, p.db.R, l.GUID)
		if err != nil {
			return nil, false, err
		}
		refs := make([]apiv1.AspectRef, 0, len(as))
		for _, a := range as {
			refs = append(refs, apiv1.AspectRef{ID: a.ID, Name: a.Name})
		}
		out[i] = ContactEntry{Person: people[i], Aspects: refs, Closed: l.Person.Closed, MovedTo: l.Person.MovedTo,
			Relationship: apiv1.Relationship{Receiving: l.Relationship.Receiving, Sharing: l.Relationship.Sharing}}
	}
	return out, more, nil
}

// --- blocks and ignores ------------------------------------------------

// peopleSetAdd adds member to an observed-remove set, ErrConflict when it is
// there already.
func peopleSetAdd(w *store.Writer, set, member, what string) error {
	in, err := store.IsMember(w.Ctx(), w, set, member)
	if err != nil {
		return err
	}
	if in {
		return fmt.Errorf("%w: %s already", ErrConflict, what)
	}
	_, err = w.Append(oplog.SetAdd{Set: set, Member: member})
	return err
}

// peopleSetRemove removes member with the add tags it sees, ErrGone when
// it is not there.
func peopleSetRemove(w *store.Writer, set, member, what string) error {
	tags, err := store.SetTags(w.Ctx(), w, set, member)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return fmt.Errorf("%w: not %s", ErrGone, what)
	}
	_, err = w.Append(oplog.SetRemove{Set: set, Member: member, Observed: oplog.Refs(tags)})
	return err
}

// peopleKnown checks that guid is someone the pod knows and not me.
func peopleKnown(w *store.Writer, guid string) error {
	me, err := w.Me()
	if err != nil {
		return err
	}
	if !me.Exists() {
		return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
	}
	if guid == me.GUID {
		return fmt.Errorf("%w: that is you", ErrInvalid)
	}
	if _, ok, err := store.PersonByGUID(w.Ctx(), w, guid); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: user not found", ErrNotFound)
	}
	return nil
}

// Block blocks a person: they leave every aspect (as diaspora does) and
// their content is hidden. ErrConflict when blocked already, ErrNotFound
// for an unknown person.
func (p *Pod) Block(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if err := peopleKnown(w, guid); err != nil {
			return err
		}
		if err := peopleSetAdd(w, store.SetBlocks, guid, "blocked"); err != nil {
			return err
		}
		aspects, err := store.AspectsOf(ctx, w, guid)
		if err != nil {
			return err
		}
		for _, a := range aspects {
			if err := aspectRemoveMember(w, a.ID, guid); err != nil {
				return err
			}
		}
		return nil
	})
}

// Unblock removes a block. ErrGone when not blocked; ErrNotFound for an
// unknown person who is not blocked either.
func (p *Pod) Unblock(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		in, err := store.IsMember(ctx, w, store.SetBlocks, guid)
		if err != nil {
			return err
		}
		if !in {
			if err := peopleKnown(w, guid); err != nil {
				return err
			}
		}
		return peopleSetRemove(w, store.SetBlocks, guid, "blocked")
	})
}

// Ignore hides a person's posts from my streams (Seedpod extension).
// ErrConflict when ignored already.
func (p *Pod) Ignore(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if err := peopleKnown(w, guid); err != nil {
			return err
		}
		return peopleSetAdd(w, store.SetIgnores, guid, "ignored")
	})
}

// Unignore undoes Ignore. ErrGone when not ignored.
func (p *Pod) Unignore(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		in, err := store.IsMember(ctx, w, store.SetIgnores, guid)
		if err != nil {
			return err
		}
		if !in {
			if err := peopleKnown(w, guid); err != nil {
				return err
			}
		}
		return peopleSetRemove(w, store.SetIgnores, guid, "ignored")
	})
}

// --- followed tags -----------------------------------------------------

// NormalizeTag makes a tag as diaspora stores it: surrounding space and
// leading '#' dropped, lowercase. ErrInvalid when it is blank or not a
// single tag of diaspora's tag alphabet.
func NormalizeTag(raw string) (string, error) {
	t := strings.ToLower(strings.TrimLeft(strings.TrimSpace(raw), "#"))
	if t == "" {
		return "", fmt.Errorf("%w: the tag is blank", ErrInvalid)
	}
	if tags := markup.Tags("#" + t); len(tags) != 1 || tags[0] != t {
		return "", fmt.Errorf("%w: %q is not a tag (letters, digits, '_' and '-' only)", ErrInvalid, peopleClip(raw))
	}
	return t, nil
}

func peopleClip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// TagFollowings lists the followed tags, sorted.
func (p *Pod) TagFollowings(ctx context.Context) ([]string, error) {
	tags, err := store.Members(ctx, p.db.R, store.SetFollowedTags)
	if tags == nil {
		tags = []string{}
	}
	return tags, err
}

// FollowTag follows a tag. ErrConflict when followed already.
func (p *Pod) FollowTag(ctx context.Context, name string) error {
	t, err := NormalizeTag(name)
	if err != nil {
		return err
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		return peopleSetAdd(w, store.SetFollowedTags, t, "following #"+t)
	})
}

// UnfollowTag stops following a tag. ErrGone when not followed.
func (p *Pod) UnfollowTag(ctx context.Context, name string) error {
	t := strings.ToLower(strings.TrimLeft(strings.TrimSpace(name), "#"))
	return p.log.Write(ctx, func(w *store.Writer) error {
		return peopleSetRemove(w, store.SetFollowedTags, t, "following #"+t)
	})
}

// --- search ------------------------------------------------------------

// SearchUsers is GET /search/users: exactly one of nameOrHandle and tag,
// and filters ("contacts", "contacts:receiving", "contacts:sharing",
// "aspect:<id>[,<id>…]"), AND-ed.
func (p *Pod) SearchUsers(ctx context.Context, nameOrHandle, tag string, filters []string, pg apiv1.IndexPage) ([]apiv1.Person, bool, error) {
	nameOrHandle, tag = strings.TrimSpace(nameOrHandle), strings.TrimSpace(tag)
	if (nameOrHandle == "") == (tag == "") {
		return nil, false, fmt.Errorf("%w: give exactly one of name_or_handle and tag", ErrInvalid)
	}
	s := store.PeopleSearch{NameOrHandle: nameOrHandle}
	if tag != "" {
		t, err := NormalizeTag(tag)
		if err != nil {
			return nil, false, err
		}
		s.Tag = t
	}
	if len([]rune(nameOrHandle)) > 255 {
		return nil, false, fmt.Errorf("%w: name_or_handle is too long", ErrInvalid)
	}
	for _, f := range filters {
		switch {
		case f == "contacts":
			s.Contacts = true
		case f == "contacts:receiving":
			s.Receiving = true
		case f == "contacts:sharing":
			s.Sharing = true
		case strings.HasPrefix(f, "aspect:"):
			var ids []int64
			for part := range strings.SplitSeq(strings.TrimPrefix(f, "aspect:"), ",") {
				id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
				if err != nil {
					return nil, false, fmt.Errorf("%w: invalid filter %q", ErrInvalid, peopleClip(f))
				}
				if _, ok, err := store.AspectByID(ctx, p.db.R, id); err != nil {
					return nil, false, err
				} else if !ok {
					return nil, false, fmt.Errorf("%w: no aspect %d", ErrInvalid, id)
				}
				ids = append(ids, id)
			}
			s.Aspects = append(s.Aspects, ids)
		default:
			return nil, false, fmt.Errorf("%w: invalid filter %q", ErrInvalid, peopleClip(f))
		}
	}
	ls, err := store.SearchPeople(ctx, p.db.R, s, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	ls, more := peoplePage(ls, pg)
	return peopleShortList(ls), more, nil
}

// SearchTags is GET /search/tags: known tags starting with query
// (lowercase, '#' dropped), sorted.
func (p *Pod) SearchTags(ctx context.Context, query string, pg apiv1.IndexPage) ([]string, bool, error) {
	q := strings.ToLower(strings.TrimLeft(strings.TrimSpace(query), "#"))
	if q == "" {
		return nil, false, fmt.Errorf("%w: query is required", ErrInvalid)
	}
	tags, err := store.SearchTags(ctx, p.db.R, q, pg.Offset(), pg.PerPage+1)
	if err != nil {
		return nil, false, err
	}
	tags, more := peoplePage(tags, pg)
	if tags == nil {
		tags = []string{}
	}
	return tags, more, nil
}
