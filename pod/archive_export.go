package pod

import (
	"compress/gzip"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/archive"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/media"
	"seedpod/pod/store"
)

// Exporting the account as diaspora* does (lib/diaspora/exporter, the
// Export serializers): the archive (JSON version 2.0, gzip) and the photos
// zip. Both read one snapshot of the database (a read transaction), so a
// write during the export does not tear them.
//
// What goes in: the user name, the identity's private key (PKCS#1, as
// diaspora* stores it), the profile, the aspects (contact_groups), the
// contacts with their aspects, the own posts and reshares with their
// subscribers (limited posts: their recipients' diaspora* IDs; public
// ones: the relay, when there is one), the own comments, likes and poll
// votes signed with the identity key (author_signature), the followed
// tags, the blocks and the explicit post subscriptions. Others' data is
// optional in the format and left out. The e-mail address is empty (the
// pod has none); a reshare whose root the pod does not have is left out
// (the schema needs its root).
//
// Photos are named <photo guid>.<ext> in the zip and the archive
// (remote_photo_name), the avatar avatar_<sha256 prefix>.<ext>, linked
// from the profile's image_url as diaspora* names its large size
// (thumb_large_<name>), which an import maps back to the zip entry.

// ExportReport says what an export wrote.
type ExportReport struct {
	Posts      int      `json:"posts"`
	Photos     int      `json:"photos"`
	Comments   int      `json:"comments"`
	Likes      int      `json:"likes"`
	Votes      int      `json:"votes"`
	Contacts   int      `json:"contacts"`
	Skipped    int      `json:"skipped"`
	Warnings   []string `json:"warnings"`
	Identity   string   `json:"identity"`
	exportedAt time.Time
}

func (r *ExportReport) warn(format string, args ...any) {
	r.Skipped++
	if len(r.Warnings) < maxImportWarnings {
		r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
	}
}

// Export phases.
const (
	PhaseExport = "export" // posts and relayables written
	PhaseZip    = "zip"    // photos written
)

// exportBatch is how many posts or comments one query reads.
const exportBatch = 500

// exporter is one export's snapshot.
type exporter struct {
	p     *Pod
	ctx   context.Context
	tx    *sql.Tx
	me    store.Me
	rep   *ExportReport
	media *media.Store
	base  string // remote_photo_path
	relay string // the relay's origin, "" before one is set up
}

// exportBegin opens the snapshot.
func (p *Pod) exportBegin(ctx context.Context, rep *ExportReport) (*exporter, error) {
	tx, err := p.db.R.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin export: %w", err)
	}
	ex := &exporter{p: p, ctx: ctx, tx: tx, rep: rep}
	if ex.me, err = peopleReadMe(ctx, tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	if !ex.me.Exists() {
		tx.Rollback()
		return nil, fmt.Errorf("%w: create or import the identity before exporting it", ErrNoIdentity)
	}
	rep.Identity = ex.me.Handle()
	if ex.media, err = p.mediaStore(); err != nil {
		tx.Rollback()
		return nil, err
	}
	relay, err := store.Field(ctx, tx, RelayURLKey)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	ex.base = "https://" + exportHost(ex.me.Handle()) + "/uploads/images/"
	if u, err := url.Parse(relay); err == nil && relay != "" && u.Host != "" {
		ex.relay = strings.TrimSuffix(relay, "/")
		ex.base = ex.relay + "/uploads/images/"
	}
	rep.exportedAt = p.cfg.Now()
	return ex, nil
}

func exportHost(handle string) string {
	_, h, _ := strings.Cut(handle, "@")
	return h
}

func (ex *exporter) close() { ex.tx.Rollback() }

// key is the identity key: a key locked with a passphrase must have been
// unlocked (ErrKeyLocked otherwise).
func (ex *exporter) key() (*rsa.PrivateKey, error) { return ex.p.cachedKey(ex.ctx) }

// photoName is a blob's name in the photos zip: prefix and the image
// format's extension ("" when the blob is missing or not an image).
func (ex *exporter) photoName(prefix, sha string) string {
	f, err := ex.media.Open(sha)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	ext := map[string]string{"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp"}[archive.ImageType(head[:n])]
	if ext == "" {
		return ""
	}
	return prefix + ext
}

