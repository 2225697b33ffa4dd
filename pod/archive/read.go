package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/diaspora/keys"
)

// Reader reads archives. It holds the compiled schemas: make one with
// NewReader and use it for any number of reads, also concurrently.
type Reader struct {
	lim Limits
	sch *schemas
}

// NewReader compiles the embedded schemas (a few milliseconds) for
// readers bounded by lim (zero fields: the defaults).
func NewReader(lim Limits) (*Reader, error) {
	sch, err := compileSchemas()
	if err != nil {
		return nil, err
	}
	return &Reader{lim: lim.withDefaults(), sch: sch}, nil
}

// Read reads one archive, gzip-compressed or plain JSON (told apart by the
// first bytes), validates it against the schema and returns the user's
// data. Any error wraps ErrMalformed or ErrTooLarge; a caller that gets
// one has nothing to undo, since Read only reads.
func (rd *Reader) Read(r io.Reader) (*Archive, error) {
	in := &capReader{r: r, max: rd.lim.MaxInput, what: "the archive file"}
	br := bufio.NewReaderSize(in, 64<<10)
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, readErr("read the archive", err)
	}
	var src io.Reader = br
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, readErr("open the gzip stream", err)
		}
		defer gz.Close()
		src = gz
	}
	src = &capReader{r: src, max: rd.lim.MaxJSON, what: "the archive's JSON (after decompression)"}
	st := &readState{rd: rd, dec: json.NewDecoder(src), a: &Archive{}, root: map[string]any{}, raw: map[string]json.RawMessage{}}
	st.dec.UseNumber()
	if err := st.document(); err != nil {
		return nil, err
	}
	return st.finish()
}

// readState is one Read in progress.
type readState struct {
	rd    *Reader
	dec   *json.Decoder
	a     *Archive
	other int // bytes of JSON outside the streamed arrays
	// root is the document without the streamed arrays' items, for the
	// schema; raw keeps the user object's values outside the arrays.
	root map[string]any
	raw  map[string]json.RawMessage
}

func (st *readState) warn(format string, args ...any) {
	st.a.Skipped++
	if len(st.a.Warnings) < st.rd.lim.MaxWarnings {
		st.a.Warnings = append(st.a.Warnings, clip(fmt.Sprintf(format, args...), 500))
	}
}

// readErr classifies an error of the decoder or the input: a cap keeps
// its ErrTooLarge, anything else is ErrMalformed.
func readErr(what string, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, clipErr(err))
}

func clipErr(err error) string { return clip(err.Error(), 300) }

func (st *readState) token(what string) (json.Token, error) {
	t, err := st.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, readErr(what, err)
	}
	return t, nil
}

func (st *readState) delim(want json.Delim, what string) error {
	t, err := st.token(what)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: %s: expected %q", ErrMalformed, what, string(want))
	}
	return nil
}

// document reads the top-level object: "version", "user", "others_data"
// and anything else (kept for the schema, which allows more keys).
func (st *readState) document() error {
	t, err := st.token("the archive")
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: the archive is not a JSON object", ErrMalformed)
	}
	seen := map[string]bool{}
	for st.dec.More() {
		key, err := st.key("the archive", seen)
		if err != nil {
			return err
		}
		switch key {
		case "user", "others_data":
			obj, err := st.object(key)
			if err != nil {
				return err
			}
			st.root[key] = obj
		default:
			v, raw, err := st.value(key)
			if err != nil {
				return err
			}
			st.root[key] = v
			if key == "version" {
				st.raw["version"] = raw
			}
		}
	}
	if err := st.delim('}', "the end of the archive"); err != nil {
		return err
	}
	// Nothing may follow; reading on to the end also makes gzip check
	// its checksum.
	if _, err := st.dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil || !errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("%w: data after the archive's JSON object%s", ErrMalformed, errSuffix(err))
		}
		return err
	}
	return nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + clipErr(err) + ")"
}

// key reads an object key, refusing a key seen before in the same object
// (the schema cannot see duplicates, and which one wins would be the
// decoder's choice).
func (st *readState) key(where string, seen map[string]bool) (string, error) {
	t, err := st.token(where)
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: expected a key", ErrMalformed, where)
	}
	if seen[k] {
		return "", fmt.Errorf("%w: %s: the key %q appears twice", ErrMalformed, where, clip(k, 64))
	}
	seen[k] = true
	return k, nil
}

