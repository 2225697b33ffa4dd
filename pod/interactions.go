package pod

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// The interactions use cases (API.md §3.2–3.5): comments, likes, reshares,
// poll votes, and the post interaction sets (subscribe, mute, hide,
// report). Every refusal changes nothing.
//
// Decisions worth knowing:
//   - Two devices may like (or vote in) the same thing concurrently: both
//     publishes stay, with different guids. Readers count the user once
//     (liked: true, one like in the list and the count; the first vote);
//     Unlike retracts every live own like of the target.
//   - Deleting someone else's comment on the user's own post cannot
//     retract it (only its author can), so it is hidden locally: the
//     hidden_comments set. It disappears from lists and counters on every
//     device; federation has nothing to send for it.
//   - Subscribed is store.Subscribed's rule: own posts and posts the user
//     commented on, liked, voted in or reshared, plus explicit subscribes,
//     minus mutes. Taking part again removes a mute.

// Messages of refusals the v1 API words this way.
const (
	msgPostNotFound    = "Post with provided guid could not be found"
	msgCommentNotFound = "Comment not found for the given post"
)

// interactionPost reads a post the user can see, or ErrNotFound.
func interactionPost(ctx context.Context, q store.Querier, guid string) (store.PostTarget, error) {
	post, ok, err := store.LookupPostTarget(ctx, q, guid)
	if err != nil {
		return post, err
	}
	if !ok {
		return post, fmt.Errorf("%w: %s", ErrNotFound, msgPostNotFound)
	}
	return post, nil
}

// interactionTarget is the guid a like or like list is about: the post, or
// a shown comment of it (ErrNotFound otherwise).
func interactionTarget(ctx context.Context, q store.Querier, postGUID, commentGUID string) (string, error) {
	if _, err := interactionPost(ctx, q, postGUID); err != nil {
		return "", err
	}
	if commentGUID == "" {
		return postGUID, nil
	}
	_, ok, err := store.CommentOnPost(ctx, q, postGUID, commentGUID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNotFound, msgCommentNotFound)
	}
	return commentGUID, nil
}

// interactionNeedMe reads the identity inside a write, or ErrNoIdentity.
func interactionNeedMe(w *store.Writer) (store.Me, error) {
	me, err := w.Me()
	if err != nil {
		return me, err
	}
	if !me.Exists() {
		return me, fmt.Errorf("%w: create the identity first", ErrNoIdentity)
	}
	return me, nil
}

// interactionPublish appends an own entity created now.
func interactionPublish(w *store.Writer, kind, parent string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	guid := newGUID()
	_, err = w.Append(oplog.Publish{GUID: guid, Kind: kind, Parent: parent, CreatedAt: w.Now().UnixMilli(), Body: b})
	return guid, err
}

// interactionSetAdd adds member to set unless it is a member already.
func interactionSetAdd(w *store.Writer, set, member string) error {
	in, err := store.IsMember(w.Ctx(), w, set, member)
	if err != nil || in {
		return err
	}
	_, err = w.Append(oplog.SetAdd{Set: set, Member: member})
	return err
}

// interactionSetRemove removes member from set (the add tags seen here),
// if present.
func interactionSetRemove(w *store.Writer, set, member string) error {
	tags, err := store.SetTags(w.Ctx(), w, set, member)
	if err != nil || len(tags) == 0 {
		return err
	}
	_, err = w.Append(oplog.SetRemove{Set: set, Member: member, Observed: oplog.Refs(tags)})
	return err
}

// interactionParticipate is what taking part in a post does to
// notifications: it removes a mute (diaspora* recreates the participation).
func interactionParticipate(w *store.Writer, postGUID string) error {
	return interactionSetRemove(w, store.MutedSet, postGUID)
}

// interactionReportReason checks a report's reason.
func interactionReportReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", fmt.Errorf("%w: give a reason for the report", ErrInvalid)
	}
	if err := checkText("the reason", reason, 1000); err != nil {
		return "", err
	}
	return reason, nil
}

// interactionReport records a report of a post or comment guid.
func interactionReport(w *store.Writer, guid, reason, what string) error {
	in, err := store.IsMember(w.Ctx(), w, store.ReportedSet, guid)
	if err != nil {
		return err
	}
	if in {
		return fmt.Errorf("%w: this %s has already been reported", ErrConflict, what)
	}
	if _, err := w.Append(oplog.SetAdd{Set: store.ReportedSet, Member: guid}); err != nil {
		return err
	}
	_, err = w.Append(oplog.SetField{Key: store.ReportKey(guid), Value: reason})
	return err
}

// ---- Comments ----