// exportBlob is the blob a photo's zip entry holds: the largest size.
func exportBlob(s store.PhotoSizes) string {
	for _, sha := range []string{s.Raw, s.Large, s.Medium, s.Small} {
		if sha != "" {
			return sha
		}
	}
	return ""
}

// avatar reads the avatar's blob, its zip name without the extension and
// with it ("" without an avatar).
func (ex *exporter) avatar() (sha, prefix, name string, err error) {
	v, err := store.Field(ex.ctx, ex.tx, "profile/avatar")
	if err != nil || v == "" {
		return "", "", "", err
	}
	var s store.PhotoSizes
	if json.Unmarshal([]byte(v), &s) != nil {
		return "", "", "", nil
	}
	sha = exportBlob(s)
	if len(sha) < 20 {
		return "", "", "", nil
	}
	prefix = "avatar_" + sha[:20]
	return sha, prefix, ex.photoName(prefix, sha), nil
}

// profile builds the own profile entity.
func (ex *exporter) profile() (*entity.Profile, error) {
	f := map[string]string{}
	for _, k := range []string{"first_name", "last_name", "location", "gender", "birthday", "tags", "searchable", "nsfw", "public_details"} {
		v, err := store.Field(ex.ctx, ex.tx, "profile/"+k)
		if err != nil {
			return nil, err
		}
		f[k] = v
	}
	pr := &entity.Profile{AuthorID: ex.me.Handle(), FirstName: f["first_name"], LastName: f["last_name"],
		Location: f["location"], Gender: f["gender"], Searchable: f["searchable"] != "false",
		NSFW: f["nsfw"] == "true", Public: f["public_details"] == "true"}
	if _, err := parseArchiveDate(f["birthday"]); err == nil {
		pr.Birthday = f["birthday"]
	}
	var tags []string
	_ = json.Unmarshal([]byte(f["tags"]), &tags)
	for i, t := range tags {
		if i < MaxProfileTags {
			pr.TagString = strings.TrimSpace(pr.TagString + " #" + t)
		}
	}
	vs, err := store.RegisterVersions(ex.ctx, ex.tx, bioRegister)
	if err != nil {
		return nil, err
	}
	if v, ok := newestBio(vs); ok {
		pr.Bio = v.Value
	}
	if _, _, name, err := ex.avatar(); err != nil {
		return nil, err
	} else if name != "" {
		pr.ImageURL = ex.base + "thumb_large_" + name
		pr.ImageURLMedium = ex.base + "thumb_medium_" + name
		pr.ImageURLSmall = ex.base + "thumb_small_" + name
	}
	// A profile field the entity rules refuse (a name of another era)
	// is dropped rather than failing the whole export.
	if _, err := entity.MarshalJSON(pr); err != nil {
		ex.rep.warn("profile: %v; exported with the name and details left out", err)
		pr = &entity.Profile{AuthorID: pr.AuthorID, Searchable: pr.Searchable, NSFW: pr.NSFW, Public: pr.Public,
			ImageURL: pr.ImageURL, ImageURLMedium: pr.ImageURLMedium, ImageURLSmall: pr.ImageURLSmall}
	}
	return pr, nil
}