// value reads one value outside the streamed arrays, counted against
// MaxOther, as the schema validator's tree and as raw JSON.
func (st *readState) value(path string) (any, json.RawMessage, error) {
	var raw json.RawMessage
	if err := st.dec.Decode(&raw); err != nil {
		return nil, nil, readErr(path, err)
	}
	st.other += len(raw)
	if st.other > st.rd.lim.MaxOther {
		return nil, nil, fmt.Errorf("%w: the archive's settings and profile exceed %d bytes (at %s)", ErrTooLarge, st.rd.lim.MaxOther, path)
	}
	if !depthOK(raw, st.rd.lim.MaxDepth) {
		return nil, nil, fmt.Errorf("%w: %s is nested deeper than %d", ErrMalformed, path, st.rd.lim.MaxDepth)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, readErr(path, err)
	}
	return v, raw, nil
}

// object reads "user" or "others_data": its arrays item by item, the rest
// as values.
func (st *readState) object(name string) (map[string]any, error) {
	t, err := st.token(name)
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrMalformed, name)
	}
	out := map[string]any{}
	seen := map[string]bool{}
	for st.dec.More() {
		key, err := st.key(name, seen)
		if err != nil {
			return nil, err
		}
		path := name + "." + key
		if _, ok := streamed[path]; ok {
			if err := st.array(path); err != nil {
				return nil, err
			}
			out[key] = []any{} // the items were validated one by one
			continue
		}
		v, raw, err := st.value(path)
		if err != nil {
			return nil, err
		}
		out[key] = v
		if name == "user" {
			st.raw[key] = raw
		}
	}
	return out, st.delim('}', "the end of "+name)
}

// array reads a streamed array: each item capped, checked against its
// schema and handed to the item's reader.
func (st *readState) array(path string) error {
	t, err := st.token(path)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%w: %s must be an array", ErrMalformed, path)
	}
	sch := st.rd.sch.items[path]
	n := 0
	for st.dec.More() {
		if n >= st.rd.lim.MaxItems {
			return fmt.Errorf("%w: %s has more than %d items", ErrTooLarge, path, st.rd.lim.MaxItems)
		}
		var raw json.RawMessage
		if err := st.dec.Decode(&raw); err != nil {
			return readErr(fmt.Sprintf("%s[%d]", path, n), err)
		}
		where := fmt.Sprintf("%s[%d]", path, n)
		if len(raw) > st.rd.lim.MaxItemBytes {
			return fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrTooLarge, where, len(raw), st.rd.lim.MaxItemBytes)
		}
		if !depthOK(raw, st.rd.lim.MaxDepth) {
			return fmt.Errorf("%w: %s is nested deeper than %d", ErrMalformed, where, st.rd.lim.MaxDepth)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return readErr(where, err)
		}
		if err := sch.Validate(v); err != nil {
			return fmt.Errorf("%w: %s does not match the archive schema: %s", ErrMalformed, where, schemaError(err))
		}
		if err := st.item(path, where, raw); err != nil {
			return err
		}
		n++
	}
	return st.delim(']', "the end of "+path)
}

// item turns one validated array item into the archive's data. Items the
// entity rules refuse are left out with a warning.
func (st *readState) item(path, where string, raw json.RawMessage) error {
	u := &st.a.User
	switch path {
	case "user.posts":
		p, err := parsePost(raw)
		if err != nil {
			st.warn("%s left out: %v", where, clipErr(err))
			return nil
		}
		u.Posts = append(u.Posts, p)
	case "user.relayables":
		e, err := entity.ParseJSON(raw)
		if err != nil {
			st.warn("%s left out: %v", where, clipErr(err))
			return nil
		}
		r, ok := e.(entity.Relayable)
		if !ok {
			st.warn("%s left out: a %s is not a relayable", where, e.Type())
			return nil
		}
		u.Relayables = append(u.Relayables, r)
	case "user.contacts":
		c, err := parseContact(raw)
		if err != nil {
			st.warn("%s left out: %v", where, clipErr(err))
			return nil
		}
		u.Contacts = append(u.Contacts, c)
	case "user.contact_groups":
		var g struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			return readErr(where, err)
		}
		name := strings.TrimSpace(g.Name)
		if name == "" || utf8.RuneCountInString(name) > maxShortString {
			st.warn("%s left out: an aspect name must have 1 to %d characters", where, maxShortString)
			return nil
		}
		u.ContactGroups = append(u.ContactGroups, name)
	case "user.followed_tags", "user.post_subscriptions", "user.blocks":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return readErr(where, err)
		}
		if utf8.RuneCountInString(s) > maxShortString {
			st.warn("%s left out: longer than %d characters", where, maxShortString)
			return nil
		}
		switch path {
		case "user.followed_tags":
			u.FollowedTags = append(u.FollowedTags, s)
		case "user.post_subscriptions":
			if !id.ValidGUID(s) {
				st.warn("%s left out: %q is not a guid", where, clip(s, 64))
				return nil
			}
			u.PostSubscriptions = append(u.PostSubscriptions, s)
		default:
			h, err := id.Normalize(s)
			if err != nil {
				st.warn("%s left out: %v", where, clipErr(err))
				return nil
			}
			u.Blocks = append(u.Blocks, h)
		}
	case "others_data.non_contact_authors":
		var rp struct {
			AccountID  string `json:"account_id"`
			GUID       string `json:"guid"`
			PublicKey  string `json:"public_key"`
			PersonName string `json:"person_name"`
		}
		if err := json.Unmarshal(raw, &rp); err != nil {
			st.warn("%s left out: %v", where, clipErr(err))
			return nil
		}
		h, err := id.Normalize(rp.AccountID)
		if err != nil || !id.ValidGUID(rp.GUID) {
			st.warn("%s left out: no valid account_id and guid", where)
			return nil
		}
		p := Person{Handle: h, GUID: rp.GUID}
		if len(rp.PublicKey) <= maxKeyPEM {
			p.PublicKey = rp.PublicKey
		}
		if utf8.RuneCountInString(rp.PersonName) <= maxShortString {
			p.Name = strings.TrimSpace(rp.PersonName)
		}
		st.a.NonContactAuthors = append(st.a.NonContactAuthors, p)
	default: // the rest of others_data: validated, not used
		st.a.Others++
	}
	return nil
}

