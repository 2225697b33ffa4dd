package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"seedpod/pod/diaspora/entity"
)

// People, aspects and contacts projections. Owned by the people area.
//
// Rules (each a pure function of the fold, so any op order gives the same
// rows):
//
//   - aspects: a row per aspect whose aspect/<id>/name field is not empty,
//     ord from aspect/<id>/order (0 when unset or not a number).
//   - people: one row per handle that has at least one "person" record
//     (only those carry the guid and key). The newest record wins, by
//     (fetched_at, payload hash). The profile part comes from the newest
//     of that record and the handle's profile entities, compared by
//     (time, kind, payload hash) where time is the record's fetched_at or
//     the entity's edited_at (ms), and a profile entity beats a person
//     record of the same millisecond (it is the fuller source). So an older
//     profile never overrides a newer one, whatever arrives last.
//     sharing comes from the handle's newest Contact entity by the stamp of
//     the op that recorded it (wall, logical, device, epoch, seq): it says
//     so when its sharing flag is set and it does not block.
//     closed says a received account_deletion by the handle exists; a
//     closed person does not share.
//     If two handles claim one guid, the handle with the newer person
//     record holds it (same order as above); the other has no row.
//   - contacts: a row per person guid that is a live member of at least one
//     existing aspect (receiving) or whose people row says sharing.

