package pod

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/markup"
	"seedpod/pod/store"
)

// The v1 Post presenter (API.md §2): posts rows to apiv1.Post, with every
// per-post lookup batched over the page (authors, counters, my
// interactions, photos, polls, mentions) and reshares collapsed onto their
// absolute root. Each post also carries its text as safe HTML
// (seedpod.html, rendered by pod/markup): mentions of people the pod knows
// link to /people/<guid>, tags to /tags/<tag>.

// maxRootDepth bounds the walk from a reshare to its absolute root.
// Reshares are made of the absolute root (diaspora's ReshareService), so
// chains are rare; a longer one is shown without its root.
const maxRootDepth = 4

// Post is one post as the API shows it, or ErrNotFound.
func (p *Pod) Post(ctx context.Context, guid string) (apiv1.Post, error) {
	row, ok, err := store.PostByGUID(ctx, p.db.R, guid)
	if err != nil {
		return apiv1.Post{}, err
	}
	if !ok {
		return apiv1.Post{}, errPostNotFound(guid)
	}
	posts, err := p.PresentPosts(ctx, []store.PostRow{row})
	if err != nil {
		return apiv1.Post{}, err
	}
	return posts[0], nil
}

// PresentPosts turns posts rows into v1 Posts, in the same order, as the
// current user sees them.
func (p *Pod) PresentPosts(ctx context.Context, rows []store.PostRow) ([]apiv1.Post, error) {
	return p.presentPosts(ctx, rows, true)
}