// parsePost reads an own post: the entity and the subscription lists
// beside it.
func parsePost(raw []byte) (Post, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Post{}, err
	}
	var p Post
	for key, dst := range map[string]*[]string{"subscribed_pods_uris": &p.SubscribedPods, "subscribed_users_ids": &p.SubscribedUsers} {
		v, ok := m[key]
		if !ok {
			continue
		}
		delete(m, key)
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return Post{}, fmt.Errorf("%s: %w", key, err)
		}
		for _, s := range list {
			if s == "" || len(s) > maxURI {
				continue
			}
			if key == "subscribed_users_ids" {
				h, err := id.Normalize(s)
				if err != nil {
					continue // someone the new pod could not reach anyway
				}
				s = h
			}
			*dst = append(*dst, s)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Post{}, err
	}
	e, err := entity.ParseJSON(b)
	if err != nil {
		return Post{}, err
	}
	switch e.(type) {
	case *entity.StatusMessage, *entity.Reshare:
	default:
		return Post{}, fmt.Errorf("a %s is not a post", e.Type())
	}
	p.Entity = e
	return p, nil
}

// parseContact reads one contact (already checked against the schema).
func parseContact(raw []byte) (Contact, error) {
	var rc struct {
		Sharing    bool     `json:"sharing"`
		Following  bool     `json:"following"`
		Receiving  bool     `json:"receiving"`
		Followed   bool     `json:"followed"`
		AccountID  string   `json:"account_id"`
		Groups     []string `json:"contact_groups_membership"`
		PersonName string   `json:"person_name"`
		PersonGUID string   `json:"person_guid"`
		PublicKey  string   `json:"public_key"`
	}
	if err := json.Unmarshal(raw, &rc); err != nil {
		return Contact{}, err
	}
	h, err := id.Normalize(rc.AccountID)
	if err != nil {
		return Contact{}, fmt.Errorf("account_id: %w", err)
	}
	c := Contact{Handle: h, Sharing: rc.Sharing, Receiving: rc.Receiving, Following: rc.Following, Followed: rc.Followed}
	if id.ValidGUID(rc.PersonGUID) {
		c.GUID = rc.PersonGUID
	}
	if utf8.RuneCountInString(rc.PersonName) <= maxShortString {
		c.Name = strings.TrimSpace(rc.PersonName)
	}
	if len(rc.PublicKey) <= maxKeyPEM {
		c.PublicKey = rc.PublicKey
	}
	for _, g := range rc.Groups {
		if g = strings.TrimSpace(g); g != "" && utf8.RuneCountInString(g) <= maxShortString {
			c.Aspects = append(c.Aspects, g)
		}
	}
	return c, nil
}

