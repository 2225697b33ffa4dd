package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Queries of the people area: people, aspects, contacts, blocks and
// followed tags. Each takes a Querier, so it works on the reader pool
// (db.R) and inside a write (a *Tx or *Writer) alike.

// Querier is what the read helpers need: *sql.DB, *sql.Tx, *Tx and
// *Writer all have it.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Sets of the people area (observed-remove sets, docs/data-model.md).
const (
	SetBlocks       = "blocks"  // person guids I block
	SetIgnores      = "ignores" // person guids I ignore
	SetFollowedTags = "tags"    // followed tags, lowercase, no '#'
)

// AspectSetName is the set of an aspect's members ("aspect/<id>").
func AspectSetName(id int64) string { return "aspect/" + strconv.FormatInt(id, 10) }

// Person is a row of people: someone the pod knows.
type Person struct {
	GUID          string
	Handle        string // diaspora* ID, lowercase
	FirstName     string
	LastName      string
	Name          string // display name; "" when they have none
	AvatarSmall   string // URLs; "" without an avatar
	AvatarMedium  string
	AvatarLarge   string
	Bio           string
	Location      string
	Gender        string
	Birthday      string // YYYY-MM-DD or ""
	Tags          []string
	Searchable    bool
	NSFW          bool
	PublicDetails bool
	PublicKey     string // PEM
	Sharing       bool   // they share with me (their newest Contact entity)
	UpdatedAt     int64  // ms: the edit time of the profile shown
	// Closed: their account is closed (a received AccountDeletion).
	Closed bool
	// MovedTo is the diaspora* ID they moved to (a received
	// AccountMigration), "" when they did not move.
	MovedTo string
}

const personColumns = `guid, handle, first_name, last_name, name, avatar_small, avatar_medium, avatar_large,
	bio, location, gender, birthday, tags, searchable, nsfw, public_details, public_key, sharing, updated_at`

// personReadColumns are what scanPerson reads: personColumns (what the
// projection inserts) and the states later migrations added.
const personReadColumns = personColumns + `, closed, moved_to`

type rowScanner interface{ Scan(dest ...any) error }

func scanPerson(r rowScanner) (Person, error) {
	var p Person
	var tags string
	err := r.Scan(&p.GUID, &p.Handle, &p.FirstName, &p.LastName, &p.Name, &p.AvatarSmall, &p.AvatarMedium,
		&p.AvatarLarge, &p.Bio, &p.Location, &p.Gender, &p.Birthday, &tags, &p.Searchable, &p.NSFW,
		&p.PublicDetails, &p.PublicKey, &p.Sharing, &p.UpdatedAt, &p.Closed, &p.MovedTo)
	if err != nil {
		return p, err
	}
	p.Tags = parseStrings(tags)
	return p, nil
}

func personWhere(ctx context.Context, q Querier, where string, arg any) (Person, bool, error) {
	p, err := scanPerson(q.QueryRowContext(ctx, "SELECT "+personReadColumns+" FROM people WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Person{}, false, nil
	}
	if err != nil {
		return Person{}, false, fmt.Errorf("read person: %w", err)
	}
	return p, true, nil
}

// PersonByGUID reads the person with a guid; ok is false when the pod does
// not know them.
func PersonByGUID(ctx context.Context, q Querier, guid string) (p Person, ok bool, err error) {
	return personWhere(ctx, q, "guid = ?", guid)
}

// PersonByHandle reads the person with a diaspora* ID (any case); ok is
// false when the pod does not know them.
func PersonByHandle(ctx context.Context, q Querier, handle string) (p Person, ok bool, err error) {
	return personWhere(ctx, q, "handle = ?", strings.ToLower(handle))
}

// PeopleByGUIDs reads the known people among guids, keyed by guid.
func PeopleByGUIDs(ctx context.Context, q Querier, guids []string) (map[string]Person, error) {
	out := map[string]Person{}
	if len(guids) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT "+personReadColumns+" FROM people WHERE guid IN (SELECT value FROM json_each(?))",
		jsonStrings(guids))
	if err != nil {
		return nil, fmt.Errorf("read people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("read people: %w", err)
		}
		out[p.GUID] = p
	}
	return out, rows.Err()
}

