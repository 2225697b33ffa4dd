package pod

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/archive"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/id"
	"seedpod/pod/markup"
	"seedpod/pod/media"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Importing a diaspora* account archive (and its photos zip) into the pod.
//
// Decisions worth knowing:
//   - The identity is imported only into a pod without one (first run):
//     the archive's user name, its private key as the identity key, its
//     profile, and PreviousIDKey = the archive owner's diaspora* ID (the
//     old identity the AccountMigration will announce the move from). A
//     pod whose identity came from the same archive (same previous ID,
//     same key) takes it again; any other identity is ErrConflict.
//   - Everything else merges by name or guid, so importing the same
//     archive again appends nothing: aspects by name, people by diaspora*
//     ID, posts, photos, comments, likes and votes by guid, set members by
//     value. The profile is written with the identity only (a re-import
//     does not undo edits made since).
//   - It is quiet: what the archive holds was federated by the old pod, so
//     every imported post, photo, comment, like and vote, the contact
//     states and the profile are recorded as handed (store.HandedSet):
//     the outbox sends none of them again (contacts learn of the move from
//     the AccountMigration). Own entities make no notifications.
//   - Contacts become people known by diaspora* ID and guid, without a key
//     (PersonRecord with FetchedAt 1, older than any discovery): discovery
//     pins their key the first time federation needs it. Their "sharing"
//     flag is not imported: it comes from the Contact entities they send.
//   - Comments, likes and votes are kept when their post (or comment) is
//     in the pod after the posts are imported; reshares when their root
//     is. Others are left out with a warning.
//   - Photos are decoded and stored (pod/media) before the transaction,
//     one at a time; an import that fails after that leaves their blobs in
//     the media store, unreferenced (content-addressed: a retry reuses
//     them). A post's photos are attached only when the first import of
//     the post has them: the post is immutable afterwards.
//   - All the data is one transaction: any error leaves the pod as it was.

// PreviousIDKey is the field holding the diaspora* ID an imported archive
// belonged to: the identity the user moved from.
const PreviousIDKey = "identity/previous_id"

// Progress is how far a long task (import, export, backup) got: Done of
// Total steps of its current Phase.
type Progress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// ProgressFunc receives progress; it must be quick (it runs on the task's
// goroutine) and may be nil.
type ProgressFunc func(Progress)

func (f ProgressFunc) report(phase string, done, total int) {
	if f != nil {
		f(Progress{Phase: phase, Done: done, Total: total})
	}
}

// Import phases.
const (
	PhaseRead   = "read"   // reading and validating the archive and the zip
	PhasePhotos = "photos" // decoding and storing photos
	PhaseWrite  = "write"  // the transaction
)

// ImportReport says what an import added. Counts are of things added;
// Unchanged counts what the pod had already (a re-import adds nothing).
type ImportReport struct {
	// Identity is the pod's diaspora* ID; PreviousID the archive's.
	Identity   string `json:"identity"`
	PreviousID string `json:"previous_id"`
	// NewIdentity: the import created the identity (with its profile).
	NewIdentity bool `json:"new_identity"`
	Aspects     int  `json:"aspects"`
	People      int  `json:"people"`
	// Contacts counts aspect memberships added.
	Contacts      int `json:"contacts"`
	Posts         int `json:"posts"`
	Photos        int `json:"photos"`
	Comments      int `json:"comments"`
	Likes         int `json:"likes"`
	Votes         int `json:"votes"`
	Tags          int `json:"tags"`
	Blocks        int `json:"blocks"`
	Subscriptions int `json:"subscriptions"`
	Unchanged     int `json:"unchanged"`
	// Ops is the number of ops appended.
	Ops int `json:"ops"`
	// Warnings say what was left out and why (at most maxImportWarnings);
	// Skipped counts everything left out.
	Warnings []string `json:"warnings"`
	Skipped  int      `json:"skipped"`
}

const maxImportWarnings = 200

func (r *ImportReport) warn(format string, args ...any) {
	r.Skipped++
	if len(r.Warnings) < maxImportWarnings {
		r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
	}
}

// importPhoto is a photo decoded and stored before the transaction.
type importPhoto struct {
	sizes       store.PhotoSizes
	width       int
	height      int
	contentType string
}

