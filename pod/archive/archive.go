// Package archive owns diaspora* account archives (the profile export,
// JSON version 2.0, gzip or plain) and their photos zips: reading them
// safely, validating them against diaspora*'s own JSON schema, and writing
// them.
//
// Reading is bounded and streaming: the input is capped before and after
// decompression (gzip bombs), every array item is read, validated against
// its part of the schema and turned into entities one at a time (caps on
// its size, its nesting and the number of items), and the rest of the
// document is validated as a whole with the arrays left out, which is the
// same as validating the whole document (the schema puts no constraint on
// an array besides its items). Whatever a hostile file does, the reader
// returns an error wrapping ErrMalformed or ErrTooLarge and nothing else.
// The photos zip is checked entry by entry before anything is read:
// counts, declared and real sizes, names (no paths that climb out, no
// absolute names), only regular files, only images.
//
// It is pure: it imports the standard library, the schema validator and
// pod/diaspora's entity, id and keys packages; never pod, pod/store,
// pod/media or anything that touches a database, files or the network
// (callers hand it readers and writers).
package archive

import (
	"crypto/rsa"
	"errors"

	"seedpod/pod/diaspora/entity"
)

// Version is the archive format version this package reads and writes.
const Version = "2.0"

// Sentinels: every error of the package wraps one of them and says what
// failed with which part of the input.
var (
	// ErrMalformed: the input is not an archive this package accepts (not
	// JSON or gzip, a schema violation, a bad key, a bad zip entry).
	ErrMalformed = errors.New("malformed archive")
	// ErrTooLarge: the input exceeds a cap of Limits or PhotoLimits.
	ErrTooLarge = errors.New("archive too large")
	// ErrUnsafe: a zip entry that could escape the directory it is
	// extracted to, or is not a regular file.
	ErrUnsafe = errors.New("unsafe archive entry")
	// ErrNotImage: a photos zip entry that is not an image of a format
	// the pod decodes (always with ErrMalformed).
	ErrNotImage = errors.New("not an image")
)

// Limits bound what Read accepts. Zero fields take the defaults below.
type Limits struct {
	// MaxInput caps the bytes read from the input (compressed or not).
	MaxInput int64
	// MaxJSON caps the JSON document after decompression.
	MaxJSON int64
	// MaxItems caps the items of any one array (posts, relayables,
	// contacts, tags, …).
	MaxItems int
	// MaxItemBytes caps one array item's JSON: what the entity parser
	// accepts (entity.MaxPayload).
	MaxItemBytes int
	// MaxOther caps the JSON outside the arrays (the user's settings and
	// profile).
	MaxOther int
	// MaxDepth caps the nesting of objects and arrays within an item
	// (a status message with a poll is 7 deep).
	MaxDepth int
	// MaxWarnings caps the warnings kept (the rest are counted).
	MaxWarnings int
}

// Defaults. An account with 10,000 posts makes an archive of about 10 MB;
// diaspora* users have reported accounts of ~500,000 posts, which is more
// than one import should hold in memory, so the caps stop well before.
const (
	DefaultMaxInput    = 256 << 20
	DefaultMaxJSON     = 256 << 20
	DefaultMaxItems    = 250_000
	DefaultMaxItemSize = entity.MaxPayload
	DefaultMaxOther    = 4 << 20
	DefaultMaxDepth    = 16
	DefaultMaxWarnings = 100
)

func (l Limits) withDefaults() Limits {
	if l.MaxInput <= 0 {
		l.MaxInput = DefaultMaxInput
	}
	if l.MaxJSON <= 0 {
		l.MaxJSON = DefaultMaxJSON
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxItemBytes <= 0 {
		l.MaxItemBytes = DefaultMaxItemSize
	}
	if l.MaxOther <= 0 {
		l.MaxOther = DefaultMaxOther
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxWarnings <= 0 {
		l.MaxWarnings = DefaultMaxWarnings
	}
	return l
}

// String field caps of the user object (characters of the reference's
// columns: username and email are varchar(255), the key a PEM of at most
// an 8192-bit key).
const (
	maxShortString = 255
	maxKeyPEM      = 16 << 10
	maxURI         = 2048
)

// Archive is what Read found in an archive: the user's own data. Items the
// schema accepts but that are not usable (an entity its validation
// refuses, an entity by someone else among "own" posts) are left out with
// a warning.
type Archive struct {
	Version string
	User    User
	// NonContactAuthors are the people of others_data.non_contact_authors:
	// known by diaspora* ID and guid, not contacts (the people a block
	// names, in Seedpod's exports).
	NonContactAuthors []Person
	// Others counts the other items of others_data (validated, not used).
	Others int
	// Warnings say what was left out and why (at most Limits.MaxWarnings);
	// Skipped counts every item left out.
	Warnings []string
	Skipped  int
}

// User is the archive's "user" object.
type User struct {
	Username string
	Email    string
	Language string
	// Handle is the archive owner's diaspora* ID (the profile's author),
	// normalised.
	Handle string
	// Key is the owner's private key; KeyPEM its text as the archive has it.
	Key    *rsa.PrivateKey
	KeyPEM string
	// Profile is nil when the archive's profile does not pass the entity
	// rules (a warning says why); Handle is set either way.
	Profile              *entity.Profile
	AutoFollowBack       bool
	AutoFollowBackAspect string
	// ContactGroups are the aspect names, in order.
	ContactGroups []string
	Contacts      []Contact
	// Posts are status messages and reshares by Handle, in archive order,
	// without duplicate guids.
	Posts []Post
	// Relayables are comments, likes and poll participations by Handle.
	Relayables        []entity.Relayable
	FollowedTags      []string
	PostSubscriptions []string
	// Blocks are diaspora* IDs, normalised.
	Blocks []string
}

// Contact is one of the user's contacts.
type Contact struct {
	// Handle is account_id, normalised.
	Handle string
	// GUID is person_guid ("" when the archive has none or it is invalid).
	GUID string
	Name string
	// PublicKey is the PEM the old pod knew (not verified: discovery pins
	// keys).
	PublicKey string
	// Sharing: they share with the user; Receiving: the user shares with
	// them. Following and Followed are the same flags under the names
	// the format added later.
	Sharing, Receiving, Following, Followed bool
	// Aspects are the names of the contact groups they are in.
	Aspects []string
}

// Person is someone the archive names who is not a contact.
type Person struct {
	// Handle is account_id, normalised.
	Handle string
	GUID   string
	// Name is Seedpod's addition (person_name); PublicKey the PEM the old
	// pod knew (not verified).
	Name      string
	PublicKey string
}

// Post is one own post with who was subscribed to it.
type Post struct {
	// Entity is a *entity.StatusMessage or a *entity.Reshare.
	Entity entity.Entity
	// SubscribedPods (public posts and reshares): pod URIs to notify of
	// changes. SubscribedUsers (limited posts): diaspora* IDs.
	SubscribedPods  []string
	SubscribedUsers []string
}

// GUID is the post's guid.
func (p Post) GUID() string { return entity.GUIDOf(p.Entity) }

// PhotoNames lists the photo file names the posts name (remote_photo_name),
// in order, without duplicates: the entries of the photos zip an import
// needs.
func (a *Archive) PhotoNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range a.User.Posts {
		sm, ok := p.Entity.(*entity.StatusMessage)
		if !ok {
			continue
		}
		for _, ph := range sm.Photos {
			if n := ph.RemotePhotoName; n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}