// header builds the user object but its posts and relayables.
func (ex *exporter) header(key *rsa.PrivateKey) (archive.Header, error) {
	h := archive.Header{Username: ex.me.Username, Key: key}
	var err error
	if h.Profile, err = ex.profile(); err != nil {
		return h, err
	}
	as, err := store.Aspects(ex.ctx, ex.tx)
	if err != nil {
		return h, err
	}
	for _, a := range as {
		h.ContactGroups = append(h.ContactGroups, a.Name)
	}
	rows, err := ex.tx.QueryContext(ex.ctx, `SELECT c.person_guid, c.receiving, c.sharing, p.handle, p.name, p.public_key
		FROM contacts c JOIN people p ON p.guid = c.person_guid ORDER BY p.handle`)
	if err != nil {
		return h, fmt.Errorf("read contacts: %w", err)
	}
	for rows.Next() {
		var c archive.Contact
		if err := rows.Scan(&c.GUID, &c.Receiving, &c.Sharing, &c.Handle, &c.Name, &c.PublicKey); err != nil {
			rows.Close()
			return h, fmt.Errorf("read contacts: %w", err)
		}
		c.Following, c.Followed = c.Sharing, c.Receiving
		h.Contacts = append(h.Contacts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("read contacts: %w", err)
	}
	for i := range h.Contacts {
		as, err := store.AspectsOf(ex.ctx, ex.tx, h.Contacts[i].GUID)
		if err != nil {
			return h, err
		}
		for _, a := range as {
			h.Contacts[i].Aspects = append(h.Contacts[i].Aspects, a.Name)
		}
	}
	ex.rep.Contacts = len(h.Contacts)
	if h.FollowedTags, err = store.Members(ex.ctx, ex.tx, store.SetFollowedTags); err != nil {
		return h, err
	}
	if h.PostSubscriptions, err = store.Members(ex.ctx, ex.tx, store.SubscribedSet); err != nil {
		return h, err
	}
	blocked, err := store.Members(ex.ctx, ex.tx, store.SetBlocks)
	if err != nil {
		return h, err
	}
	people, err := store.PeopleByGUIDs(ex.ctx, ex.tx, blocked)
	if err != nil {
		return h, err
	}
	contacts := map[string]bool{}
	for _, c := range h.Contacts {
		contacts[c.GUID] = true
	}
	for _, g := range blocked {
		sp, ok := people[g]
		if !ok {
			ex.rep.warn("the block of %s left out: the pod does not know their diaspora* ID", g)
			continue
		}
		h.Blocks = append(h.Blocks, sp.Handle)
		if !contacts[g] {
			// Not a contact: others_data names them, so an import knows
			// whom the block is about without asking the network.
			h.NonContactAuthors = append(h.NonContactAuthors, archive.Person{Handle: sp.Handle, GUID: sp.GUID,
				Name: sp.Name, PublicKey: sp.PublicKey})
		}
	}
	return h, nil
}

// ownPosts pages through the own posts oldest first, fn getting each.
func (ex *exporter) ownPosts(fn func(store.PostRow) error) error {
	var at int64 = -1 << 62
	last := ""
	for {
		rows, err := ex.tx.QueryContext(ex.ctx, `SELECT guid, post_type, root_guid, public, text, created_at, edited_at,
			provider, photos, poll, location, recipients FROM posts
			WHERE own = 1 AND (created_at > ?1 OR (created_at = ?1 AND guid > ?2))
			ORDER BY created_at, guid LIMIT ?3`, at, last, exportBatch)
		if err != nil {
			return fmt.Errorf("read own posts: %w", err)
		}
		var batch []store.PostRow
		for rows.Next() {
			var r store.PostRow
			var photos, poll, loc, recips string
			if err := rows.Scan(&r.GUID, &r.PostType, &r.RootGUID, &r.Public, &r.Text, &r.CreatedAt, &r.EditedAt,
				&r.Provider, &photos, &poll, &loc, &recips); err != nil {
				rows.Close()
				return fmt.Errorf("read own posts: %w", err)
			}
			_ = json.Unmarshal([]byte(photos), &r.Photos)
			_ = json.Unmarshal([]byte(recips), &r.Recipients)
			if poll != "" {
				r.Poll = &store.PostPoll{}
				if json.Unmarshal([]byte(poll), r.Poll) != nil {
					r.Poll = nil
				}
			}
			if loc != "" {
				r.Location = &store.PostLocation{}
				if json.Unmarshal([]byte(loc), r.Location) != nil {
					r.Location = nil
				}
			}
			r.Own = true
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read own posts: %w", err)
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(batch) < exportBatch {
			return nil
		}
		at, last = batch[len(batch)-1].CreatedAt, batch[len(batch)-1].GUID
	}
}

func exportTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// post builds the archive entry of an own post (ok false: left out).
func (ex *exporter) post(r store.PostRow) (archive.Post, bool, error) {
	handle := ex.me.Handle()
	var out archive.Post
	if r.PostType == store.PostTypeReshare {
		var own bool
		var author string
		err := ex.tx.QueryRowContext(ex.ctx, "SELECT own, author FROM posts WHERE guid = ?", r.RootGUID).Scan(&own, &author)
		if isNoRows(err) || r.RootGUID == "" {
			ex.rep.warn("reshare %s left out: the pod does not have the post it reshares", r.GUID)
			return out, false, nil
		}
		if err != nil {
			return out, false, fmt.Errorf("read reshared post %s: %w", r.RootGUID, err)
		}
		if own {
			author = handle
		}
		out.Entity = &entity.Reshare{AuthorID: handle, ID: r.GUID, CreatedAt: exportTime(r.CreatedAt), RootAuthorID: author, RootID: r.RootGUID}
		out.SubscribedPods = ex.pods()
		return out, true, nil
	}
	sm := &entity.StatusMessage{AuthorID: handle, ID: r.GUID, CreatedAt: exportTime(r.CreatedAt), Public: r.Public,
		ProviderDisplayName: r.Provider, Text: r.Text}
	if r.EditedAt > r.CreatedAt {
		sm.EditedAt = exportTime(r.EditedAt)
	}
	photos, err := store.PhotosByGUIDs(ex.ctx, ex.tx, r.Photos)
	if err != nil {
		return out, false, err
	}
	for _, g := range r.Photos {
		ph, ok := photos[g]
		if !ok {
			continue
		}
		sha := exportBlob(ph.Sizes)
		name := ex.photoName(ph.GUID, sha)
		if name == "" {
			ex.rep.warn("photo %s of post %s left out: its picture is missing from the media store", ph.GUID, r.GUID)
			continue
		}
		sm.Photos = append(sm.Photos, &entity.Photo{ID: ph.GUID, AuthorID: handle, Public: r.Public,
			CreatedAt: exportTime(ph.CreatedAt), RemotePhotoPath: ex.base, RemotePhotoName: name, Text: ph.Alt,
			StatusMessageGUID: r.GUID, Width: ph.Width, Height: ph.Height})
	}
	if l := r.Location; l != nil {
		sm.Location = &entity.Location{Address: l.Address, Lat: strconv.FormatFloat(l.Lat, 'f', -1, 64),
			Lng: strconv.FormatFloat(l.Lng, 'f', -1, 64)}
	}
	if pl := r.Poll; pl != nil {
		poll := &entity.Poll{ID: pl.GUID, Question: pl.Question}
		for _, a := range pl.Answers {
			poll.Answers = append(poll.Answers, &entity.PollAnswer{ID: exportAnswerGUID(pl, a), Answer: a.Answer})
		}
		sm.Poll = poll
	}
	out.Entity = sm
	if r.Public {
		out.SubscribedPods = ex.pods()
	} else {
		people, err := store.PeopleByGUIDs(ex.ctx, ex.tx, r.Recipients)
		if err != nil {
			return out, false, err
		}
		for _, g := range r.Recipients {
			if sp, ok := people[g]; ok {
				out.SubscribedUsers = append(out.SubscribedUsers, sp.Handle)
			}
		}
	}
	return out, true, nil
}

// exportAnswerGUID is a poll answer's guid; an answer stored without one gets a
// stable one derived from the poll's guid and its id.
func exportAnswerGUID(pl *store.PostPoll, a store.PostPollAnswer) string {
	if a.GUID != "" {
		return a.GUID
	}
	h := sha256.Sum256([]byte(pl.GUID + "/" + strconv.FormatInt(a.ID, 10)))
	return hex.EncodeToString(h[:16])
}

// pods are the subscribed pods of a public post: the relay, once set up.
func (ex *exporter) pods() []string {
	if ex.relay == "" {
		return nil
	}
	return []string{ex.relay + "/"}
}

// exportSign sets a relayable's author_signature with the identity key.
func exportSign(r entity.Relayable, key *rsa.PrivateKey) error {
	if err := entity.SignAuthor(r, key); err != nil {
		return fmt.Errorf("sign %s %s: %w", r.Type(), r.GUID(), err)
	}
	return nil
}

// relayables calls fn with every own comment, like and poll vote, signed.
func (ex *exporter) relayables(key *rsa.PrivateKey, fn func(entity.Relayable) error) error {
	handle := ex.me.Handle()
	var lastID int64 = -1 << 62
	for {
		rows, err := ex.tx.QueryContext(ex.ctx, `SELECT id, guid, post_guid, text, created_at FROM comments
			WHERE own = 1 AND id > ? ORDER BY id LIMIT ?`, lastID, exportBatch)
		if err != nil {
			return fmt.Errorf("read own comments: %w", err)
		}
		var batch []*entity.Comment
		for rows.Next() {
			c := &entity.Comment{AuthorID: handle}
			var at int64
			if err := rows.Scan(&lastID, &c.ID, &c.Parent, &c.Text, &at); err != nil {
				rows.Close()
				return fmt.Errorf("read own comments: %w", err)
			}
			c.CreatedAt = exportTime(at)
			batch = append(batch, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read own comments: %w", err)
		}
		for _, c := range batch {
			if err := exportSign(c, key); err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
			ex.rep.Comments++
		}
		if len(batch) < exportBatch {
			break
		}
	}
	var likes []*entity.Like
	rows, err := ex.tx.QueryContext(ex.ctx, `SELECT guid, target_guid, target_type FROM likes WHERE own = 1 ORDER BY created_at, guid`)
	if err != nil {
		return fmt.Errorf("read own likes: %w", err)
	}
	for rows.Next() {
		l := &entity.Like{AuthorID: handle, Positive: true}
		if err := rows.Scan(&l.ID, &l.Parent, &l.ParentTypeName); err != nil {
			rows.Close()
			return fmt.Errorf("read own likes: %w", err)
		}
		likes = append(likes, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read own likes: %w", err)
	}
	for _, l := range likes {
		if err := exportSign(l, key); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
		ex.rep.Likes++
	}
	type vote struct {
		guid, poll, post string
		answer           int64
	}
	var votes []vote
	rows, err = ex.tx.QueryContext(ex.ctx, `SELECT guid, poll_guid, post_guid, answer_id FROM poll_votes WHERE own = 1 ORDER BY created_at, guid`)
	if err != nil {
		return fmt.Errorf("read own votes: %w", err)
	}
	for rows.Next() {
		var v vote
		if err := rows.Scan(&v.guid, &v.poll, &v.post, &v.answer); err != nil {
			rows.Close()
			return fmt.Errorf("read own votes: %w", err)
		}
		votes = append(votes, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read own votes: %w", err)
	}
	for _, v := range votes {
		post, ok, err := store.PostByGUID(ex.ctx, ex.tx, v.post)
		if err != nil {
			return err
		}
		answer := ""
		if ok && post.Poll != nil {
			for _, a := range post.Poll.Answers {
				if a.ID == v.answer {
					answer = exportAnswerGUID(post.Poll, a)
				}
			}
		}
		if answer == "" {
			ex.rep.warn("poll vote %s left out: its poll or answer is gone", v.guid)
			continue
		}
		pp := &entity.PollParticipation{AuthorID: handle, ID: v.guid, Parent: v.poll, PollAnswerGUID: answer}
		if err := exportSign(pp, key); err != nil {
			return err
		}
		if err := fn(pp); err != nil {
			return err
		}
		ex.rep.Votes++
	}
	return nil
}

// ExportArchive writes the account as a diaspora* archive (JSON version
// 2.0, gzip-compressed: the <user>_diaspora_data.json.gz diaspora* serves)
// to w, from one snapshot. It holds the private key: keep it safe.
func (p *Pod) ExportArchive(ctx context.Context, w io.Writer, progress ProgressFunc) (ExportReport, error) {
	rep := ExportReport{Warnings: []string{}}
	ex, err := p.exportBegin(ctx, &rep)
	if err != nil {
		return rep, err
	}
	defer ex.close()
	key, err := ex.key()
	if err != nil {
		return rep, err
	}
	var total int
	if err := ex.tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM posts WHERE own = 1) + (SELECT count(*) FROM comments WHERE own = 1)
		+ (SELECT count(*) FROM likes WHERE own = 1) + (SELECT count(*) FROM poll_votes WHERE own = 1)`).Scan(&total); err != nil {
		return rep, fmt.Errorf("count what to export: %w", err)
	}
	progress.report(PhaseExport, 0, total)
	h, err := ex.header(key)
	if err != nil {
		return rep, err
	}
	gz := gzip.NewWriter(w)
	aw := archive.NewWriter(gz)
	if err := aw.Begin(h); err != nil {
		return rep, err
	}
	done := 0
	tick := func() {
		if done++; done%100 == 0 {
			progress.report(PhaseExport, done, total)
		}
	}
	err = ex.ownPosts(func(r store.PostRow) error {
		tick()
		post, ok, err := ex.post(r)
		if err != nil || !ok {
			return err
		}
		if err := aw.Post(post); err != nil {
			if errors.Is(err, entity.ErrInvalid) || errors.Is(err, entity.ErrUnknownEntity) {
				rep.warn("post %s left out: %v", r.GUID, err)
				return nil
			}
			return err
		}
		rep.Posts++
		if sm, ok := post.Entity.(*entity.StatusMessage); ok {
			rep.Photos += len(sm.Photos)
		}
		return ctx.Err()
	})
	if err != nil {
		return rep, err
	}
	err = ex.relayables(key, func(r entity.Relayable) error {
		tick()
		if err := aw.Relayable(r); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return rep, err
	}
	if err := aw.Close(); err != nil {
		return rep, err
	}
	if err := gz.Close(); err != nil {
		return rep, fmt.Errorf("finish the archive: %w", err)
	}
	progress.report(PhaseExport, total, total)
	p.logger.Info("archive exported", "identity", rep.Identity, "posts", rep.Posts, "comments", rep.Comments, "skipped", rep.Skipped)
	return rep, nil
}

// ExportPhotos writes the photos zip that goes with ExportArchive: the
// picture of every photo of an own post (its largest size) and the
// avatar, named as the archive names them.
func (p *Pod) ExportPhotos(ctx context.Context, w io.Writer, progress ProgressFunc) (ExportReport, error) {
	rep := ExportReport{Warnings: []string{}}
	ex, err := p.exportBegin(ctx, &rep)
	if err != nil {
		return rep, err
	}
	defer ex.close()
	type entry struct {
		sha, name string
		at        time.Time
	}
	var entries []entry
	rows, err := ex.tx.QueryContext(ctx, `SELECT ph.guid, ph.sizes, ph.created_at FROM photos ph
		JOIN posts p ON p.guid = ph.post_guid AND p.own = 1 WHERE ph.own = 1 ORDER BY ph.created_at, ph.guid`)
	if err != nil {
		return rep, fmt.Errorf("read own photos: %w", err)
	}
	for rows.Next() {
		var guid, sizes string
		var at int64
		if err := rows.Scan(&guid, &sizes, &at); err != nil {
			rows.Close()
			return rep, fmt.Errorf("read own photos: %w", err)
		}
		var s store.PhotoSizes
		_ = json.Unmarshal([]byte(sizes), &s)
		entries = append(entries, entry{sha: exportBlob(s), name: guid, at: exportTime(at)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("read own photos: %w", err)
	}
	if sha, prefix, name, err := ex.avatar(); err != nil {
		return rep, err
	} else if name != "" {
		entries = append(entries, entry{sha: sha, name: prefix, at: rep.exportedAt})
	}
	zw := archive.NewPhotosWriter(w)
	for i, e := range entries {
		progress.report(PhaseZip, i, len(entries))
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		name := ex.photoName(e.name, e.sha)
		if name == "" {
			rep.warn("photo %s left out: its picture is missing from the media store", e.name)
			continue
		}
		data, err := ex.readBlob(e.sha)
		if err != nil {
			return rep, err
		}
		if err := zw.Add(name, e.at, data); err != nil {
			return rep, err
		}
		rep.Photos++
	}
	if err := zw.Close(); err != nil {
		return rep, err
	}
	progress.report(PhaseZip, len(entries), len(entries))
	return rep, nil
}

func (ex *exporter) readBlob(sha string) ([]byte, error) {
	f, err := ex.media.Open(sha)
	if err != nil {
		return nil, fmt.Errorf("open media %s: %w", sha, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, media.DefaultMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read media %s: %w", sha, err)
	}
	return b, nil
}
