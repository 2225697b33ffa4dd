package pod

import (
	"context"
	"fmt"
	"strings"

	"seedpod/pod/apiv1"
	"seedpod/pod/store"
)

// Streams (API.md §3.12): pages of posts, newest first, by the v1 time
// pager. Every stream leaves out hidden posts and posts by people I block
// or ignore; retracted posts have no row at all.

// Stream names.
const (
	StreamMain      = "main"
	StreamAspects   = "aspects"
	StreamTags      = "tags"      // followed tags
	StreamTag       = "tag"       // one tag (search/posts, streams/tag/:tag)
	StreamMentions  = "mentions"  // posts mentioning me
	StreamActivity  = "activity"  // my posts and those I commented on or liked, by last interaction
	StreamLiked     = "liked"     // posts I liked
	StreamCommented = "commented" // posts I commented on
	StreamPerson    = "person"    // one person's posts (StreamQuery.PersonGUID)
	StreamPublic    = "public"    // every public post
)

// StreamQuery names a stream and its parameters.
type StreamQuery struct {
	Name string
	// AspectIDs for StreamAspects; nil means all my aspects.
	AspectIDs []int64
	// Tag for StreamTag, with or without '#', any case.
	Tag string
	// PersonGUID for StreamPerson; my own guid gives my posts.
	PersonGUID string
	// Anonymous shows the posts without my interactions (search/posts).
	Anonymous bool
}

// PostPage is one page of a stream and its edges for the Link header.
type PostPage struct {
	Posts       []apiv1.Post
	First, Last apiv1.Cursor
}

// Stream reads one page of a stream.
func (p *Pod) Stream(ctx context.Context, sq StreamQuery, page apiv1.TimePage) (PostPage, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return PostPage{}, err
	}
	s := store.Stream{Me: me.Handle()}
	switch sq.Name {
	case StreamMain:
		s.Kind = store.StreamMain
	case StreamAspects:
		s.Kind, s.AspectIDs = store.StreamAspects, sq.AspectIDs
	case StreamTags:
		s.Kind = store.StreamFollowedTags
	case StreamTag:
		tag := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(sq.Tag), "#"))
		if tag == "" {
			return PostPage{}, fmt.Errorf("%w: tag is required", ErrInvalid)
		}
		s.Kind, s.Tag = store.StreamTag, tag
	case StreamMentions:
		s.Kind = store.StreamMentions
	case StreamActivity:
		s.Kind = store.StreamActivity
	case StreamLiked:
		s.Kind = store.StreamLiked
	case StreamCommented:
		s.Kind = store.StreamCommented
	case StreamPerson:
		own, handle, err := p.postsAuthor(ctx, sq.PersonGUID)
		if err != nil {
			return PostPage{}, err
		}
		s.Kind, s.Own, s.Author = store.StreamAuthor, own, handle
	case StreamPublic:
		s.Kind = store.StreamPublic
	default:
		return PostPage{}, fmt.Errorf("%w: no stream %q", ErrNotFound, sq.Name)
	}
	at := func(r store.PostRow) int64 {
		if s.Kind == store.StreamActivity {
			return r.InteractedAt
		}
		return r.CreatedAt
	}
	// Mute filters (pod/filters.go) act on every stream but a person's
	// posts; the page's edges are the rows examined, hidden ones included.
	var fs *filterSet
	if sq.Name != StreamPerson {
		if fs, err = p.activeFilters(ctx, FilterStreams); err != nil {
			return PostPage{}, err
		}
	}
	rows, first, last, marks, err := p.filteredStream(ctx, s, postsTimeBound(page), fs, at)
	if err != nil {
		return PostPage{}, err
	}
	posts, err := p.presentPosts(ctx, rows, !sq.Anonymous)
	if err != nil {
		return PostPage{}, err
	}
	markFiltered(posts, marks)
	out := PostPage{Posts: posts}
	if first != nil {
		out.First = apiv1.Cursor{Time: postsTime(at(*first)), GUID: first.GUID}
		out.Last = apiv1.Cursor{Time: postsTime(at(*last)), GUID: last.GUID}
	}
	return out, nil
}
