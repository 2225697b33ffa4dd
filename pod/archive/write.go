package archive

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/keys"
)

// Header is everything of the user object but the posts and relayables,
// which a Writer streams after it.
type Header struct {
	Username string
	Email    string
	Language string
	Key      *rsa.PrivateKey
	// Profile's author is the archive owner's diaspora* ID.
	Profile              *entity.Profile
	AutoFollowBack       bool
	AutoFollowBackAspect string
	ContactGroups        []string
	Contacts             []Contact
	FollowedTags         []string
	PostSubscriptions    []string
	Blocks               []string
	// NonContactAuthors go to others_data.non_contact_authors: people the
	// archive names (the blocked) who are not contacts.
	NonContactAuthors []Person
}

// Writer writes an archive as a stream: Begin with the header, then every
// post, then every relayable, then Close. It writes the JSON form that
// diaspora* exports (version 2.0), compact; wrap w in a gzip.Writer for
// the .json.gz diaspora* serves.
type Writer struct {
	w      *bufio.Writer
	state  int // 0 new, 1 posts, 2 relayables, 3 closed
	first  bool
	others []Person
	err    error
}

// NewWriter writes an archive to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

func (aw *Writer) write(b []byte) {
	if aw.err == nil {
		_, aw.err = aw.w.Write(b)
	}
}

func (aw *Writer) writeKV(key string, v any) {
	k, _ := json.Marshal(key)
	b, err := marshalCompact(v)
	if err != nil && aw.err == nil {
		aw.err = fmt.Errorf("archive %s: %w", key, err)
	}
	aw.write(k)
	aw.write([]byte(":"))
	aw.write(b)
	aw.write([]byte(","))
}

func marshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// entityJSON is an entity's archive JSON, compact.
func entityJSON(e entity.Entity) ([]byte, error) {
	b, err := entity.MarshalJSON(e)
	if err != nil {
		return nil, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return nil, err
	}
	return c.Bytes(), nil
}

// nonNil makes a nil list an empty one (the schema wants arrays).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Begin writes the version and the user object up to its posts.
func (aw *Writer) Begin(h Header) error {
	if aw.state != 0 {
		return errors.New("archive writer: Begin twice")
	}
	if h.Key == nil || h.Profile == nil {
		return fmt.Errorf("%w: an archive needs the private key and the profile", ErrMalformed)
	}
	prof, err := entityJSON(h.Profile)
	if err != nil {
		return fmt.Errorf("archive profile: %w", err)
	}
	aw.write([]byte(`{"version":"` + Version + `","user":{`))
	aw.writeKV("username", h.Username)
	aw.writeKV("email", h.Email)
	if h.Language != "" {
		aw.writeKV("language", h.Language)
	}
	aw.writeKV("private_key", string(keys.MarshalPrivate(h.Key)))
	aw.writeKV("auto_follow_back", h.AutoFollowBack)
	if h.AutoFollowBackAspect != "" {
		aw.writeKV("auto_follow_back_aspect", h.AutoFollowBackAspect)
	} else {
		aw.writeKV("auto_follow_back_aspect", nil)
	}
	aw.write([]byte(`"profile":`))
	aw.write(prof)
	aw.write([]byte(","))
	groups := make([]map[string]string, 0, len(h.ContactGroups))
	for _, g := range h.ContactGroups {
		groups = append(groups, map[string]string{"name": g})
	}
	aw.writeKV("contact_groups", groups)
	type contact struct {
		Sharing    bool     `json:"sharing"`
		Receiving  bool     `json:"receiving"`
		Following  bool     `json:"following"`
		Followed   bool     `json:"followed"`
		PersonGUID string   `json:"person_guid,omitempty"`
		PersonName string   `json:"person_name,omitempty"`
		AccountID  string   `json:"account_id"`
		PublicKey  string   `json:"public_key,omitempty"`
		Groups     []string `json:"contact_groups_membership"`
	}
	contacts := make([]contact, 0, len(h.Contacts))
	for _, c := range h.Contacts {
		contacts = append(contacts, contact{Sharing: c.Sharing, Receiving: c.Receiving, Following: c.Following,
			Followed: c.Followed, PersonGUID: c.GUID, PersonName: c.Name, AccountID: c.Handle, PublicKey: c.PublicKey,
			Groups: nonNil(c.Aspects)})
	}
	aw.writeKV("contacts", contacts)
	aw.writeKV("followed_tags", nonNil(h.FollowedTags))
	aw.writeKV("post_subscriptions", nonNil(h.PostSubscriptions))
	aw.writeKV("blocks", nonNil(h.Blocks))
	aw.others = h.NonContactAuthors
	aw.write([]byte(`"posts":[`))
	aw.state, aw.first = 1, true
	return aw.err
}