// PostComments lists the shown comments of a post a page at a time.
func (p *Pod) PostComments(ctx context.Context, postGUID string, page store.TimeBound) ([]apiv1.Comment, error) {
	if _, err := interactionPost(ctx, p.db.R, postGUID); err != nil {
		return nil, err
	}
	cs, err := store.CommentsPage(ctx, p.db.R, postGUID, page)
	if err != nil {
		return nil, err
	}
	return p.presentComments(ctx, cs)
}

// AddComment comments on a post the user can see.
func (p *Pod) AddComment(ctx context.Context, postGUID, text string) (apiv1.Comment, error) {
	if strings.TrimSpace(text) == "" {
		return apiv1.Comment{}, fmt.Errorf("%w: the comment is empty", ErrInvalid)
	}
	if err := markup.Check(text); err != nil {
		return apiv1.Comment{}, fmt.Errorf("%w: the comment: %w", ErrInvalid, err)
	}
	var guid string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionPost(ctx, w, postGUID); err != nil {
			return err
		}
		var err error
		if guid, err = interactionPublish(w, "comment", postGUID, map[string]string{"text": text}); err != nil {
			return err
		}
		return interactionParticipate(w, postGUID)
	})
	if err != nil {
		return apiv1.Comment{}, err
	}
	c, ok, err := store.CommentOnPost(ctx, p.db.R, postGUID, guid)
	if err != nil {
		return apiv1.Comment{}, err
	}
	if !ok {
		return apiv1.Comment{}, fmt.Errorf("comment %s was written but is not shown", guid)
	}
	out, err := p.presentComments(ctx, []store.CommentView{c})
	if err != nil {
		return apiv1.Comment{}, err
	}
	return out[0], nil
}

// DeleteComment deletes a comment: the user's own is retracted; someone
// else's on the user's own post is hidden locally (see the package notes).
func (p *Pod) DeleteComment(ctx context.Context, postGUID, commentGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		post, err := interactionPost(ctx, w, postGUID)
		if err != nil {
			return err
		}
		c, ok, err := store.CommentOnPost(ctx, w, postGUID, commentGUID)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			return fmt.Errorf("%w: %s", ErrNotFound, msgCommentNotFound)
		case c.Own:
			_, err = w.Append(oplog.Retract{GUID: commentGUID})
			return err
		case post.Own:
			return interactionSetAdd(w, store.HiddenCommentsSet, commentGUID)
		}
		return fmt.Errorf("%w: only your own comments and comments on your posts can be deleted", ErrForbidden)
	})
}

// ReportComment reports a comment of a post.
func (p *Pod) ReportComment(ctx context.Context, postGUID, commentGUID, reason string) error {
	reason, err := interactionReportReason(reason)
	if err != nil {
		return err
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionTarget(ctx, w, postGUID, commentGUID); err != nil {
			return err
		}
		return interactionReport(w, commentGUID, reason, "comment")
	})
}

// presentComments turns comment rows into v1 Comments.
func (p *Pod) presentComments(ctx context.Context, cs []store.CommentView) ([]apiv1.Comment, error) {
	out := make([]apiv1.Comment, 0, len(cs))
	for _, c := range cs {
		author, err := p.interactionAuthor(ctx, c.Own, c.Author)
		if err != nil {
			return nil, err
		}
		mentioned := []apiv1.Person{}
		for _, h := range c.Mentions {
			person, ok, err := p.interactionPerson(ctx, h)
			if err != nil {
				return nil, err
			}
			if ok {
				mentioned = append(mentioned, person)
			}
		}
		out = append(out, apiv1.Comment{
			GUID:            c.GUID,
			CreatedAt:       apiv1.NewTime(time.UnixMilli(c.CreatedAt)),
			Author:          author,
			Body:            c.Text,
			MentionedPeople: mentioned,
			Reported:        c.Reported,
			Interactions:    apiv1.CommentInteractions{Liked: c.Liked, LikesCount: c.Likes},
		})
	}
	return out, nil
}

// CommentsHTML sets the HTML of comments as presented (a Seedpod
// extension the client asks for: the schema closes the comment). Mentions
// link to the people in each comment's mentioned_people, which already
// holds every known person it mentions (the user too), so nothing is read.
// The footnote ids start with the comment's guid.
func CommentsHTML(cs []apiv1.Comment) {
	for i := range cs {
		c := &cs[i]
		c.HTML = renderHTML(c.Body, c.GUID, func(handle string) (apiv1.Person, bool) {
			for _, pe := range c.MentionedPeople {
				if strings.EqualFold(handle, pe.DiasporaID) {
					return pe, true
				}
			}
			return apiv1.Person{}, false
		})
	}
}

// ---- Likes ----