// finish validates the document without its arrays' items against the
// schema, reads the user's settings, profile and key, and keeps only the
// posts and relayables of the archive's owner.
func (st *readState) finish() (*Archive, error) {
	if err := st.rd.sch.root.Validate(any(st.root)); err != nil {
		return nil, fmt.Errorf("%w: the archive does not match the archive schema: %s", ErrMalformed, schemaError(err))
	}
	a, u := st.a, &st.a.User
	if err := json.Unmarshal(st.raw["version"], &a.Version); err != nil {
		return nil, readErr("version", err)
	}
	str := func(key string, max int, dst *string) error {
		raw, ok := st.raw[key]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return readErr("user."+key, err)
		}
		if utf8.RuneCountInString(*dst) > max {
			return fmt.Errorf("%w: user.%s is longer than %d characters", ErrTooLarge, key, max)
		}
		return nil
	}
	for _, f := range []struct {
		key string
		max int
		dst *string
	}{
		{"username", maxShortString, &u.Username}, {"email", maxShortString, &u.Email},
		{"language", maxShortString, &u.Language}, {"private_key", maxKeyPEM, &u.KeyPEM},
		{"auto_follow_back_aspect", maxShortString, &u.AutoFollowBackAspect},
	} {
		if err := str(f.key, f.max, f.dst); err != nil {
			return nil, err
		}
	}
	if raw, ok := st.raw["auto_follow_back"]; ok {
		_ = json.Unmarshal(raw, &u.AutoFollowBack) // the schema made it a boolean
	}
	k, err := keys.ParsePrivate([]byte(u.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: user.private_key: %v", ErrMalformed, err)
	}
	u.Key = k
	if err := st.profile(); err != nil {
		return nil, err
	}
	st.ownOnly()
	return a, nil
}

// profile reads the owner's profile; its author is the archive's owner.
func (st *readState) profile() error {
	u := &st.a.User
	raw := st.raw["profile"]
	e, err := entity.ParseJSON(raw)
	if err == nil {
		if p, ok := e.(*entity.Profile); ok {
			u.Profile = p
			u.Handle = strings.ToLower(p.AuthorID)
			return nil
		}
		err = fmt.Errorf("a %s is not a profile", e.Type())
	}
	// The profile breaks the entity rules (a name too long, say): keep
	// the owner's ID and leave the profile out.
	var pr struct {
		Data struct {
			Author string `json:"author"`
		} `json:"entity_data"`
	}
	if jerr := json.Unmarshal(raw, &pr); jerr != nil {
		return readErr("user.profile", jerr)
	}
	h, nerr := id.Normalize(pr.Data.Author)
	if nerr != nil {
		return fmt.Errorf("%w: user.profile: the author is not a diaspora* ID: %v", ErrMalformed, clipErr(nerr))
	}
	u.Handle = h
	st.warn("user.profile left out: %v", clipErr(err))
	return nil
}

// ownOnly drops posts and relayables by anyone but the owner, and posts
// whose guid came before (the first one stays).
func (st *readState) ownOnly() {
	u := &st.a.User
	posts := u.Posts[:0]
	seen := map[string]bool{}
	for _, p := range u.Posts {
		g := p.GUID()
		switch {
		case strings.ToLower(p.Entity.Author()) != u.Handle:
			st.warn("post %s left out: its author %s is not the archive's owner %s", g, clip(p.Entity.Author(), 80), u.Handle)
		case seen[g]:
			st.warn("post %s left out: the guid appears twice", g)
		default:
			seen[g] = true
			posts = append(posts, p)
		}
	}
	u.Posts = posts
	rels := u.Relayables[:0]
	seenRel := map[string]bool{}
	for _, r := range u.Relayables {
		switch {
		case strings.ToLower(r.Author()) != u.Handle:
			st.warn("%s %s left out: its author %s is not the archive's owner %s", r.Type(), r.GUID(), clip(r.Author(), 80), u.Handle)
		case seenRel[r.GUID()]:
			st.warn("%s %s left out: the guid appears twice", r.Type(), r.GUID())
		default:
			seenRel[r.GUID()] = true
			rels = append(rels, r)
		}
	}
	u.Relayables = rels
}

// depthOK reports whether the JSON value b nests objects and arrays at
// most max deep.
func depthOK(b []byte, max int) bool {
	d := 0
	inStr, esc := false, false
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			if d++; d > max {
				return false
			}
		case '}', ']':
			d--
		}
	}
	return true
}

// capReader fails with ErrTooLarge once more than max bytes came through.
type capReader struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, c.err()
	}
	if rem := c.max + 1 - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := c.r.Read(p)
	c.n += int64(k)
	if c.n > c.max {
		return k - int(c.n-c.max), c.err()
	}
	return k, err
}

func (c *capReader) err() error {
	return fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, c.what, c.max)
}