// Post writes one own post with its subscribers: SubscribedPods for a
// public post or a reshare, SubscribedUsers for a limited one (the schema
// wants exactly the one that fits).
func (aw *Writer) Post(p Post) error {
	if aw.state != 1 {
		return errors.New("archive writer: Post outside the posts")
	}
	b, err := entityJSON(p.Entity)
	if err != nil {
		return fmt.Errorf("archive post %s: %w", p.GUID(), err)
	}
	public := true
	if sm, ok := p.Entity.(*entity.StatusMessage); ok {
		public = sm.Public
		if len(sm.Photos) == 0 {
			// diaspora*'s importer walks entity_data.photos of every status
			// message (PostImporter#substitute_author): it must be there.
			b = bytes.Replace(b, []byte(`"entity_data":{`), []byte(`"entity_data":{"photos":[],`), 1)
		}
	}
	key, list := "subscribed_pods_uris", p.SubscribedPods
	if !public {
		key, list = "subscribed_users_ids", p.SubscribedUsers
	}
	extra, _ := marshalCompact(nonNil(list))
	b = append(b[:len(b)-1], []byte(`,"`+key+`":`)...)
	b = append(b, extra...)
	b = append(b, '}')
	aw.item(b)
	return aw.err
}

func (aw *Writer) item(b []byte) {
	if !aw.first {
		aw.write([]byte(","))
	}
	aw.first = false
	aw.write(b)
}

// Relayable writes one own comment, like or poll participation (after
// the last post).
func (aw *Writer) Relayable(r entity.Relayable) error {
	switch aw.state {
	case 1:
		aw.write([]byte(`],"relayables":[`))
		aw.state, aw.first = 2, true
	case 2:
	default:
		return errors.New("archive writer: Relayable outside the relayables")
	}
	b, err := entityJSON(r)
	if err != nil {
		return fmt.Errorf("archive %s %s: %w", r.Type(), r.GUID(), err)
	}
	aw.item(b)
	return aw.err
}

// Close ends the document and flushes it (the underlying writer stays
// open).
func (aw *Writer) Close() error {
	switch aw.state {
	case 0:
		return errors.New("archive writer: Close before Begin")
	case 1:
		aw.write([]byte(`],"relayables":[`))
	case 3:
		return nil
	}
	aw.write([]byte("]}"))
	if len(aw.others) > 0 {
		type person struct {
			AccountID  string `json:"account_id"`
			GUID       string `json:"guid"`
			PublicKey  string `json:"public_key"`
			PersonName string `json:"person_name,omitempty"`
		}
		people := make([]person, 0, len(aw.others))
		for _, p := range aw.others {
			people = append(people, person{AccountID: p.Handle, GUID: p.GUID, PublicKey: p.PublicKey, PersonName: p.Name})
		}
		b, err := marshalCompact(people)
		if err != nil && aw.err == nil {
			aw.err = err
		}
		aw.write([]byte(`,"others_data":{"non_contact_authors":`))
		aw.write(b)
		aw.write([]byte("}"))
	}
	aw.write([]byte("}\n"))
	aw.state = 3
	if aw.err == nil {
		aw.err = aw.w.Flush()
	}
	return aw.err
}