// Likes lists the likes of a post (commentGUID "") or of one of its
// comments, one per person, the user's first; more is true when another
// page follows.
func (p *Pod) Likes(ctx context.Context, postGUID, commentGUID string, offset, limit int) (likes []apiv1.Like, more bool, err error) {
	target, err := interactionTarget(ctx, p.db.R, postGUID, commentGUID)
	if err != nil {
		return nil, false, err
	}
	rows, err := store.LikesPage(ctx, p.db.R, target, offset, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(rows) > limit {
		rows, more = rows[:limit], true
	}
	likes = make([]apiv1.Like, 0, len(rows))
	for _, l := range rows {
		author, err := p.interactionAuthor(ctx, l.Own, l.Author)
		if err != nil {
			return nil, false, err
		}
		likes = append(likes, apiv1.Like{GUID: l.GUID, Author: author})
	}
	return likes, more, nil
}

// Like likes a post (commentGUID "") or one of its comments.
func (p *Pod) Like(ctx context.Context, postGUID, commentGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		target, err := interactionTarget(ctx, w, postGUID, commentGUID)
		if err != nil {
			return err
		}
		mine, err := store.OwnLikes(ctx, w, target)
		if err != nil {
			return err
		}
		if len(mine) > 0 {
			return fmt.Errorf("%w: you already like this", ErrConflict)
		}
		typ := "Post"
		if commentGUID != "" {
			typ = "Comment"
		}
		if _, err := interactionPublish(w, "like", target, map[string]string{"target_type": typ}); err != nil {
			return err
		}
		if commentGUID == "" {
			return interactionParticipate(w, postGUID)
		}
		return nil
	})
}

// Unlike retracts the user's like of a post or comment: every live one
// (two devices may have liked concurrently).
func (p *Pod) Unlike(ctx context.Context, postGUID, commentGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		target, err := interactionTarget(ctx, w, postGUID, commentGUID)
		if err != nil {
			return err
		}
		mine, err := store.OwnLikes(ctx, w, target)
		if err != nil {
			return err
		}
		if len(mine) == 0 {
			return fmt.Errorf("%w: you do not like this", ErrGone)
		}
		for _, g := range mine {
			if _, err := w.Append(oplog.Retract{GUID: g}); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- Reshares ----

// Reshares lists the reshares of a public post, the user's first; more is
// true when another page follows.
func (p *Pod) Reshares(ctx context.Context, postGUID string, offset, limit int) (list []apiv1.ReshareEntry, more bool, err error) {
	post, err := interactionPost(ctx, p.db.R, postGUID)
	if err != nil {
		return nil, false, err
	}
	if !post.Public {
		return nil, false, fmt.Errorf("%w: %s", ErrNotFound, msgPostNotFound)
	}
	rows, err := store.ResharesPage(ctx, p.db.R, postGUID, offset, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(rows) > limit {
		rows, more = rows[:limit], true
	}
	list = make([]apiv1.ReshareEntry, 0, len(rows))
	for _, r := range rows {
		author, err := p.interactionAuthor(ctx, r.Own, r.Author)
		if err != nil {
			return nil, false, err
		}
		list = append(list, apiv1.ReshareEntry{GUID: r.GUID, CreatedAt: apiv1.NewTime(time.UnixMilli(r.CreatedAt)), Author: author})
	}
	return list, more, nil
}

// Reshare reshares a public post of someone else and returns the reshare's
// guid. A reshare of a reshare reshares its original (the absolute root).
// Refusals follow diaspora*'s code (API.md §3.5): ErrInvalid (422) for an
// unknown post or the user's own, ErrNotFound (404) for a limited post the
// user can see, ErrConflict (409) for a second reshare.
func (p *Pod) Reshare(ctx context.Context, postGUID string) (string, error) {
	var guid string
	err := p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		post, ok, err := store.LookupPostTarget(ctx, w, postGUID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: Failed to reshare: no post %s is known", ErrInvalid, postGUID)
		}
		if post.Own {
			return fmt.Errorf("%w: Failed to reshare: you cannot reshare your own post", ErrInvalid)
		}
		root := post
		if post.PostType == apiv1.PostTypeReshare {
			if root, ok, err = store.LookupPostTarget(ctx, w, post.RootGUID); err != nil {
				return err
			}
			if !ok || post.RootGUID == "" {
				return fmt.Errorf("%w: Failed to reshare: the original post is gone", ErrInvalid)
			}
			if root.Own {
				return fmt.Errorf("%w: Failed to reshare: you cannot reshare your own post", ErrInvalid)
			}
		}
		if !root.Public {
			return fmt.Errorf("%w: only public posts can be reshared", ErrNotFound)
		}
		mine, err := store.OwnReshares(ctx, w, root.GUID)
		if err != nil {
			return err
		}
		if len(mine) > 0 {
			return fmt.Errorf("%w: you already reshared this post", ErrConflict)
		}
		if guid, err = interactionPublish(w, "reshare", root.GUID, struct{}{}); err != nil {
			return err
		}
		return interactionParticipate(w, root.GUID)
	})
	return guid, err
}

// ---- Poll votes ----

// Vote answers the poll of a post: once.
func (p *Pod) Vote(ctx context.Context, postGUID string, answerID int64) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		post, err := interactionPost(ctx, w, postGUID)
		if err != nil {
			return err
		}
		var poll store.PostPoll
		if post.Poll == "" || json.Unmarshal([]byte(post.Poll), &poll) != nil || poll.GUID == "" {
			return fmt.Errorf("%w: this post has no poll", ErrInvalid)
		}
		found := false
		for _, a := range poll.Answers {
			found = found || a.ID == answerID
		}
		if !found {
			return fmt.Errorf("%w: the poll has no answer %d", ErrInvalid, answerID)
		}
		voted, err := store.OwnVoted(ctx, w, poll.GUID)
		if err != nil {
			return err
		}
		if voted {
			return fmt.Errorf("%w: you already voted in this poll", ErrInvalid)
		}
		body := struct {
			PollGUID string `json:"poll_guid"`
			AnswerID int64  `json:"answer_id"`
		}{poll.GUID, answerID}
		if _, err := interactionPublish(w, "poll_vote", postGUID, body); err != nil {
			return err
		}
		return interactionParticipate(w, postGUID)
	})
}

