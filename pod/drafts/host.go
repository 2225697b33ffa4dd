package drafts

import (
	"context"
	"errors"
	"slices"
)

// Host is what the folder needs of the pod: its drafts (a multi-value
// register each), aspects and photos. The pod implements it; this package
// never reaches the database itself. Methods are called from one goroutine
// at a time per Folder.
type Host interface {
	// Drafts lists every live draft: id → revision.
	Drafts(ctx context.Context) (map[string]string, error)
	// Draft reads one draft; ok is false when it has no live version
	// (deleted or published).
	Draft(ctx context.Context, id string) (d Draft, ok bool, err error)
	// CreateDraft stores a new draft.
	CreateDraft(ctx context.Context, c Content) (Draft, error)
	// WriteDraft writes a version of draft id that supersedes exactly the
	// versions in pred (a version not named stays live beside it: that is
	// how both sides of a conflict are kept). On a deleted draft the new
	// version is live beside the delete, as an edit concurrent with a
	// delete survives it: the draft comes back. Draft.Written is the
	// version written.
	WriteDraft(ctx context.Context, id string, c Content, pred []string) (Draft, error)
	// DeleteVersions deletes exactly the named versions of draft id (all
	// of them deletes the draft); the draft as it is after, ok false when
	// nothing is left.
	DeleteVersions(ctx context.Context, id string, versions []string) (d Draft, ok bool, err error)
	// PublishDraft publishes draft id as a post (queued in the outbox) and
	// removes the draft, if it is still at revision.
	PublishDraft(ctx context.Context, id, revision string) (Published, error)
	// PublishContent publishes content that is no draft (a file outside
	// the folder) as a post.
	PublishContent(ctx context.Context, c Content) (Published, error)
	// PublishedAs tells whether draft id ended by being published (on any
	// device), and as which post.
	PublishedAs(ctx context.Context, id string) (postGUID string, ok bool, err error)
	// Aspects are the user's aspects.
	Aspects(ctx context.Context) ([]Aspect, error)
	// UploadPhoto stores a picture as a pending photo and returns its guid.
	UploadPhoto(ctx context.Context, name string, data []byte) (guid string, err error)
	// PhotoUsable tells whether guid is still a pending photo of the user
	// (not attached to a post, not deleted): only then is it reused for
	// another file with the same picture.
	PhotoUsable(ctx context.Context, guid string) (bool, error)
}

// ErrRefused is wrapped by a Host's refusal of the content it was given
// (text too long, an aspect that does not exist, not a picture): the file
// is what is wrong, and the draft shows the error. Any other error is the
// pod's, and the folder tries again later.
var ErrRefused = errors.New("refused")

// Content is what a draft holds, as the folder sees it.
type Content struct {
	Body           string
	Public         bool
	Aspects        []int64
	Photos         []string // photo guids
	Poll           *Poll
	Location       *Location
	Tags           []string
	NSFW           bool
	ContentWarning string
}

// Equal compares two contents as a file shows them: the body without
// leading blank lines and trailing white space, empty lists like absent
// ones.
func (c Content) Equal(o Content) bool {
	if trimBody(c.Body) != trimBody(o.Body) || c.Public != o.Public || c.NSFW != o.NSFW || c.ContentWarning != o.ContentWarning ||
		!slices.Equal(c.Aspects, o.Aspects) || !slices.Equal(c.Photos, o.Photos) || !slices.Equal(c.Tags, o.Tags) {
		return false
	}
	if (c.Poll == nil) != (o.Poll == nil) || c.Poll != nil && (c.Poll.Question != o.Poll.Question || !slices.Equal(c.Poll.Answers, o.Poll.Answers)) {
		return false
	}
	if (c.Location == nil) != (o.Location == nil) || c.Location != nil && *c.Location != *o.Location {
		return false
	}
	return true
}

// Draft is a draft with its live versions, newest first.
type Draft struct {
	ID       string
	Revision string
	Versions []Version
	// Written is the version a WriteDraft or CreateDraft wrote.
	Written string
}

// version finds a live version by id.
func (d Draft) version(id string) (Version, bool) {
	for _, v := range d.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return Version{}, false
}

// Version is one live version of a draft.
type Version struct {
	ID      string
	Content Content
}

// Aspect is one of the user's aspects.
type Aspect struct {
	ID   int64
	Name string
}

// Published is the post a publish made.
type Published struct {
	PostGUID string
}