// aspectMemberGUIDs are every guid ever added to an aspect's set.
func (tx *Tx) aspectMemberGUIDs(id string) ([]string, error) {
	rows, err := tx.QueryContext(tx.ctx, "SELECT DISTINCT member FROM st_set_adds WHERE name = ?", "aspect/"+id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// projectAspect recomputes the aspects row of one aspect id from the
// aspect/<id>/name and aspect/<id>/order fields, and the contacts of its
// members (receiving depends on the aspect existing).
func (tx *Tx) projectAspect(id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil // not an aspect id this code made: nothing to show
	}
	name, err := Field(tx.ctx, tx, "aspect/"+id+"/name")
	if err != nil {
		return err
	}
	ordText, err := Field(tx.ctx, tx, "aspect/"+id+"/order")
	if err != nil {
		return err
	}
	ord, _ := strconv.Atoi(ordText)
	if name == "" {
		_, err = tx.ExecContext(tx.ctx, "DELETE FROM aspects WHERE id = ?", n)
	} else {
		_, err = tx.ExecContext(tx.ctx, `INSERT INTO aspects (id, name, ord) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, ord = excluded.ord`, n, name, ord)
	}
	if err != nil {
		return fmt.Errorf("project aspect %s: %w", id, err)
	}
	members, err := tx.aspectMemberGUIDs(id)
	if err != nil {
		return fmt.Errorf("project aspect %s: %w", id, err)
	}
	for _, g := range members {
		if err := tx.projectContact(g); err != nil {
			return err
		}
	}
	return nil
}

// projectContact recomputes the contacts row of one person guid from
// aspect membership (receiving) and their Contact entities (sharing, held
// by their people row).
func (tx *Tx) projectContact(personGUID string) error {
	var receiving, sharing bool
	err := tx.QueryRowContext(tx.ctx, `SELECT
		EXISTS (SELECT 1 FROM st_set_adds s JOIN aspects a ON s.name = 'aspect/' || a.id WHERE s.member = ? AND s.live = 1),
		coalesce((SELECT sharing FROM people WHERE guid = ?), 0)`, personGUID, personGUID).Scan(&receiving, &sharing)
	if err != nil {
		return fmt.Errorf("project contact %s: %w", personGUID, err)
	}
	if receiving || sharing {
		_, err = tx.ExecContext(tx.ctx, `INSERT INTO contacts (person_guid, receiving, sharing) VALUES (?, ?, ?)
			ON CONFLICT (person_guid) DO UPDATE SET receiving = excluded.receiving, sharing = excluded.sharing`,
			personGUID, receiving, sharing)
	} else {
		_, err = tx.ExecContext(tx.ctx, "DELETE FROM contacts WHERE person_guid = ?", personGUID)
	}
	if err != nil {
		return fmt.Errorf("project contact %s: %w", personGUID, err)
	}
	return nil
}

// personSource is one candidate for a person's profile: a person record or
// a profile entity, ordered by (at, kind, hash).
type personSource struct {
	at      int64 // ms: fetched_at or edited_at
	profile bool  // a profile entity (beats a record of the same ms)
	hash    string
}

func (a personSource) newer(b personSource) bool {
	if a.at != b.at {
		return a.at > b.at
	}
	if a.profile != b.profile {
		return a.profile
	}
	return a.hash > b.hash
}

// personState is what the fold says about one handle.
type personState struct {
	record    PersonRecord // the newest person record
	recordKey personSource
	hasRecord bool
	row       Person // the row to write (when hasRecord)
	// closed: the handle's account is closed (authorClosed): the row says
	// so, and it does not share.
	closed bool
}

// readPersonState computes the people row of a handle from its received
// records.
func (tx *Tx) readPersonState(handle string) (personState, error) {
	var st personState
	rows, err := tx.QueryContext(tx.ctx, `SELECT entity_type, payload_hash, payload FROM st_received
		WHERE author = ? AND entity_type IN (?, ?)`, handle, EntityPerson, EntityProfile)
	if err != nil {
		return st, err
	}
	var profile *entity.Profile
	var profileKey personSource
	for rows.Next() {
		var typ, hash, payload string
		if err := rows.Scan(&typ, &hash, &payload); err != nil {
			rows.Close()
			return st, err
		}
		switch typ {
		case EntityPerson:
			rec, err := DecodePersonRecord([]byte(payload))
			if err != nil || strings.ToLower(rec.DiasporaID) != handle {
				continue // not one this code can use
			}
			k := personSource{at: rec.FetchedAt, hash: hash}
			if !st.hasRecord || k.newer(st.recordKey) {
				st.record, st.recordKey, st.hasRecord = rec, k, true
			}
		case EntityProfile:
			e, err := entity.Parse([]byte(payload))
			if err != nil {
				continue
			}
			p, ok := e.(*entity.Profile)
			if !ok {
				continue
			}
			k := personSource{at: p.EditedAt.UnixMilli(), profile: true, hash: hash}
			if p.EditedAt.IsZero() {
				k.at = 0
			}
			if profile == nil || k.newer(profileKey) {
				profile, profileKey = p, k
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	if !st.hasRecord {
		return st, nil
	}
	rec := st.record
	r := Person{GUID: rec.GUID, Handle: handle, PublicKey: rec.PublicKey}
	if profile != nil && profileKey.newer(st.recordKey) {
		r.FirstName, r.LastName = profile.FirstName, profile.LastName
		r.Name = strings.TrimSpace(profile.FullName)
		r.AvatarLarge = peopleResolveAvatar(handle, profile.ImageURL)
		r.AvatarMedium = peopleResolveAvatar(handle, profile.ImageURLMedium)
		r.AvatarSmall = peopleResolveAvatar(handle, profile.ImageURLSmall)
		r.Bio, r.Location, r.Gender = profile.Bio, profile.Location, profile.Gender
		r.Birthday = profileBirthday(profile.Birthday)
		r.Tags = profileTags(strings.Fields(profile.TagString))
		r.Searchable, r.NSFW, r.PublicDetails = profile.Searchable, profile.NSFW, profile.Public
		r.UpdatedAt = profileKey.at
	} else {
		r.FirstName, r.LastName = rec.FirstName, rec.LastName
		r.AvatarLarge = peopleResolveAvatar(handle, rec.AvatarLarge)
		r.AvatarMedium = peopleResolveAvatar(handle, rec.AvatarMedium)
		r.AvatarSmall = peopleResolveAvatar(handle, rec.AvatarSmall)
		r.Bio, r.Location, r.Gender = rec.Bio, rec.Location, rec.Gender
		r.Birthday = profileBirthday(rec.Birthday)
		r.Tags = profileTags(rec.Tags)
		r.Searchable, r.NSFW, r.PublicDetails = rec.Searchable, rec.NSFW, rec.PublicDetails
		r.UpdatedAt = rec.FetchedAt
	}
	if r.Name == "" {
		r.Name = strings.TrimSpace(strings.TrimSpace(r.FirstName) + " " + strings.TrimSpace(r.LastName))
	}
	// Missing sizes stand in for each other, largest first for the medium
	// one (what the API shows).
	r.AvatarMedium = peopleFirstNonEmpty(r.AvatarMedium, r.AvatarLarge, r.AvatarSmall)
	r.AvatarLarge = peopleFirstNonEmpty(r.AvatarLarge, r.AvatarMedium)
	r.AvatarSmall = peopleFirstNonEmpty(r.AvatarSmall, r.AvatarMedium)
	var sharing, found bool
	sharing, found, err = tx.contactSharing(handle)
	if err != nil {
		return st, err
	}
	if !found {
		// An identity that moved here shares as the old one did.
		if sharing, err = tx.inheritedSharing(handle, 0); err != nil {
			return st, err
		}
	}
	if st.closed, err = tx.authorClosed(handle); err != nil {
		return st, err
	}
	if r.MovedTo, err = tx.movedTo(handle); err != nil {
		return st, err
	}
	r.Closed = st.closed
	r.Sharing = sharing && !st.closed && r.MovedTo == ""
	st.row = r
	return st, nil
}

// contactSharing reads the handle's newest Contact entity (by op stamp):
// whether they share with me; found is false when they sent none.
func (tx *Tx) contactSharing(handle string) (sharing, found bool, err error) {
	var payload string
	err = tx.QueryRowContext(tx.ctx, `SELECT r.payload FROM st_received r
		JOIN ops o ON o.device = r.device AND o.epoch = r.epoch AND o.seq = r.seq
		WHERE r.author = ? AND r.entity_type = ?
		ORDER BY o.wall DESC, o.logical DESC, r.device DESC, r.epoch DESC, r.seq DESC LIMIT 1`, handle, EntityContact).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	e, perr := entity.Parse([]byte(payload))
	if perr != nil {
		return false, true, nil
	}
	c, ok := e.(*entity.Contact)
	return ok && c.Sharing && !c.Blocking, true, nil
}

func peopleFirstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// resolveAvatar makes a profile image URL absolute: federation allows a
// path relative to the author's pod. Anything but http(s) is dropped.
func peopleResolveAvatar(handle, raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Scheme == "" && u.Host == "" {
		_, host, _ := strings.Cut(handle, "@")
		base := &url.URL{Scheme: "https", Host: host, Path: "/"}
		u = base.ResolveReference(u)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return u.String()
}

// profileBirthday keeps a YYYY-MM-DD birthday that is a real date.
func profileBirthday(s string) string {
	s = strings.TrimSpace(s)
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return ""
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[5:7])
	d, e3 := strconv.Atoi(s[8:])
	if e1 != nil || e2 != nil || e3 != nil || y < 1 || m < 1 || m > 12 || d < 1 || d > peopleDaysIn(y, m) {
		return ""
	}
	return s
}

func peopleDaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// profileTags normalises profile tags: '#' dropped, lowercase, unique, at
// most 5.
func profileTags(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.ToLower(strings.TrimLeft(strings.TrimSpace(t), "#"))
		if t == "" || seen[t] || len(t) > 255 {
			continue
		}
		seen[t] = true
		out = append(out, t)
		if len(out) == 5 {
			break
		}
	}
	return out
}

// projectPerson recomputes the people row of a handle from its "person"
// and "profile" records, and its contact row.
func (tx *Tx) projectPerson(handle string) error {
	return tx.projectPersonSeen(strings.ToLower(handle), map[string]bool{})
}

func (tx *Tx) projectPersonSeen(handle string, seen map[string]bool) error {
	if seen[handle] {
		return nil
	}
	seen[handle] = true
	st, err := tx.readPersonState(handle)
	if err != nil {
		return fmt.Errorf("project person %s: %w", handle, err)
	}
	var oldGUID string
	if err := tx.QueryRowContext(tx.ctx, "SELECT guid FROM people WHERE handle = ?", handle).Scan(&oldGUID); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("project person %s: %w", handle, err)
	}
	want := st.hasRecord
	if want {
		// Another handle holding the guid: the newer record keeps it.
		var other string
		err := tx.QueryRowContext(tx.ctx, "SELECT handle FROM people WHERE guid = ? AND handle <> ?", st.row.GUID, handle).Scan(&other)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("project person %s: %w", handle, err)
		default:
			ost, err := tx.readPersonState(other)
			if err != nil {
				return fmt.Errorf("project person %s: %w", other, err)
			}
			if ost.hasRecord && ost.row.GUID == st.row.GUID && !st.recordKey.newer(ost.recordKey) {
				want = false
			} else if _, err := tx.ExecContext(tx.ctx, "DELETE FROM people WHERE handle = ?", other); err != nil {
				return fmt.Errorf("project person %s: %w", other, err)
			}
		}
	}
	if oldGUID != "" && (!want || oldGUID != st.row.GUID) {
		if _, err := tx.ExecContext(tx.ctx, "DELETE FROM people WHERE handle = ?", handle); err != nil {
			return fmt.Errorf("project person %s: %w", handle, err)
		}
	}
	if want {
		r := st.row
		_, err := tx.ExecContext(tx.ctx, `INSERT INTO people (`+personColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (guid) DO UPDATE SET handle = excluded.handle, first_name = excluded.first_name,
			last_name = excluded.last_name, name = excluded.name, avatar_small = excluded.avatar_small,
			avatar_medium = excluded.avatar_medium, avatar_large = excluded.avatar_large, bio = excluded.bio,
			location = excluded.location, gender = excluded.gender, birthday = excluded.birthday, tags = excluded.tags,
			searchable = excluded.searchable, nsfw = excluded.nsfw, public_details = excluded.public_details,
			public_key = excluded.public_key, sharing = excluded.sharing, updated_at = excluded.updated_at`,
			r.GUID, r.Handle, r.FirstName, r.LastName, r.Name, r.AvatarSmall, r.AvatarMedium, r.AvatarLarge,
			r.Bio, r.Location, r.Gender, r.Birthday, jsonStrings(r.Tags), r.Searchable, r.NSFW, r.PublicDetails,
			r.PublicKey, r.Sharing, r.UpdatedAt)
		if err != nil {
			return fmt.Errorf("project person %s: %w", handle, err)
		}
		// closed (0010_closed.sql) and moved_to (0011_moves.sql) are not
		// among personColumns.
		if _, err := tx.ExecContext(tx.ctx, "UPDATE people SET closed = ?1, moved_to = ?2 WHERE guid = ?3 AND (closed <> ?1 OR moved_to <> ?2)",
			st.closed, r.MovedTo, r.GUID); err != nil {
			return fmt.Errorf("project person %s: %w", handle, err)
		}
		if err := tx.projectContact(r.GUID); err != nil {
			return err
		}
	}
	// The identity this one moved to shares as it did (inheritedSharing).
	if to, err := tx.movedTo(handle); err != nil {
		return err
	} else if to != "" {
		if err := tx.projectPersonSeen(to, seen); err != nil {
			return err
		}
	}
	if oldGUID != "" && (!want || oldGUID != st.row.GUID) {
		if err := tx.projectContact(oldGUID); err != nil {
			return err
		}
		// The guid this handle held is free: a handle that lost it may
		// hold it now.
		claimants, err := tx.guidClaimants(oldGUID, handle)
		if err != nil {
			return fmt.Errorf("project person %s: %w", handle, err)
		}
		for _, h := range claimants {
			if err := tx.projectPersonSeen(h, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// guidClaimants are the other handles with a person record naming guid.
func (tx *Tx) guidClaimants(guid, except string) ([]string, error) {
	rows, err := tx.QueryContext(tx.ctx, `SELECT DISTINCT author FROM st_received
		WHERE entity_type = ? AND author <> ? AND instr(payload, ?) > 0`, EntityPerson, except, `"guid":`+peopleQuoteJSON(guid))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// peopleQuoteJSON is s as a JSON string literal.
func peopleQuoteJSON(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(jsonStrings([]string{s}), "["), "]")
}