// ---- Post interaction sets ----

// SubscribePost subscribes to notifications about a post.
func (p *Pod) SubscribePost(ctx context.Context, postGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionPost(ctx, w, postGUID); err != nil {
			return err
		}
		sub, err := store.Subscribed(ctx, w, postGUID)
		if err != nil {
			return err
		}
		if sub {
			return fmt.Errorf("%w: you are already subscribed to this post", ErrConflict)
		}
		if err := interactionSetRemove(w, store.MutedSet, postGUID); err != nil {
			return err
		}
		return interactionSetAdd(w, store.SubscribedSet, postGUID)
	})
}

// MutePost stops notifications about a subscribed post.
func (p *Pod) MutePost(ctx context.Context, postGUID string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionPost(ctx, w, postGUID); err != nil {
			return err
		}
		sub, err := store.Subscribed(ctx, w, postGUID)
		if err != nil {
			return err
		}
		if !sub {
			return fmt.Errorf("%w: you are not subscribed to this post", ErrGone)
		}
		if err := interactionSetRemove(w, store.SubscribedSet, postGUID); err != nil {
			return err
		}
		return interactionSetAdd(w, store.MutedSet, postGUID)
	})
}

// HidePost hides a post from the user's streams (hide true) or shows it
// again.
func (p *Pod) HidePost(ctx context.Context, postGUID string, hide bool) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionPost(ctx, w, postGUID); err != nil {
			return err
		}
		hidden, err := store.IsMember(ctx, w, store.HiddenSet, postGUID)
		if err != nil {
			return err
		}
		switch {
		case hide && hidden:
			return fmt.Errorf("%w: the post is already hidden", ErrConflict)
		case !hide && !hidden:
			return fmt.Errorf("%w: the post is not hidden", ErrGone)
		case hide:
			return interactionSetAdd(w, store.HiddenSet, postGUID)
		}
		return interactionSetRemove(w, store.HiddenSet, postGUID)
	})
}

// ReportPost reports a post.
func (p *Pod) ReportPost(ctx context.Context, postGUID, reason string) error {
	reason, err := interactionReportReason(reason)
	if err != nil {
		return err
	}
	return p.log.Write(ctx, func(w *store.Writer) error {
		if _, err := interactionNeedMe(w); err != nil {
			return err
		}
		if _, err := interactionPost(ctx, w, postGUID); err != nil {
			return err
		}
		return interactionReport(w, postGUID, reason, "post")
	})
}

// ---- Authors ----

// interactionAuthor is the short person of an own (the user) or remote
// author (the people area's ShortPersonIn: someone the pod never
// discovered shows with the diaspora ID alone).
func (p *Pod) interactionAuthor(ctx context.Context, own bool, handle string) (apiv1.Person, error) {
	if own {
		return MePersonIn(ctx, p.db.R)
	}
	return ShortPersonIn(ctx, p.db.R, handle)
}

// interactionPerson is a mentioned person by handle (the user's own handle
// is the user); ok is false for someone the pod does not know, who is left
// out of mentioned_people as diaspora* does.
func (p *Pod) interactionPerson(ctx context.Context, handle string) (apiv1.Person, bool, error) {
	if handle == "" {
		return apiv1.Person{}, false, nil
	}
	person, err := ShortPersonIn(ctx, p.db.R, handle)
	if err != nil {
		return apiv1.Person{}, false, err
	}
	return person, person.GUID != "", nil
}