// AspectMembers are the person guids in any of the given aspects (live
// members of aspects that exist), sorted and unique: the recipients of a
// limited post to those aspects. Unknown aspect ids add nobody.
func AspectMembers(ctx context.Context, q Querier, ids []int64) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = AspectSetName(id)
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT s.member FROM st_set_adds s
		JOIN aspects a ON s.name = 'aspect/' || a.id
		WHERE s.live = 1 AND s.name IN (SELECT value FROM json_each(?)) ORDER BY s.member`, jsonStrings(names))
	if err != nil {
		return nil, fmt.Errorf("read aspect members: %w", err)
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

// Relationship is the contact state with a person: Receiving means I share
// with them (they are in one of my aspects), Sharing that they share with me.
type Relationship struct {
	Receiving, Sharing bool
}

// Mutual reports whether both share.
func (r Relationship) Mutual() bool { return r.Receiving && r.Sharing }

// ContactOf reads the relationship with a person guid (both false when they
// are no contact).
func ContactOf(ctx context.Context, q Querier, guid string) (Relationship, error) {
	var r Relationship
	err := q.QueryRowContext(ctx, "SELECT receiving, sharing FROM contacts WHERE person_guid = ?", guid).
		Scan(&r.Receiving, &r.Sharing)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("read contact %s: %w", guid, err)
	}
	return r, nil
}

// IsMutual reports whether I share with the person and they with me (the
// rule for conversation recipients).
func IsMutual(ctx context.Context, q Querier, guid string) (bool, error) {
	r, err := ContactOf(ctx, q, guid)
	return r.Mutual(), err
}

// Aspect is a row of aspects.
type Aspect struct {
	ID    int64
	Name  string
	Order int
}

// Aspects lists the aspects in their order (order, then id).
func Aspects(ctx context.Context, q Querier) ([]Aspect, error) {
	return aspectsWhere(ctx, q, "1", nil)
}

// AspectByID reads one aspect; ok is false when it does not exist.
func AspectByID(ctx context.Context, q Querier, id int64) (Aspect, bool, error) {
	as, err := aspectsWhere(ctx, q, "id = ?", []any{id})
	if err != nil || len(as) == 0 {
		return Aspect{}, false, err
	}
	return as[0], true, nil
}

// AspectsOf lists the aspects a person guid is a member of, in order.
func AspectsOf(ctx context.Context, q Querier, guid string) ([]Aspect, error) {
	return aspectsWhere(ctx, q, `EXISTS (SELECT 1 FROM st_set_adds s
		WHERE s.name = 'aspect/' || aspects.id AND s.member = ? AND s.live = 1)`, []any{guid})
}

func aspectsWhere(ctx context.Context, q Querier, where string, args []any) ([]Aspect, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, name, ord FROM aspects WHERE "+where+" ORDER BY ord, id", args...)
	if err != nil {
		return nil, fmt.Errorf("read aspects: %w", err)
	}
	defer rows.Close()
	var out []Aspect
	for rows.Next() {
		var a Aspect
		if err := rows.Scan(&a.ID, &a.Name, &a.Order); err != nil {
			return nil, fmt.Errorf("read aspects: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AspectIDUsed reports whether an aspect id has ever been used (a field or
// a membership exists, also of a deleted aspect), so a new aspect never
// takes over an old one's members.
func AspectIDUsed(ctx context.Context, q Querier, id int64) (bool, error) {
	var n int
	prefix := AspectSetName(id)
	err := q.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM st_fields WHERE key IN (? || '/name', ? || '/order'))
		+ (SELECT count(*) FROM st_set_adds WHERE name = ?)`, prefix, prefix, prefix).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check aspect id %d: %w", id, err)
	}
	return n > 0, nil
}

// Listed is a person in a list: their guid, the row when the pod knows them
// (Known), and the relationship.
type Listed struct {
	GUID         string
	Known        bool
	Person       Person
	Relationship Relationship
}