// presentPosts does PresentPosts; without withUser, the posts are shown as
// to nobody in particular (own_interaction_state all false, no own_answer),
// as diaspora's search/posts does.
func (p *Pod) presentPosts(ctx context.Context, rows []store.PostRow, withUser bool) ([]apiv1.Post, error) {
	out := make([]apiv1.Post, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	q := p.db.R
	me, err := p.postsMe(ctx)
	if err != nil {
		return nil, err
	}

	absRoot, err := reshareRoots(ctx, q, rows)
	if err != nil {
		return nil, err
	}

	// Everything shown in full: the rows and their roots.
	var shown []store.PostRow
	seen := map[string]bool{}
	add := func(r store.PostRow) {
		if !seen[r.GUID] {
			seen[r.GUID] = true
			shown = append(shown, r)
		}
	}
	for _, r := range rows {
		add(r)
		if r.PostType == store.PostTypeReshare {
			if root, ok := absRoot(r); ok {
				add(root)
			}
		}
	}

	mentions, err := store.PostMentions(ctx, q, shown)
	if err != nil {
		return nil, err
	}
	var guids, handles, photoGUIDs []string
	for _, r := range shown {
		guids = append(guids, r.GUID)
		if !r.Own {
			handles = append(handles, r.Author)
		}
		if r.PostType == store.PostTypeStatusMessage {
			photoGUIDs = append(photoGUIDs, r.Photos...)
			handles = append(handles, mentions[r.GUID]...)
		}
	}
	people, err := store.PostPeopleByHandles(ctx, q, handles)
	if err != nil {
		return nil, err
	}
	// Counters and my state by the interactions area's rules (likes count
	// people, locally hidden comments are not counted, …).
	inter, err := store.InteractionsOfPosts(ctx, q, guids)
	if err != nil {
		return nil, err
	}
	photos, err := store.PhotosByGUIDs(ctx, q, photoGUIDs)
	if err != nil {
		return nil, err
	}

	person := func(handle string) (apiv1.Person, bool) {
		if strings.EqualFold(handle, me.person.DiasporaID) {
			return me.person, me.nsfw
		}
		if pe, ok := people[strings.ToLower(handle)]; ok {
			return apiv1.Person{GUID: pe.GUID, DiasporaID: pe.Handle, Name: pe.Name, Avatar: pe.Avatar}, pe.NSFW
		}
		return apiv1.Person{DiasporaID: handle}, false
	}

	// mentioned is person for renderHTML: known people only.
	mentioned := func(handle string) (apiv1.Person, bool) {
		pe, _ := person(handle)
		return pe, pe.GUID != ""
	}

	built := map[string]apiv1.Post{}
	base := func(r store.PostRow) apiv1.Post {
		author, authorNSFW := me.person, me.nsfw
		if !r.Own {
			author, authorNSFW = person(r.Author)
		}
		post := apiv1.Post{
			GUID:                r.GUID,
			CreatedAt:           apiv1.NewTime(time.UnixMilli(r.CreatedAt)),
			PostType:            r.PostType,
			Public:              r.Public,
			NSFW:                r.NSFW || authorNSFW,
			Author:              author,
			ProviderDisplayName: r.Provider,
		}
		pi := inter[r.GUID]
		post.InteractionCounters = apiv1.InteractionCounters{Comments: pi.Comments, Likes: pi.Likes, Reshares: pi.Reshares}
		if withUser {
			post.OwnInteractionState = apiv1.OwnInteractionState{Liked: pi.Liked, Reshared: pi.Reshared,
				Subscribed: pi.Subscribed, Reported: pi.Reported}
		}
		if r.EditedAt > 0 {
			t := apiv1.NewTime(time.UnixMilli(r.EditedAt))
			post.Seedpod = &apiv1.PostExtension{EditedAt: &t}
		}
		return post
	}
	for _, r := range shown {
		if r.PostType != store.PostTypeStatusMessage {
			continue
		}
		post := base(r)
		post.Body = r.Text
		post.Title = postTitle(r.Title, post.Author)
		var alts []string
		for _, g := range r.Photos {
			if ph, ok := photos[g]; ok {
				post.Photos = append(post.Photos, apiv1.PostPhoto{Dimensions: photoDimensions(ph), Sizes: p.photoSizes(ctx, ph)})
				alts = append(alts, ph.Alt)
			}
		}
		if slices.ContainsFunc(alts, func(a string) bool { return a != "" }) {
			if post.Seedpod == nil {
				post.Seedpod = &apiv1.PostExtension{}
			}
			post.Seedpod.PhotoAlt = alts
		}
		for _, h := range mentions[r.GUID] {
			if pe, _ := person(h); pe.GUID != "" {
				post.MentionedPeople = append(post.MentionedPeople, pe)
			}
		}
		if r.Poll != nil {
			t, err := store.PollTallyOf(ctx, q, r.GUID, r.Poll)
			if err != nil {
				return nil, err
			}
			poll := &apiv1.Poll{GUID: r.Poll.GUID, Question: r.Poll.Question, ParticipationCount: t.Total,
				AlreadyParticipated: withUser && t.Own != 0}
			for _, a := range r.Poll.Answers {
				pa := apiv1.PollAnswer{ID: a.ID, Answer: a.Answer, VoteCount: t.Counts[a.ID]}
				if withUser {
					own := t.Own == a.ID
					pa.OwnAnswer = &own
				}
				poll.Answers = append(poll.Answers, pa)
			}
			post.Poll = poll
		}
		if r.Location != nil {
			post.Location = &apiv1.Location{Address: r.Location.Address, Lat: r.Location.Lat, Lng: r.Location.Lng}
		}
		if h := p.renderPostHTML(r.Text, r.GUID, post.MentionedPeople, mentioned); h != "" {
			if post.Seedpod == nil {
				post.Seedpod = &apiv1.PostExtension{}
			}
			post.Seedpod.HTML = h
			post.Seedpod.ContentWarning = contentWarning(r.Text)
		}
		built[r.GUID] = post
	}
	for _, r := range rows {
		if r.PostType == store.PostTypeStatusMessage {
			out = append(out, built[r.GUID])
			continue
		}
		post := base(r)
		root, ok := absRoot(r)
		if rp, has := built[root.GUID]; ok && has {
			post.Body, post.Title, post.Photos, post.Poll = rp.Body, rp.Title, rp.Photos, rp.Poll
			post.Location, post.MentionedPeople, post.NSFW = rp.Location, rp.MentionedPeople, rp.NSFW
			post.Root = &rp
			if rp.Seedpod != nil && rp.Seedpod.HTML != "" {
				// The root's text under the reshare's guid: footnote ids
				// must not collide when both are on one page. Without
				// footnotes the prefix is nowhere in the HTML, so the
				// root's rendering is reused rather than rendered again.
				h := rp.Seedpod.HTML
				if strings.Contains(h, "fn:") {
					h = p.renderPostHTML(root.Text, r.GUID, rp.MentionedPeople, mentioned)
				}
				post.Seedpod = &apiv1.PostExtension{HTML: h, ContentWarning: rp.Seedpod.ContentWarning}
			}
			if rp.Seedpod != nil && rp.Seedpod.PhotoAlt != nil {
				if post.Seedpod == nil {
					post.Seedpod = &apiv1.PostExtension{}
				}
				post.Seedpod.PhotoAlt = rp.Seedpod.PhotoAlt
			}
		} else {
			post.Title = postTitle("", post.Author)
		}
		out = append(out, post)
	}
	if err := p.markDelivery(ctx, out, me.person.GUID); err != nil {
		return nil, err
	}
	return out, nil
}

// markDelivery sets seedpod.delivery.state on the user's own posts:
// "queued" while the outbox still holds them (no relay has taken them),
// "handed" once one has (GET /deliveries/:guid tells what happened next).
func (p *Pod) markDelivery(ctx context.Context, posts []apiv1.Post, me string) error {
	if me == "" {
		return nil
	}
	var own []string
	for _, post := range posts {
		if post.Author.GUID == me {
			own = append(own, post.GUID)
		}
	}
	if len(own) == 0 {
		return nil
	}
	handed, err := store.LiveMembers(ctx, p.db.R, store.HandedSet, own)
	if err != nil {
		return err
	}
	for i := range posts {
		if posts[i].Author.GUID != me {
			continue
		}
		if posts[i].Seedpod == nil {
			posts[i].Seedpod = &apiv1.PostExtension{}
		}
		state := "queued"
		if handed[posts[i].GUID] {
			state = "handed"
		}
		posts[i].Seedpod.Delivery = &apiv1.Delivery{State: state}
	}
	return nil
}

// renderHTML is text as safe HTML (pod/markup) for the API's html keys;
// footnote ids start with idPrefix (the guid of the post, comment or
// message). person resolves a mentioned handle (lowercase, as markup gives
// it) from lookups already made for the page, so rendering queries
// nothing: a known person (ok with a guid) becomes a link to
// /people/<guid> shown with their display name, anyone else plain text.
// Tags link to /tags/<tag>. Text markup.Check refuses (invalid UTF-8,
// control characters, too long: possible only in received text) gives "",
// so the key is left out and clients show the body as text.
func renderHTML(text, idPrefix string, person func(handle string) (apiv1.Person, bool)) string {
	if text == "" {
		return ""
	}
	r, err := markup.Render(text, markup.Options{
		IDPrefix: idPrefix,
		PersonURL: func(handle, _ string) (string, string, bool) {
			pe, ok := person(handle)
			if !ok || pe.GUID == "" {
				return "", "", false
			}
			return "/people/" + url.PathEscape(pe.GUID), pe.Name, true
		},
	})
	if err != nil {
		return ""
	}
	return r.HTML
}

// postTitle is diaspora's post title: the first heading or the start of
// the text (markup's Title, projected into posts.title), or "A post from
// <name>" when there is no text.
func postTitle(title string, author apiv1.Person) string {
	if title != "" {
		return title
	}
	name := author.Name
	if name == "" {
		name = author.DiasporaID
	}
	return "A post from " + name
}

func photoDimensions(ph store.PhotoRow) apiv1.PhotoDimensions {
	var d apiv1.PhotoDimensions
	if ph.Width > 0 && ph.Height > 0 {
		w, h := ph.Width, ph.Height
		d.Width, d.Height = &w, &h
	}
	return d
}

// photoSizes are a photo's URLs: own photos' blobs are served by the pod
// (mediaURL), received ones stay where their pod has them.
func (p *Pod) photoSizes(ctx context.Context, ph store.PhotoRow) apiv1.PhotoSizes {
	s := ph.Sizes
	if ph.Own {
		return apiv1.PhotoSizes{Small: mediaURL(ctx, s.Small), Medium: mediaURL(ctx, s.Medium),
			Large: mediaURL(ctx, s.Large), Raw: mediaURL(ctx, s.Raw)}
	}
	return apiv1.PhotoSizes{Small: s.Small, Medium: s.Medium, Large: s.Large, Raw: s.Raw}
}

// presentPhoto is the full v1 photo.
func (p *Pod) presentPhoto(ctx context.Context, ph store.PhotoRow) apiv1.Photo {
	return apiv1.Photo{GUID: ph.GUID, CreatedAt: apiv1.NewTime(time.UnixMilli(ph.CreatedAt)), Post: ph.PostGUID,
		Dimensions: photoDimensions(ph), Sizes: p.photoSizes(ctx, ph)}
}

// reshareRoots reads the posts rows' reshares reshare, level by level
// (at most maxRootDepth), and returns root: a reshare's original post at
// the end of its chain, or false when that is not in the pod or the chain
// is longer; any other post is its own root.
func reshareRoots(ctx context.Context, q store.Querier, rows []store.PostRow) (root func(store.PostRow) (store.PostRow, bool), err error) {
	byGUID := map[string]store.PostRow{}
	for _, r := range rows {
		byGUID[r.GUID] = r
	}
	for range maxRootDepth {
		var missing []string
		for _, r := range byGUID {
			if r.PostType == store.PostTypeReshare && r.RootGUID != "" {
				if _, ok := byGUID[r.RootGUID]; !ok && !slices.Contains(missing, r.RootGUID) {
					missing = append(missing, r.RootGUID)
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		found, err := store.PostsByGUIDs(ctx, q, missing)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			break
		}
		for g, r := range found {
			byGUID[g] = r
		}
	}
	return func(r store.PostRow) (store.PostRow, bool) {
		for range maxRootDepth + 1 {
			if r.PostType != store.PostTypeReshare {
				return r, true
			}
			next, ok := byGUID[r.RootGUID]
			if !ok || r.RootGUID == "" {
				return store.PostRow{}, false
			}
			r = next
		}
		return store.PostRow{}, false
	}, nil
}

// postsMeView is the user as the author of posts.
type postsMeView struct {
	person apiv1.Person
	nsfw   bool
}

// postsMe reads the user's short person (the people area's MePersonIn)
// and profile nsfw flag; before the identity exists, an empty person.
func (p *Pod) postsMe(ctx context.Context) (postsMeView, error) {
	var v postsMeView
	person, err := MePersonIn(ctx, p.db.R)
	switch {
	case errors.Is(err, ErrNoIdentity):
	case err != nil:
		return v, err
	default:
		v.person = person
	}
	nsfw, err := store.Field(ctx, p.db.R, "profile/nsfw")
	v.nsfw = nsfw == "true"
	return v, err
}

// maxContentWarning bounds the warning taken from a post's first line.
const maxContentWarning = 200

// contentWarning is the warning a post's text opens with: a first line
// "CW: <warning>" (any case, as drafts publish it and as diaspora* users
// write it by hand), or "" when it has none.
func contentWarning(text string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(text, " \t\r\n"), "\n")
	line = strings.TrimSpace(line)
	if len(line) < 3 || !strings.EqualFold(line[:3], "cw:") {
		return ""
	}
	w := strings.TrimSpace(line[3:])
	if r := []rune(w); len(r) > maxContentWarning {
		w = string(r[:maxContentWarning-1]) + "…"
	}
	return w
}