// ImportArchive imports a diaspora* account archive (gzip or plain JSON,
// validated against diaspora*'s schema) and, when photos is not nil, its
// photos zip of photosSize bytes. See the decisions above. A refused
// archive or zip is ErrInvalid, an identity that is not the archive's
// ErrConflict; either way nothing changed.
func (p *Pod) ImportArchive(ctx context.Context, r io.Reader, photos io.ReaderAt, photosSize int64, progress ProgressFunc) (ImportReport, error) {
	rep := ImportReport{Warnings: []string{}}
	progress.report(PhaseRead, 0, 1)
	rd, err := archive.NewReader(archive.Limits{})
	if err != nil {
		return rep, err
	}
	a, err := rd.Read(r)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rep.Warnings, rep.Skipped = append(rep.Warnings, a.Warnings...), a.Skipped
	rep.PreviousID = a.User.Handle
	var zip *archive.Photos
	if photos != nil {
		if zip, err = archive.OpenPhotos(photos, photosSize, archive.PhotoLimits{MaxEntryBytes: media.DefaultMaxBytes}); err != nil {
			return rep, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	progress.report(PhaseRead, 1, 1)
	// Refuse early what the transaction would refuse, before the photos'
	// work; the transaction checks again.
	newIdentity, err := p.importIdentityCheck(ctx, p.db.R, a)
	if err != nil {
		return rep, err
	}
	processed, avatar, err := p.importPhotos(ctx, a, zip, newIdentity, &rep, progress)
	if err != nil {
		return rep, err
	}
	total := len(a.User.Posts) + len(a.User.Relayables) + len(a.User.Contacts)
	progress.report(PhaseWrite, 0, total)
	var out ImportReport
	err = p.log.Write(ctx, func(w *store.Writer) error {
		out = rep // a retry of the function starts from the same report
		im := &importer{p: p, w: w, ctx: w.Ctx(), a: a, rep: &out, photos: processed, avatar: avatar,
			progress: progress, total: total}
		if err := im.run(); err != nil {
			return err
		}
		out.Ops = len(w.Ops())
		return nil
	})
	if err != nil {
		return rep, err
	}
	progress.report(PhaseWrite, total, total)
	p.logger.Info("archive imported", "previous_id", out.PreviousID, "identity", out.Identity, "posts", out.Posts,
		"photos", out.Photos, "comments", out.Comments, "ops", out.Ops, "skipped", out.Skipped)
	return out, nil
}

// CanImportArchive answers before an archive is read whether this pod
// could take one at all: ErrConflict when it has an identity of its own
// (made here, not imported), which no archive can replace. A pod whose
// identity came from an archive may take that archive again, which only
// the archive itself can tell (importIdentityCheck).
func (p *Pod) CanImportArchive(ctx context.Context) error {
	me, err := peopleReadMe(ctx, p.db.R)
	if err != nil || !me.Exists() {
		return err
	}
	prev, err := store.Field(ctx, p.db.R, PreviousIDKey)
	if err != nil || prev != "" {
		return err
	}
	return fmt.Errorf("%w: this pod has its own identity (%s); an archive can only be imported into a new pod",
		ErrConflict, me.Handle())
}

// importIdentityCheck reports whether the pod has no identity yet (true)
// or the archive's (false), and ErrConflict for any other.
func (p *Pod) importIdentityCheck(ctx context.Context, q store.Querier, a *archive.Archive) (bool, error) {
	me, err := peopleReadMe(ctx, q)
	if err != nil {
		return false, err
	}
	if !me.Exists() {
		return true, nil
	}
	prev, err := store.Field(ctx, q, PreviousIDKey)
	if err != nil {
		return false, err
	}
	var pemText string
	err = q.QueryRowContext(ctx, "SELECT pem FROM identity_key WHERE id = 1").Scan(&pemText)
	if err != nil && !isNoRows(err) {
		return false, fmt.Errorf("read identity key: %w", err)
	}
	if prev == a.User.Handle && pemText != "" && sameKey(pemText, a.User.Key) {
		return false, nil
	}
	if prev != "" {
		return false, fmt.Errorf("%w: this pod holds the identity imported from %s; an archive of %s can only be imported into a new pod",
			ErrConflict, prev, a.User.Handle)
	}
	return false, fmt.Errorf("%w: this pod has its own identity (%s); an archive can only be imported into a new pod",
		ErrConflict, me.Handle())
}

// importPhotos decodes and stores the photos the posts name that the pod
// does not have yet, and the avatar (first import only), one at a time.
// It returns them by file name.
func (p *Pod) importPhotos(ctx context.Context, a *archive.Archive, zip *archive.Photos, newIdentity bool, rep *ImportReport,
	progress ProgressFunc) (map[string]importPhoto, *importPhoto, error) {
	out := map[string]importPhoto{}
	if zip == nil {
		return out, nil, nil
	}
	type job struct {
		name   string
		kind   media.Kind
		avatar bool
	}
	var jobs []job
	seen := map[string]bool{}
	for _, post := range a.User.Posts {
		sm, ok := post.Entity.(*entity.StatusMessage)
		if !ok || len(sm.Photos) == 0 {
			continue
		}
		if held, err := importPublished(ctx, p.db.R, sm.ID); err != nil {
			return nil, nil, err
		} else if held {
			continue // imported before: its photos too, or never
		}
		for _, ph := range sm.Photos {
			n := ph.RemotePhotoName
			if seen[n] {
				continue
			}
			seen[n] = true
			if !zip.Has(n) {
				rep.warn("photo %s of post %s is not in the photos zip: the post is imported without it", importClip(n, 80), sm.ID)
				continue
			}
			jobs = append(jobs, job{name: n, kind: media.Photo})
		}
	}
	var avatarName string
	if a.User.Profile != nil {
		avatarName = archiveAvatarName(a.User.Profile.ImageURL)
	}
	if avatarName != "" && newIdentity && zip.Has(avatarName) {
		jobs = append(jobs, job{name: avatarName, kind: media.Avatar, avatar: true})
	}
	st, err := p.mediaStore()
	if err != nil {
		return nil, nil, err
	}
	var avatar *importPhoto
	for i, j := range jobs {
		progress.report(PhasePhotos, i, len(jobs))
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		data, err := zip.Read(j.name)
		if err != nil {
			if errors.Is(err, archive.ErrNotImage) {
				rep.warn("photo %s left out: %v", importClip(j.name, 80), err)
				continue
			}
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		res, err := media.Process(bytes.NewReader(data), j.kind, media.Limits{})
		if err != nil {
			rep.warn("photo %s left out: %v", importClip(j.name, 80), photoMediaError(err))
			continue
		}
		sizes, err := putPhotoVariants(st, res)
		if err != nil {
			return nil, nil, err
		}
		ip := importPhoto{sizes: sizes, width: res.Original.Width, height: res.Original.Height, contentType: res.Original.ContentType}
		if j.avatar {
			avatar = &ip
		} else {
			out[j.name] = ip
		}
	}
	progress.report(PhasePhotos, len(jobs), len(jobs))
	return out, avatar, nil
}

// sameKey reports whether the stored identity key (a PEM, or a key
// sealed with a passphrase: its header names the key by fingerprint) is k.
func sameKey(stored string, k *rsa.PrivateKey) bool {
	fp, err := storedFingerprint(stored)
	if err != nil {
		return false
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return false
	}
	h := sha256.Sum256(der)
	return fp == hex.EncodeToString(h[:])
}

// archiveAvatarName is the photos zip name of a profile image URL: its last
// path element without diaspora*'s size prefix ("" when there is none).
func archiveAvatarName(imageURL string) string {
	u, err := url.Parse(imageURL)
	if err != nil || u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return ""
	}
	name := path.Base(u.Path)
	for _, pre := range []string{"thumb_large_", "thumb_medium_", "thumb_small_", "scaled_full_"} {
		name = strings.TrimPrefix(name, pre)
	}
	if name == "." || name == "/" || archive.CheckEntryName(name) != nil {
		return ""
	}
	return name
}

// importClip shortens archive text quoted in a warning.
func importClip(s string, n int) string {
	if r := []rune(strings.ToValidUTF8(s, "?")); len(r) > n {
		return string(r[:n]) + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// importPublished reports whether an own entity with that guid exists
// (live or retracted).
func importPublished(ctx context.Context, q store.Querier, guid string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM st_published WHERE guid = ?", guid).Scan(&n); err != nil {
		return false, fmt.Errorf("check own entity %s: %w", guid, err)
	}
	return n > 0, nil
}

// importer is one import's transaction.
type importer struct {
	p        *Pod
	w        *store.Writer
	ctx      context.Context
	a        *archive.Archive
	rep      *ImportReport
	photos   map[string]importPhoto
	avatar   *importPhoto
	progress ProgressFunc
	done     int
	total    int

	me      store.Me
	aspects map[string]int64  // lowercase name → id
	people  map[string]string // handle → person guid
	handed  []string          // keys to add to the handed set
	touched []string          // person guids whose aspects changed
}

func (im *importer) step() {
	im.done++
	if im.done%100 == 0 {
		im.progress.report(PhaseWrite, im.done, im.total)
	}
}

func (im *importer) run() error {
	newIdentity, err := im.p.importIdentityCheck(im.ctx, im.w, im.a)
	if err != nil {
		return err
	}
	if newIdentity {
		if err := im.identity(); err != nil {
			return err
		}
	}
	if im.me, err = im.w.Me(); err != nil {
		return err
	}
	im.rep.Identity = im.me.Handle()
	if newIdentity {
		if err := im.profile(); err != nil {
			return err
		}
	}
	for _, f := range []func() error{im.aspectsStep, im.contacts, im.blocks, im.tags, im.posts, im.relayables,
		im.subscriptions} {
		if err := f(); err != nil {
			return err
		}
		if err := im.ctx.Err(); err != nil {
			return err
		}
	}
	return im.markHanded(newIdentity)
}

// identity creates the identity from the archive: user name, key,
// previous ID.
func (im *importer) identity() error {
	a := im.a
	im.rep.NewIdentity = true
	username := a.User.Username
	if !usernameRE.MatchString(username) {
		user, _ := id.Split(a.User.Handle)
		username = user
	}
	if !usernameRE.MatchString(username) {
		return fmt.Errorf("%w: the archive's user name %q is not one this pod can use", ErrInvalid, importClip(a.User.Username, 80))
	}
	der, err := x509.MarshalPKCS8PrivateKey(a.User.Key)
	if err != nil {
		return fmt.Errorf("encode the archive's key: %w", err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var held string
	err = im.w.QueryRowContext(im.ctx, "SELECT pem FROM identity_key WHERE id = 1").Scan(&held)
	switch {
	case isNoRows(err):
		if _, err := im.w.ExecContext(im.ctx, "INSERT INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
			pemText, im.w.Now().UnixMilli()); err != nil {
			return fmt.Errorf("store the identity key: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read identity key: %w", err)
	default:
		if !sameKey(held, a.User.Key) {
			return fmt.Errorf("%w: this pod holds an identity key already; an archive can only be imported into a new pod", ErrConflict)
		}
	}
	for _, f := range []oplog.SetField{
		{Key: "identity/guid", Value: newGUID()},
		{Key: "identity/username", Value: username},
		{Key: "identity/created_at", Value: strconv.FormatInt(im.w.Now().UnixMilli(), 10)},
		{Key: PreviousIDKey, Value: a.User.Handle},
	} {
		if _, err := im.w.Append(f); err != nil {
			return err
		}
	}
	// The archive's ID is a former one of this identity: what it sent is
	// the user's (store.Me.IsMe), and once a relay is set up every contact
	// is told of the move (an AccountMigration, pod/relaymove.go).
	old := strings.ToLower(a.User.Handle)
	if in, err := store.IsMember(im.ctx, im.w, store.FormerIDsSet, old); err != nil {
		return err
	} else if !in {
		if _, err := im.w.Append(oplog.SetAdd{Set: store.FormerIDsSet, Member: old}); err != nil {
			return err
		}
	}
	return nil
}

// profile writes the archive's profile (a new identity only); values the
// pod's rules refuse are left out with a warning.
func (im *importer) profile() error {
	pr := im.a.User.Profile
	if pr == nil {
		return im.setField("profile/searchable", "true")
	}
	set := map[string]string{}
	first, last := strings.TrimSpace(pr.FirstName), strings.TrimSpace(pr.LastName)
	if first == "" && last == "" {
		first = strings.TrimSpace(pr.FullName)
	}
	for _, f := range []struct{ key, v string }{{"profile/first_name", first}, {"profile/last_name", last}} {
		if checkText("name", f.v, MaxProfileName) != nil || strings.ContainsAny(f.v, ";\n\r\t") {
			im.rep.warn("profile name %q left out: at most %d characters, no ';'", importClip(f.v, 80), MaxProfileName)
			continue
		}
		set[f.key] = f.v
	}
	if set["profile/first_name"] == "" && set["profile/last_name"] == "" {
		set["profile/first_name"] = im.me.Username
	}
	for _, f := range []struct {
		key, v string
		max    int
	}{{"profile/location", pr.Location, MaxProfileLocation}, {"profile/gender", pr.Gender, MaxProfileGender}} {
		v := strings.TrimSpace(f.v)
		if err := checkText(f.key, v, f.max); err != nil {
			im.rep.warn("%s left out: %v", f.key, err)
			continue
		}
		set[f.key] = v
	}
	if b := strings.TrimSpace(pr.Birthday); b != "" {
		if d, err := parseArchiveDate(b); err != nil {
			im.rep.warn("profile birthday %q left out: not a date", importClip(b, 80))
		} else {
			set["profile/birthday"] = d
		}
	}
	set["profile/searchable"] = strconv.FormatBool(pr.Searchable)
	set["profile/nsfw"] = strconv.FormatBool(pr.NSFW)
	set["profile/public_details"] = strconv.FormatBool(pr.Public)
	tags := []string{}
	for _, t := range markup.Tags(pr.TagString) {
		if nt, err := NormalizeTag(t); err == nil && !slices.Contains(tags, nt) && len(tags) < MaxProfileTags {
			tags = append(tags, nt)
		}
	}
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		set["profile/tags"] = string(b)
	}
	if im.avatar != nil {
		b, _ := json.Marshal(im.avatar.sizes)
		set["profile/avatar"] = string(b)
	} else if pr.ImageURL != "" {
		im.rep.warn("the profile picture (%s) is not in the photos zip", importClip(archiveAvatarName(pr.ImageURL), 80))
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if err := im.setField(k, set[k]); err != nil {
			return err
		}
	}
	if bio := pr.Bio; bio != "" {
		if err := checkText("bio", bio, MaxProfileBio); err != nil {
			im.rep.warn("profile bio left out: %v", err)
		} else if _, err := im.w.Append(oplog.DraftWrite{Register: bioRegister, Value: bio}); err != nil {
			return err
		}
	}
	return nil
}

// parseArchiveDate reads a profile birthday as diaspora* stores it
// (YYYY-MM-DD; a year of 1004 or less means "no year", kept as is).
func parseArchiveDate(s string) (string, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", err
	}
	return t.Format("2006-01-02"), nil
}

// setField writes a field when its value differs.
func (im *importer) setField(key, v string) error {
	cur, err := store.Field(im.ctx, im.w, key)
	if err != nil || cur == v {
		return err
	}
	_, err = im.w.Append(oplog.SetField{Key: key, Value: v})
	return err
}

// aspectsStep creates the archive's aspects the pod has not (by name, any
// case), in the archive's order after the existing ones. On a new
// identity the seeded names get the seeded ids (1–4), as CreateIdentity
// makes them.
func (im *importer) aspectsStep() error {
	as, err := store.Aspects(im.ctx, im.w)
	if err != nil {
		return err
	}
	im.aspects = map[string]int64{}
	order := 0
	for _, a := range as {
		im.aspects[strings.ToLower(a.Name)] = a.ID
		order = max(order, a.Order+1)
	}
	for _, name := range im.a.User.ContactGroups {
		if _, ok := im.aspects[strings.ToLower(name)]; ok {
			im.rep.Unchanged++
			continue
		}
		name, err := checkAspectName(im.ctx, im.w, name, 0)
		if err != nil {
			im.rep.warn("aspect %q left out: %v", importClip(name, 80), err)
			continue
		}
		var aid int64
		if i := slices.IndexFunc(SeededAspects, func(s string) bool { return strings.EqualFold(s, name) }); i >= 0 {
			if used, err := store.AspectIDUsed(im.ctx, im.w, int64(i+1)); err != nil {
				return err
			} else if !used {
				aid = int64(i + 1)
			}
		}
		if aid == 0 {
			if aid, err = importAspectID(im.ctx, im.w); err != nil {
				return err
			}
		}
		key := "aspect/" + strconv.FormatInt(aid, 10)
		if _, err := im.w.Append(oplog.SetField{Key: key + "/name", Value: name}); err != nil {
			return err
		}
		if _, err := im.w.Append(oplog.SetField{Key: key + "/order", Value: strconv.Itoa(order)}); err != nil {
			return err
		}
		order++
		im.aspects[strings.ToLower(name)] = aid
		im.rep.Aspects++
	}
	return nil
}

// importAspectID draws an unused id for a new aspect, as CreateAspect does.
func importAspectID(ctx context.Context, q store.Querier) (int64, error) {
	for {
		var b [8]byte
		rand.Read(b[:])
		aid := firstNewAspectID + int64(binary.BigEndian.Uint64(b[:])%(1<<31-firstNewAspectID))
		used, err := store.AspectIDUsed(ctx, q, aid)
		if err != nil || !used {
			return aid, err
		}
	}
}

// person finds or records a person by diaspora* ID: the pod's guid when
// it knows them, else the archive's, recorded as a key-less person
// record that any discovery supersedes. "" when neither works (a warning
// says why).
func (im *importer) person(handle, guid, name string) (string, error) {
	if g, ok := im.people[handle]; ok {
		return g, nil
	}
	if handle == strings.ToLower(im.me.Handle()) || handle == im.a.User.Handle {
		return "", nil
	}
	sp, ok, err := store.PersonByHandle(im.ctx, im.w, handle)
	if err != nil {
		return "", err
	}
	if ok {
		im.people[handle] = sp.GUID
		return sp.GUID, nil
	}
	if guid == "" {
		im.rep.warn("%s left out: the archive has no guid for them (add them again once the pod finds them)", handle)
		return "", nil
	}
	if other, ok, err := store.PersonByGUID(im.ctx, im.w, guid); err != nil {
		return "", err
	} else if ok {
		im.rep.warn("%s left out: their guid %s belongs to %s here", handle, guid, other.Handle)
		return "", nil
	}
	first := name
	if checkText("name", first, MaxProfileName) != nil {
		first = ""
	}
	rec := store.PersonRecord{GUID: guid, DiasporaID: handle, FirstName: first, Searchable: true, FetchedAt: 1}
	payload, key, err := rec.Encode()
	if err != nil {
		im.rep.warn("%s left out: %v", handle, err)
		return "", nil
	}
	sum := sha256.Sum256(payload)
	op := oplog.Received{GUID: key, EntityType: store.EntityPerson, Author: strings.ToLower(rec.DiasporaID),
		PayloadHash: hex.EncodeToString(sum[:]), Payload: string(payload)}
	if _, err := im.w.Append(op); err != nil {
		return "", err
	}
	if _, ok, err := store.PersonByHandle(im.ctx, im.w, handle); err != nil {
		return "", err
	} else if !ok {
		im.rep.warn("%s left out: the pod did not take the person record", handle)
		return "", nil
	}
	im.people[handle] = guid
	im.rep.People++
	return guid, nil
}

// contacts records the contacts and their aspect memberships (not for the
// blocked, whom diaspora* takes out of every aspect).
func (im *importer) contacts() error {
	im.people = map[string]string{}
	blocked := map[string]bool{}
	for _, b := range im.a.User.Blocks {
		blocked[b] = true
	}
	for _, c := range im.a.User.Contacts {
		im.step()
		guid, err := im.person(c.Handle, c.GUID, c.Name)
		if err != nil {
			return err
		}
		if guid == "" || blocked[c.Handle] {
			continue
		}
		for _, name := range c.Aspects {
			aid, ok := im.aspects[strings.ToLower(name)]
			if !ok {
				im.rep.warn("%s's aspect %q is not among the archive's aspects", c.Handle, importClip(name, 80))
				continue
			}
			set := store.AspectSetName(aid)
			if in, err := store.IsMember(im.ctx, im.w, set, guid); err != nil {
				return err
			} else if in {
				im.rep.Unchanged++
				continue
			}
			if _, err := im.w.Append(oplog.AspectAdd{Aspect: strconv.FormatInt(aid, 10), Member: guid}); err != nil {
				return err
			}
			im.rep.Contacts++
			im.touched = append(im.touched, guid)
		}
	}
	return nil
}

// setAdd adds member to set unless it is there; it reports whether it did.
func (im *importer) setAdd(set, member string) (bool, error) {
	in, err := store.IsMember(im.ctx, im.w, set, member)
	if err != nil || in {
		if in {
			im.rep.Unchanged++
		}
		return false, err
	}
	_, err = im.w.Append(oplog.SetAdd{Set: set, Member: member})
	return err == nil, err
}

// blocks adds the blocks of people the pod knows, or the archive names
// among its contacts or non-contact authors (recorded like contacts).
func (im *importer) blocks() error {
	others := map[string]archive.Person{}
	for _, o := range im.a.NonContactAuthors {
		others[o.Handle] = o
	}
	for _, h := range im.a.User.Blocks {
		guid, ok := im.people[h]
		if !ok {
			sp, found, err := store.PersonByHandle(im.ctx, im.w, h)
			if err != nil {
				return err
			}
			o, named := others[h]
			switch {
			case found:
				guid = sp.GUID
			case named:
				if guid, err = im.person(h, o.GUID, o.Name); err != nil {
					return err
				}
			}
			if guid == "" {
				if !found && !named {
					im.rep.warn("block of %s left out: the pod does not know them yet (block them again once it does)", h)
				}
				continue
			}
		}
		added, err := im.setAdd(store.SetBlocks, guid)
		if err != nil {
			return err
		}
		if added {
			im.rep.Blocks++
		}
	}
	return nil
}

func (im *importer) tags() error {
	for _, raw := range im.a.User.FollowedTags {
		t, err := NormalizeTag(raw)
		if err != nil {
			im.rep.warn("followed tag %q left out: %v", importClip(raw, 80), err)
			continue
		}
		added, err := im.setAdd(store.SetFollowedTags, t)
		if err != nil {
			return err
		}
		if added {
			im.rep.Tags++
		}
	}
	return nil
}

// publish appends an own entity under the archive's guid and marks it
// handed.
func (im *importer) publish(guid, kind, parent string, created time.Time, body any, recipients []string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	at := created.UnixMilli()
	if created.IsZero() || at < 0 {
		at = im.w.Now().UnixMilli()
	}
	if _, err := im.w.Append(oplog.Publish{GUID: guid, Kind: kind, Parent: parent, CreatedAt: at, Body: b,
		Recipients: recipients}); err != nil {
		return err
	}
	im.handed = append(im.handed, guid)
	return nil
}

// fresh reports whether guid is free for an own entity: false (counted
// unchanged) when the pod has it as its own, false with a warning when
// someone else's entity holds it.
func (im *importer) fresh(guid, what string) (bool, error) {
	held, err := importPublished(im.ctx, im.w, guid)
	if err != nil {
		return false, err
	}
	if held {
		im.rep.Unchanged++
		return false, nil
	}
	var n int
	if err := im.w.QueryRowContext(im.ctx, "SELECT count(*) FROM st_received WHERE guid = ?", guid).Scan(&n); err != nil {
		return false, fmt.Errorf("check %s %s: %w", what, guid, err)
	}
	if n > 0 {
		im.rep.warn("%s %s left out: the pod has someone else's entity with that guid", what, guid)
		return false, nil
	}
	return true, nil
}

func (im *importer) posts() error {
	for _, post := range im.a.User.Posts {
		im.step()
		var err error
		switch e := post.Entity.(type) {
		case *entity.StatusMessage:
			err = im.statusMessage(e, post)
		case *entity.Reshare:
			err = im.reshare(e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) statusMessage(sm *entity.StatusMessage, post archive.Post) error {
	if ok, err := im.fresh(sm.ID, "post"); err != nil || !ok {
		return err
	}
	if err := checkPostBody(sm.Text); err != nil {
		im.rep.warn("post %s left out: %v", sm.ID, err)
		return nil
	}
	body := store.PostBody{Text: sm.Text, Public: sm.Public, AspectIDs: []int64{}, Photos: []string{},
		Provider: importProvider(sm.ProviderDisplayName)}
	for _, ph := range sm.Photos {
		ip, ok := im.photos[ph.RemotePhotoName]
		if !ok {
			continue // warned when the photos were read
		}
		if fresh, err := im.fresh(ph.ID, "photo"); err != nil {
			return err
		} else if !fresh {
			continue
		}
		alt := strings.TrimSpace(ph.Text)
		if checkText("alt", alt, maxAlt) != nil {
			alt = ""
		}
		pb := store.PhotoBody{Width: ip.width, Height: ip.height, Alt: alt, ContentType: ip.contentType, Sizes: ip.sizes,
			Public: sm.Public}
		created := ph.CreatedAt
		if created.IsZero() {
			created = sm.CreatedAt
		}
		if err := im.publish(ph.ID, store.KindPhoto, "", created, pb, nil); err != nil {
			return err
		}
		body.Photos = append(body.Photos, ph.ID)
		im.rep.Photos++
	}
	if strings.TrimSpace(body.Text) == "" && len(body.Photos) == 0 {
		im.rep.warn("post %s left out: it has neither text nor photos here", sm.ID)
		return nil
	}
	if sm.Poll != nil {
		poll := &store.PostPoll{GUID: sm.Poll.ID, Question: sm.Poll.Question}
		for i, a := range sm.Poll.Answers {
			poll.Answers = append(poll.Answers, store.PostPollAnswer{ID: int64(i + 1), Answer: a.Answer, GUID: a.ID})
		}
		body.Poll = poll
	}
	if l := sm.Location; l != nil {
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(l.Lat), 64)
		lng, err2 := strconv.ParseFloat(strings.TrimSpace(l.Lng), 64)
		if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lng) ||
			lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			im.rep.warn("the location of post %s left out: %q, %q are not coordinates", sm.ID, importClip(l.Lat, 80), importClip(l.Lng, 80))
		} else {
			body.Location = &store.PostLocation{Address: strings.TrimSpace(l.Address), Lat: lat, Lng: lng}
		}
	}
	var recipients []string
	if !sm.Public {
		for _, h := range post.SubscribedUsers {
			g, ok := im.people[h]
			if !ok {
				sp, found, err := store.PersonByHandle(im.ctx, im.w, h)
				if err != nil {
					return err
				}
				if !found {
					continue
				}
				g = sp.GUID
			}
			if !slices.Contains(recipients, g) {
				recipients = append(recipients, g)
			}
		}
		slices.Sort(recipients)
	}
	if err := im.publish(sm.ID, store.KindPost, "", sm.CreatedAt, body, recipients); err != nil {
		return err
	}
	im.rep.Posts++
	if sm.EditedAt.After(sm.CreatedAt) {
		// The archive holds the edited text only: the post gets it from the
		// start, and one edit at edited_at says it was edited then. The
		// edit's guid derives from the post's, so a re-import finds it.
		h := sha256.Sum256([]byte(sm.ID + "#edit#" + strconv.FormatInt(sm.EditedAt.UnixMilli(), 10)))
		eg := hex.EncodeToString(h[:16])
		if fresh, err := im.fresh(eg, "edit"); err != nil || !fresh {
			return err
		}
		eb := store.PostEditBody{Text: body.Text, Location: body.Location}
		if err := im.publish(eg, store.KindEdit, sm.ID, sm.EditedAt, eb, recipients); err != nil {
			return err
		}
	}
	return nil
}

func importProvider(s string) string {
	s = strings.TrimSpace(s)
	if checkText("provider", s, 255) != nil {
		return ""
	}
	return s
}

func (im *importer) reshare(rs *entity.Reshare) error {
	if ok, err := im.fresh(rs.ID, "reshare"); err != nil || !ok {
		return err
	}
	if rs.RootID == "" {
		im.rep.warn("reshare %s left out: its post was deleted", rs.ID)
		return nil
	}
	if _, ok, err := store.PostByGUID(im.ctx, im.w, rs.RootID); err != nil {
		return err
	} else if !ok {
		im.rep.warn("reshare %s left out: the pod does not have the post it reshares (%s by %s)", rs.ID, rs.RootID, rs.RootAuthorID)
		return nil
	}
	if err := im.publish(rs.ID, store.KindReshare, rs.RootID, rs.CreatedAt, struct{}{}, nil); err != nil {
		return err
	}
	im.rep.Posts++
	return nil
}

func (im *importer) relayables() error {
	for _, r := range im.a.User.Relayables {
		im.step()
		if ok, err := im.fresh(r.GUID(), r.Type()); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		var err error
		switch e := r.(type) {
		case *entity.Comment:
			err = im.comment(e)
		case *entity.Like:
			err = im.like(e)
		case *entity.PollParticipation:
			err = im.vote(e)
		default:
			im.rep.warn("%s %s left out: not imported", r.Type(), r.GUID())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) comment(c *entity.Comment) error {
	if _, ok, err := store.PostByGUID(im.ctx, im.w, c.Parent); err != nil {
		return err
	} else if !ok {
		im.rep.warn("comment %s left out: the pod does not have its post %s", c.ID, c.Parent)
		return nil
	}
	if strings.TrimSpace(c.Text) == "" || markup.Check(c.Text) != nil {
		im.rep.warn("comment %s left out: its text is empty or not acceptable", c.ID)
		return nil
	}
	if err := im.publish(c.ID, "comment", c.Parent, c.CreatedAt, map[string]string{"text": c.Text}, nil); err != nil {
		return err
	}
	im.rep.Comments++
	return nil
}

func (im *importer) like(l *entity.Like) error {
	if !l.Positive {
		im.rep.warn("like %s left out: dislikes are not kept", l.ID)
		return nil
	}
	typ := "Post"
	switch l.ParentTypeName {
	case "Post":
		if _, ok, err := store.PostByGUID(im.ctx, im.w, l.Parent); err != nil {
			return err
		} else if !ok {
			im.rep.warn("like %s left out: the pod does not have its post %s", l.ID, l.Parent)
			return nil
		}
	case "Comment":
		typ = "Comment"
		if _, ok, err := store.RelatedByType(im.ctx, im.w, "Comment", l.Parent); err != nil {
			return err
		} else if !ok {
			im.rep.warn("like %s left out: the pod does not have its comment %s", l.ID, l.Parent)
			return nil
		}
	}
	if own, err := store.OwnLikes(im.ctx, im.w, l.Parent); err != nil {
		return err
	} else if len(own) > 0 {
		im.rep.Unchanged++
		return nil
	}
	if err := im.publish(l.ID, "like", l.Parent, time.Time{}, map[string]string{"target_type": typ}, nil); err != nil {
		return err
	}
	im.rep.Likes++
	return nil
}

func (im *importer) vote(v *entity.PollParticipation) error {
	rel, ok, err := store.RelatedByType(im.ctx, im.w, "Poll", v.Parent)
	if err != nil {
		return err
	}
	if !ok {
		im.rep.warn("poll participation %s left out: the pod does not have its poll %s", v.ID, v.Parent)
		return nil
	}
	post, ok, err := store.PostByGUID(im.ctx, im.w, rel.PostGUID)
	if err != nil || !ok || post.Poll == nil {
		return err
	}
	var answer int64
	for _, a := range post.Poll.Answers {
		if a.GUID == v.PollAnswerGUID {
			answer = a.ID
		}
	}
	if answer == 0 {
		im.rep.warn("poll participation %s left out: its answer %s is not in the poll", v.ID, v.PollAnswerGUID)
		return nil
	}
	if voted, err := store.OwnVoted(im.ctx, im.w, v.Parent); err != nil {
		return err
	} else if voted {
		im.rep.Unchanged++
		return nil
	}
	body := struct {
		PollGUID string `json:"poll_guid"`
		AnswerID int64  `json:"answer_id"`
	}{v.Parent, answer}
	if err := im.publish(v.ID, "poll_vote", post.GUID, time.Time{}, body, nil); err != nil {
		return err
	}
	im.rep.Votes++
	return nil
}

// subscriptions adds the archive's post subscriptions for posts the pod
// has that are not the user's own (own posts are subscribed anyway).
func (im *importer) subscriptions() error {
	missing := 0
	for _, g := range im.a.User.PostSubscriptions {
		post, ok, err := store.PostByGUID(im.ctx, im.w, g)
		if err != nil {
			return err
		}
		if !ok {
			missing++
			continue
		}
		if post.Own {
			continue
		}
		added, err := im.setAdd(store.SubscribedSet, g)
		if err != nil {
			return err
		}
		if added {
			im.rep.Subscriptions++
		}
	}
	if missing > 0 {
		im.rep.warn("%d post subscriptions left out: the pod does not have those posts", missing)
	}
	return nil
}

// markHanded records what the import wrote as handed to the relay: the
// imported entities, the contact states of the people whose aspects it
// changed, and the profile of a new identity.
func (im *importer) markHanded(newIdentity bool) error {
	// The entities are new (fresh checked their guids): not handed yet.
	for _, g := range im.handed {
		if _, err := im.w.Append(oplog.SetAdd{Set: store.HandedSet, Member: g}); err != nil {
			return err
		}
	}
	var keys []string
	if len(im.touched) > 0 {
		states, err := store.ContactStates(im.ctx, im.w)
		if err != nil {
			return err
		}
		for _, s := range states {
			if slices.Contains(im.touched, s.PersonGUID) {
				keys = append(keys, "contact:"+s.PersonGUID+"@"+strconv.FormatInt(s.At, 10))
			}
		}
	}
	if newIdentity {
		at, err := store.ProfileChangedAt(im.ctx, im.w)
		if err != nil {
			return err
		}
		if at > 0 {
			keys = append(keys, "profile:"+im.me.GUID+"@"+strconv.FormatInt(at, 10))
		}
	}
	for _, k := range keys {
		in, err := store.IsMember(im.ctx, im.w, store.HandedSet, k)
		if err != nil {
			return err
		}
		if in {
			continue
		}
		if _, err := im.w.Append(oplog.SetAdd{Set: store.HandedSet, Member: k}); err != nil {
			return err
		}
	}
	return nil
}