// listedSelect selects a person guid (guidExpr) with their people row
// (p), if any, and contact state (c).
func listedSelect(guidExpr string) string {
	return "SELECT " + guidExpr + ", p.guid IS NOT NULL, " + prefixedPersonColumns +
		", coalesce(c.receiving, 0), coalesce(c.sharing, 0)"
}

var prefixedPersonColumns = func() string {
	cols := strings.Split(strings.ReplaceAll(personReadColumns, "\n", ""), ",")
	defaults := map[string]string{"tags": "'[]'", "searchable": "0", "nsfw": "0", "public_details": "0",
		"sharing": "0", "updated_at": "0", "closed": "0"}
	for i, c := range cols {
		c = strings.TrimSpace(c)
		d, ok := defaults[c]
		if !ok {
			d = "''"
		}
		cols[i] = "coalesce(p." + c + ", " + d + ")"
	}
	return strings.Join(cols, ", ")
}()

// listedOrder sorts people by display name (the handle standing in for a
// missing name), case-insensitively, then handle and guid; unknown people
// last.
func listedOrder(guidExpr string) string {
	return " ORDER BY p.guid IS NULL, coalesce(nullif(p.name, ''), p.handle, '') COLLATE NOCASE, p.handle, " + guidExpr
}

func scanListed(rows *sql.Rows) ([]Listed, error) {
	defer rows.Close()
	var out []Listed
	for rows.Next() {
		var l Listed
		var tags string
		p := &l.Person
		if err := rows.Scan(&l.GUID, &l.Known, &p.GUID, &p.Handle, &p.FirstName, &p.LastName, &p.Name,
			&p.AvatarSmall, &p.AvatarMedium, &p.AvatarLarge, &p.Bio, &p.Location, &p.Gender, &p.Birthday, &tags,
			&p.Searchable, &p.NSFW, &p.PublicDetails, &p.PublicKey, &p.Sharing, &p.UpdatedAt, &p.Closed, &p.MovedTo,
			&l.Relationship.Receiving, &l.Relationship.Sharing); err != nil {
			return nil, fmt.Errorf("read people: %w", err)
		}
		p.Tags = parseStrings(tags)
		p.GUID = l.GUID
		out = append(out, l)
	}
	return out, rows.Err()
}

// AspectContacts lists the members of an aspect sorted by name, limit rows
// from offset.
func AspectContacts(ctx context.Context, q Querier, id int64, offset, limit int) ([]Listed, error) {
	rows, err := q.QueryContext(ctx, listedSelect("g.guid")+` FROM (SELECT DISTINCT member AS guid FROM st_set_adds
		WHERE name = ? AND live = 1) g LEFT JOIN people p ON p.guid = g.guid LEFT JOIN contacts c ON c.person_guid = g.guid`+
		listedOrder("g.guid")+` LIMIT ? OFFSET ?`, AspectSetName(id), limit, offset)
	if err != nil {
		return nil, fmt.Errorf("read aspect %d contacts: %w", id, err)
	}
	return scanListed(rows)
}

// ContactFilter selects contacts.
type ContactFilter struct {
	// Relationship: "" (every contact), "mutual", "sharing" (they share
	// with me) or "receiving" (I share with them).
	Relationship string
	// Aspect, when not 0, keeps the members of that aspect.
	Aspect int64
}

// Contacts lists my contacts (people I share with or who share with me)
// sorted by name, limit rows from offset.
func Contacts(ctx context.Context, q Querier, f ContactFilter, offset, limit int) ([]Listed, error) {
	where := "1"
	var args []any
	switch f.Relationship {
	case "":
	case "mutual":
		where = "c.receiving = 1 AND c.sharing = 1"
	case "sharing":
		where = "c.sharing = 1"
	case "receiving":
		where = "c.receiving = 1"
	default:
		return nil, fmt.Errorf("contacts: unknown relationship %q", f.Relationship)
	}
	if f.Aspect != 0 {
		where += " AND EXISTS (SELECT 1 FROM st_set_adds s WHERE s.name = ? AND s.member = c.person_guid AND s.live = 1)"
		args = append(args, AspectSetName(f.Aspect))
	}
	args = append(args, limit, offset)
	rows, err := q.QueryContext(ctx, listedSelect("c.person_guid")+` FROM contacts c
		LEFT JOIN people p ON p.guid = c.person_guid WHERE `+where+listedOrder("c.person_guid")+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	return scanListed(rows)
}

// PeopleSearch is a people search (v1 search/users).
type PeopleSearch struct {
	// Exactly one of NameOrHandle (a case-insensitive substring of the
	// name or handle; a word prefix also matches through people_fts, which
	// folds case and diacritics beyond ASCII) and Tag (a profile tag).
	NameOrHandle string
	Tag          string
	// Filters, AND-ed: Contacts (any contact), Receiving, Sharing, and
	// Aspects: each element is a list of aspect ids whose members match
	// (OR-ed within the list).
	Contacts, Receiving, Sharing bool
	Aspects                      [][]int64
}

// SearchPeople finds people by name, handle or tag. People who are not
// searchable are found only when they are my contacts.
func SearchPeople(ctx context.Context, q Querier, s PeopleSearch, offset, limit int) ([]Listed, error) {
	var where []string
	var args []any
	switch {
	case s.NameOrHandle != "":
		like := "%" + peopleEscapeLike(strings.ToLower(s.NameOrHandle)) + "%"
		cond := `(p.name LIKE ? ESCAPE '\' OR p.handle LIKE ? ESCAPE '\'`
		args = append(args, like, like)
		if m := ftsPrefixQuery(s.NameOrHandle); m != "" {
			cond += ` OR p.rowid IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ?)`
			args = append(args, m)
		}
		where = append(where, cond+")")
	case s.Tag != "":
		where = append(where, "EXISTS (SELECT 1 FROM json_each(p.tags) WHERE value = ?)")
		args = append(args, strings.ToLower(s.Tag))
	default:
		return nil, errors.New("search people: no query")
	}
	where = append(where, "(p.searchable = 1 OR c.person_guid IS NOT NULL)")
	if s.Contacts {
		where = append(where, "c.person_guid IS NOT NULL")
	}
	if s.Receiving {
		where = append(where, "c.receiving = 1")
	}
	if s.Sharing {
		where = append(where, "c.sharing = 1")
	}
	for _, ids := range s.Aspects {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = AspectSetName(id)
		}
		where = append(where, `EXISTS (SELECT 1 FROM st_set_adds s WHERE s.member = p.guid AND s.live = 1
			AND s.name IN (SELECT value FROM json_each(?)))`)
		args = append(args, jsonStrings(names))
	}
	args = append(args, limit, offset)
	rows, err := q.QueryContext(ctx, listedSelect("p.guid")+` FROM people p
		LEFT JOIN contacts c ON c.person_guid = p.guid WHERE `+strings.Join(where, " AND ")+listedOrder("p.guid")+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("search people: %w", err)
	}
	return scanListed(rows)
}

// escapeLike escapes LIKE's wildcards with '\'.
func peopleEscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ftsPrefixQuery turns free text into an FTS5 query where every word is a
// prefix term ("ali smi" → "ali"* "smi"*); "" when there are no words.
func ftsPrefixQuery(s string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80)
	}) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
		if len(terms) == 8 {
			break
		}
	}
	return strings.Join(terms, " ")
}

// SearchTags lists known tags (of posts and followed tags) starting with
// prefix (lowercase), sorted, limit from offset.
func SearchTags(ctx context.Context, q Querier, prefix string, offset, limit int) ([]string, error) {
	like := peopleEscapeLike(prefix) + "%"
	rows, err := q.QueryContext(ctx, `SELECT tag FROM (
			SELECT DISTINCT tag FROM post_tags WHERE tag LIKE ? ESCAPE '\'
			UNION SELECT member FROM st_set_adds WHERE name = ? AND live = 1 AND member LIKE ? ESCAPE '\')
		ORDER BY tag LIMIT ? OFFSET ?`, like, SetFollowedTags, like, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("search tags: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
