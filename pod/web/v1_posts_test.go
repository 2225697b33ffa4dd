package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/apiv1"
	"seedpod/pod/apiv1/apiv1test"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Tests of the posts area: posts, edits, photos, streams, received posts
// and retractions, reshares, paging and refold.

const (
	postsBob   = "bob@pod-b.example"
	postsCarol = "carol@pod-c.example"
	postsDave  = "dave@pod-d.example"
	postsErin  = "erin@pod-e.example"
)

func postsGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// postsRig is a pod with the identity and four known remote people; it
// returns their guids by handle.
func postsRig(t *testing.T) (*apiRig, map[string]string) {
	t.Helper()
	r := newAPIRig(t).withIdentity()
	guids := map[string]string{}
	for _, h := range []string{postsBob, postsCarol, postsDave, postsErin} {
		g := postsGUID()
		name := strings.ToUpper(h[:1]) + h[1:strings.Index(h, "@")]
		if err := r.pod.AddPerson(context.Background(), store.PersonRecord{GUID: g, DiasporaID: h, FirstName: name,
			Searchable: true}); err != nil {
			t.Fatal(err)
		}
		guids[h] = g
	}
	return r, guids
}

// postsWrite appends ops as the user's device.
func (r *apiRig) postsWrite(bodies ...oplog.Body) {
	r.t.Helper()
	err := r.pod.Log().Write(context.Background(), func(w *store.Writer) error {
		for _, b := range bodies {
			if _, err := w.Append(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// postsReceive records an entity as the federation engine would.
func (r *apiRig) postsReceive(e entity.Entity) {
	r.t.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.pod.Receive(context.Background(), payload); err != nil {
		r.t.Fatal(err)
	}
}

// postsReceived receives a status message by author and returns its guid.
func (r *apiRig) postsReceived(author string, public bool, text string, at time.Time) string {
	r.t.Helper()
	g := postsGUID()
	r.postsReceive(&entity.StatusMessage{AuthorID: author, ID: g, CreatedAt: at.UTC().Truncate(time.Second),
		Public: public, Text: text})
	return g
}

// postsCreate creates a post through the API and validates it.
func (r *apiRig) postsCreate(in map[string]any) apiv1.Post {
	r.t.Helper()
	var p apiv1.Post
	b := r.json("POST", V1Prefix+"/posts", in, http.StatusOK, &p)
	apiv1test.Validate(r.t, "post", b)
	return p
}

// postsOps counts the stored ops: refusals must not add any.
func (r *apiRig) postsOps() int { return r.opCount() }

// postsStream reads a stream page, validates it and returns the guids.
func (r *apiRig) postsStream(path string) ([]string, []apiv1.Post, http.Header) {
	r.t.Helper()
	st, h, b := r.do("GET", path, nil)
	if st != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	apiv1test.Validate(r.t, "posts", b)
	var ps []apiv1.Post
	if err := json.Unmarshal(b, &ps); err != nil {
		r.t.Fatal(err)
	}
	var gs []string
	for _, p := range ps {
		gs = append(gs, p.GUID)
	}
	return gs, ps, h
}

// postsPNG is a small opaque PNG.
func postsPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// postsBombPNG is a valid 1×1 PNG whose header claims width×height pixels.
func postsBombPNG(t testing.TB, width, height uint32) []byte {
	b := postsPNG(t, 1, 1)
	// IHDR: 8-byte signature, 4-byte length, "IHDR", width, height, …, CRC.
	binary.BigEndian.PutUint32(b[16:], width)
	binary.BigEndian.PutUint32(b[20:], height)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// postsUpload sends a multipart photo upload.
func (r *apiRig) postsUpload(image []byte, filename, contentType string, fields map[string]string) (int, []byte) {
	r.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if image != nil {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="image"`
		if filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, filename)
		}
		h.Set("Content-Disposition", disp)
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			r.t.Fatal(err)
		}
		pw.Write(image)
	}
	mw.Close()
	req, err := http.NewRequest("POST", r.srv.URL+V1Prefix+"/photos", &body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// postsPhoto uploads a pending photo and returns it.
func (r *apiRig) postsPhoto(fields map[string]string) apiv1.Photo {
	r.t.Helper()
	st, b := r.postsUpload(postsPNG(r.t, 64, 48), "a.png", "image/png", fields)
	if st != http.StatusOK {
		r.t.Fatalf("upload: %d %s", st, b)
	}
	apiv1test.Validate(r.t, "photo", b)
	var ph apiv1.Photo
	if err := json.Unmarshal(b, &ph); err != nil {
		r.t.Fatal(err)
	}
	return ph
}

func TestPostsCreate(t *testing.T) {
	r, people := postsRig(t)
	ctx := context.Background()

	t.Run("public with poll and location", func(t *testing.T) {
		p := r.postsCreate(map[string]any{"body": "# Hello\nfirst post #Garden with @{Bob; " + postsBob + "}",
			"public": true, "poll": map[string]any{"question": "Tea?", "poll_answers": []string{"yes", "no"}},
			"location": map[string]any{"address": "Berlin", "lat": 52.52, "lng": "13.405"}})
		if p.Title != "Hello" || !p.Public || p.PostType != "StatusMessage" || p.NSFW {
			t.Errorf("post: %+v", p)
		}
		if p.Author.DiasporaID != "alice@localhost" || p.Author.Name != "Alice" {
			t.Errorf("author: %+v", p.Author)
		}
		if p.Poll == nil || len(p.Poll.Answers) != 2 || p.Poll.Answers[0].ID != 1 || p.Poll.Answers[1].ID != 2 ||
			p.Poll.Answers[1].Answer != "no" || len(p.Poll.GUID) != 32 {
			t.Errorf("poll: %+v", p.Poll)
		}
		if p.Location == nil || *p.Location != (apiv1.Location{Address: "Berlin", Lat: 52.52, Lng: 13.405}) {
			t.Errorf("location: %+v", p.Location)
		}
		if len(p.MentionedPeople) != 1 || p.MentionedPeople[0].GUID != people[postsBob] {
			t.Errorf("mentions: %+v", p.MentionedPeople)
		}
		var got apiv1.Post
		b := r.json("GET", V1Prefix+"/posts/"+p.GUID, nil, http.StatusOK, &got)
		apiv1test.Validate(t, "post", b)
		if got.Body != p.Body || got.GUID != p.GUID {
			t.Errorf("GET: %+v", got)
		}
		tags, _ := r.pod.DB().DumpProjection(ctx, "post_tags")
		if len(tags) != 1 || !strings.Contains(tags[0], "tag=garden") {
			t.Errorf("tags: %v", tags)
		}
	})

	t.Run("limited: recipients frozen at publish time", func(t *testing.T) {
		r.postsWrite(oplog.AspectAdd{Aspect: "2", Member: people[postsBob]},
			oplog.AspectAdd{Aspect: "3", Member: people[postsCarol]})
		p := r.postsCreate(map[string]any{"body": "for friends", "public": false, "aspects": []any{2, "3"}})
		if p.Public {
			t.Error("public")
		}
		r.postsWrite(oplog.AspectAdd{Aspect: "2", Member: people[postsDave]})
		row, ok, err := store.PostByGUID(ctx, r.pod.DB().R, p.GUID)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		want := []string{people[postsBob], people[postsCarol]}
		slices.Sort(want)
		if !slices.Equal(row.Recipients, want) || !slices.Equal(row.AspectIDs, []int64{2, 3}) {
			t.Errorf("recipients %v aspects %v, want %v [2 3]", row.Recipients, row.AspectIDs, want)
		}
	})

	t.Run("photos", func(t *testing.T) {
		ph1 := r.postsPhoto(map[string]string{"pending": "true"})
		ph2 := r.postsPhoto(map[string]string{"pending": "true", "alt": "a test card"})
		if ph1.Post != "" {
			t.Errorf("pending photo has a post: %+v", ph1)
		}
		p := r.postsCreate(map[string]any{"body": "", "public": true, "photos": []string{ph2.GUID, ph1.GUID}})
		if len(p.Photos) != 2 || p.Photos[0].Sizes.Raw != ph2.Sizes.Raw || *p.Photos[0].Dimensions.Width != 64 {
			t.Fatalf("photos: %+v", p.Photos)
		}
		if p.Title != "A post from Alice" {
			t.Errorf("title %q", p.Title)
		}
		// The alt text comes back in the order of the photos, "" for none;
		// a post whose photos have none carries no photo_alt at all.
		if p.Seedpod == nil || !slices.Equal(p.Seedpod.PhotoAlt, []string{"a test card", ""}) {
			t.Errorf("photo_alt: %+v", p.Seedpod)
		}
		if q := r.postsCreate(map[string]any{"body": "no alt", "public": true,
			"photos": []string{r.postsPhoto(map[string]string{"pending": "true"}).GUID}}); q.Seedpod != nil && q.Seedpod.PhotoAlt != nil {
			t.Errorf("photo_alt without alt text: %v", q.Seedpod.PhotoAlt)
		}
		var got apiv1.Photo
		b := r.json("GET", V1Prefix+"/photos/"+ph1.GUID, nil, http.StatusOK, &got)
		apiv1test.Validate(t, "photo", b)
		if got.Post != p.GUID {
			t.Errorf("photo post %q, want %q", got.Post, p.GUID)
		}
		// The blob is served, immutable, with its type.
		u, err := url.Parse(p.Photos[1].Sizes.Small)
		if err != nil || u.Host != strings.TrimPrefix(r.srv.URL, "http://") {
			t.Fatalf("size URL %q", p.Photos[1].Sizes.Small)
		}
		st, h, body := r.do("GET", u.Path, nil)
		// An opaque PNG is re-encoded as JPEG (pod/media).
		if st != http.StatusOK || h.Get("Content-Type") != "image/jpeg" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Errorf("media: %d %v", st, h)
		}
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width > 64 {
			t.Errorf("media body: %v %+v", err, cfg)
		}
		// An attached photo is no longer pending.
		if st, _, b := r.do("POST", V1Prefix+"/posts", map[string]any{"body": "again", "public": true,
			"photos": []string{ph1.GUID}}); st != http.StatusUnprocessableEntity {
			t.Errorf("reattach: %d %s", st, b)
		}
	})

	t.Run("nsfw", func(t *testing.T) {
		p := r.postsCreate(map[string]any{"body": "spicy", "public": true, "nsfw": true})
		if !p.NSFW || p.Body != "spicy\n\n#nsfw" {
			t.Errorf("nsfw post: %v %q", p.NSFW, p.Body)
		}
		p = r.postsCreate(map[string]any{"body": "already #NSFW", "public": true, "nsfw": "true"})
		if !p.NSFW || p.Body != "already #NSFW" {
			t.Errorf("tagged post: %v %q", p.NSFW, p.Body)
		}
		p = r.postsCreate(map[string]any{"body": "tame", "public": true})
		if p.NSFW {
			t.Error("tame post is nsfw")
		}
	})
}

func TestPostsCreateRefusals(t *testing.T) {
	r, people := postsRig(t)
	ctx := context.Background()
	notPending := r.postsPhoto(nil)
	// A photo of a received post is not mine.
	theirs := postsGUID()
	r.postsReceive(&entity.StatusMessage{AuthorID: postsBob, ID: postsGUID(), CreatedAt: time.Now().UTC().Truncate(time.Second),
		Public: true, Text: "pic", Photos: []*entity.Photo{{ID: theirs, AuthorID: postsBob, Public: true,
			RemotePhotoPath: "https://pod-b.example/uploads/images/", RemotePhotoName: "x.jpg"}}})
	_ = people
	answers := make([]string, 21)
	for i := range answers {
		answers[i] = fmt.Sprint("a", i)
	}
	cases := []struct {
		name string
		body any
		want int
	}{
		{"public missing", map[string]any{"body": "x"}, 422},
		{"limited without aspects", map[string]any{"body": "x", "public": false}, 422},
		{"limited with empty aspects", map[string]any{"body": "x", "public": false, "aspects": []int{}}, 422},
		{"unknown aspect", map[string]any{"body": "x", "public": false, "aspects": []int{1, 99}}, 422},
		{"aspect not an integer", map[string]any{"body": "x", "public": false, "aspects": []string{"one"}}, 422},
		{"unknown photo", map[string]any{"body": "x", "public": true, "photos": []string{postsGUID()}}, 422},
		{"not-pending photo", map[string]any{"body": "x", "public": true, "photos": []string{notPending.GUID}}, 422},
		{"someone else's photo", map[string]any{"body": "x", "public": true, "photos": []string{theirs}}, 422},
		{"empty body without photos", map[string]any{"body": "", "public": true}, 422},
		{"blank body without photos", map[string]any{"body": " \n\t", "public": true}, 422},
		{"no body", map[string]any{"public": true}, 422},
		{"NUL in body", map[string]any{"body": "a\u0000b", "public": true}, 422},
		{"control character", map[string]any{"body": "a\u0007b", "public": true}, 422},
		{"too long", map[string]any{"body": strings.Repeat("é", 65536), "public": true}, 422},
		{"poll with one answer", map[string]any{"body": "x", "public": true,
			"poll": map[string]any{"question": "q", "poll_answers": []string{"a"}}}, 422},
		{"poll with a blank answer", map[string]any{"body": "x", "public": true,
			"poll": map[string]any{"question": "q", "poll_answers": []string{"a", " "}}}, 422},
		{"poll without question", map[string]any{"body": "x", "public": true,
			"poll": map[string]any{"question": "", "poll_answers": []string{"a", "b"}}}, 422},
		{"poll with too many answers", map[string]any{"body": "x", "public": true,
			"poll": map[string]any{"question": "q", "poll_answers": answers}}, 422},
		{"latitude out of range", map[string]any{"body": "x", "public": true,
			"location": map[string]any{"address": "", "lat": 91, "lng": 0}}, 422},
		{"longitude missing", map[string]any{"body": "x", "public": true,
			"location": map[string]any{"address": "a", "lat": 1}}, 422},
		{"latitude not a number", map[string]any{"body": "x", "public": true,
			"location": map[string]any{"address": "a", "lat": "north", "lng": 1}}, 422},
		{"not JSON", "body=x&public=true", 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := r.postsOps()
			st, _, b := r.do("POST", V1Prefix+"/posts", c.body)
			if st != c.want {
				t.Errorf("status %d, want %d: %s", st, c.want, b)
			}
			var e apiError
			if json.Unmarshal(b, &e) != nil || e.Message == "" {
				t.Errorf("no error message: %s", b)
			}
			if after := r.postsOps(); after != before {
				t.Errorf("%d ops written by a refusal", after-before)
			}
		})
	}
	// Invalid UTF-8 cannot travel in JSON (decoders replace it); the use
	// case refuses it for callers that pass strings directly.
	pub := apiv1.Bool(true)
	before := r.postsOps()
	if _, err := r.pod.CreatePost(ctx, pod.PostInput{Body: "bad \xff byte", Public: &pub}); err == nil ||
		!strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if r.postsOps() != before {
		t.Error("ops written for invalid UTF-8")
	}
}

func TestPostsPhotos(t *testing.T) {
	r, _ := postsRig(t)
	ctx := context.Background()

	ph := r.postsPhoto(map[string]string{"pending": "1", "aspect_ids": "all"})
	if *ph.Dimensions.Width != 64 || *ph.Dimensions.Height != 48 {
		t.Errorf("dimensions %+v", ph.Dimensions)
	}
	for _, u := range []string{ph.Sizes.Small, ph.Sizes.Medium, ph.Sizes.Large, ph.Sizes.Raw} {
		if !strings.HasPrefix(u, r.srv.URL+"/api/seedpod/v1/media/") {
			t.Errorf("size URL %q", u)
		}
	}
	// Profile photo: the avatar field gets its own square variants.
	av := r.postsPhoto(map[string]string{"set_profile_photo": "true"})
	v, err := store.Field(ctx, r.pod.DB().R, "profile/avatar")
	if err != nil {
		t.Fatal(err)
	}
	var sizes store.PhotoSizes
	if err := json.Unmarshal([]byte(v), &sizes); err != nil || sizes.Medium == "" || sizes.Raw == "" {
		t.Errorf("avatar field %q: %v", v, err)
	}
	if sizes.Small == strings.TrimPrefix(av.Sizes.Small, r.srv.URL+"/api/seedpod/v1/media/") {
		t.Error("avatar small is the photo's thumbnail, want the avatar variant")
	}

	// The list and its paging.
	var list []apiv1.Photo
	st, h, b := r.do("GET", V1Prefix+"/photos?per_page=1", nil)
	if st != 200 {
		t.Fatalf("list: %d %s", st, b)
	}
	apiv1test.Validate(t, "photos", b)
	json.Unmarshal(b, &list)
	if len(list) != 1 || list[0].GUID != av.GUID || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1: %+v %q", list, h.Get("Link"))
	}
	next := strings.TrimPrefix(strings.SplitN(h.Get("Link"), ">", 2)[0], "<")
	st, _, b = r.do("GET", next, nil)
	json.Unmarshal(b, &list)
	if st != 200 || len(list) != 1 || list[0].GUID != ph.GUID {
		t.Fatalf("page 2: %d %s", st, b)
	}
	var mine []apiv1.Photo
	me := r.postsMe()
	r.json("GET", V1Prefix+"/users/"+me+"/photos", nil, 200, &mine)
	if len(mine) != 2 {
		t.Errorf("users/me/photos: %d", len(mine))
	}

	// Refusals change nothing.
	huge := append([]byte("\xff\xd8\xff"), make([]byte, 20<<20)...)
	refusals := []struct {
		name        string
		image       []byte
		filename    string
		contentType string
		fields      map[string]string
		want        int
	}{
		{"no image", nil, "", "", map[string]string{"pending": "true"}, 422},
		{"no filename", postsPNG(t, 4, 4), "", "image/png", nil, 422},
		{"no content type", postsPNG(t, 4, 4), "a.png", "", nil, 422},
		{"not an image", []byte("%PDF-1.4 not a picture"), "a.png", "image/png", nil, 422},
		{"truncated image", postsPNG(t, 40, 40)[:60], "a.png", "image/png", nil, 422},
		{"decompression bomb", postsBombPNG(t, 60000, 60000), "b.png", "image/png", nil, 422},
		{"too many pixels", postsBombPNG(t, 9000, 9000), "b.png", "image/png", nil, 422},
		{"oversized file", huge, "big.jpg", "image/jpeg", nil, 422},
		{"bad boolean", postsPNG(t, 4, 4), "a.png", "image/png", map[string]string{"pending": "maybe"}, 422},
		{"unknown aspect", postsPNG(t, 4, 4), "a.png", "image/png", map[string]string{"aspect_ids": "[77]"}, 422},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			before := r.postsOps()
			st, b := r.postsUpload(c.image, c.filename, c.contentType, c.fields)
			if st != c.want {
				t.Errorf("status %d, want %d: %s", st, c.want, b)
			}
			var e apiError
			if json.Unmarshal(b, &e) != nil || e.Message == "" {
				t.Errorf("no message: %s", b)
			}
			if r.postsOps() != before {
				t.Error("a refusal wrote ops")
			}
		})
	}
	if st, _, b := r.do("POST", V1Prefix+"/photos", map[string]any{"image": "x"}); st != 422 {
		t.Errorf("JSON upload: %d %s", st, b)
	}

	// Media: unknown and malformed names are not found.
	for _, p := range []string{strings.Repeat("a", 64), "../../etc/passwd", strings.Repeat("A", 64), "abc"} {
		if st, _, _ := r.do("GET", APIPrefix+"/media/"+url.PathEscape(p), nil); st != 404 {
			t.Errorf("media %q: %d", p, st)
		}
	}

	// Delete: mine goes, unknown and someone else's are not found.
	theirs := postsGUID()
	r.postsReceive(&entity.Photo{ID: theirs, AuthorID: postsBob, Public: true, CreatedAt: time.Now().UTC().Truncate(time.Second),
		RemotePhotoPath: "https://pod-b.example/uploads/images/", RemotePhotoName: "y.jpg", Width: 10, Height: 20})
	var remote apiv1.Photo
	b = r.json("GET", V1Prefix+"/photos/"+theirs, nil, 200, &remote)
	apiv1test.Validate(t, "photo", b)
	if remote.Sizes.Small != "https://pod-b.example/uploads/images/thumb_small_y.jpg" {
		t.Errorf("remote sizes %+v", remote.Sizes)
	}
	r.json("DELETE", V1Prefix+"/photos/"+theirs, nil, 404, nil)
	r.json("DELETE", V1Prefix+"/photos/"+postsGUID(), nil, 404, nil)
	r.do("DELETE", V1Prefix+"/photos/"+ph.GUID, nil)
	r.json("GET", V1Prefix+"/photos/"+ph.GUID, nil, 404, nil)
	r.json("DELETE", V1Prefix+"/photos/"+ph.GUID, nil, 404, nil)
}

// postsDo sends a request with extra headers.
func (r *apiRig) postsDo(method, path string, body any, headers map[string]string) (int, http.Header, []byte) {
	r.t.Helper()
	j, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, bytes.NewReader(j))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, out.Bytes()
}

// postsMe is the user's guid.
func (r *apiRig) postsMe() string {
	r.t.Helper()
	me, err := r.pod.DB().Me(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return me.GUID
}

func TestPostsEditAndVersions(t *testing.T) {
	r, _ := postsRig(t)
	p := r.postsCreate(map[string]any{"body": "first #one", "public": true})
	if p.Seedpod == nil || p.Seedpod.EditedAt != nil || p.Seedpod.HTML == "" {
		t.Errorf("unedited post: extension %+v, want html and no edited_at", p.Seedpod)
	}
	path := APIPrefix + "/posts/" + p.GUID

	_, h, _ := r.do("GET", V1Prefix+"/posts/"+p.GUID, nil)
	etag := h.Get("ETag")
	var e1 apiv1.Post
	st, h2, b := r.postsDo("PATCH", path, map[string]any{"body": "second #two"}, map[string]string{"If-Match": etag})
	if st != 200 {
		t.Fatalf("edit: %d %s", st, b)
	}
	apiv1test.Validate(t, "post", b)
	json.Unmarshal(b, &e1)
	if e1.Body != "second #two" || e1.Seedpod == nil || e1.Seedpod.EditedAt == nil || !e1.Seedpod.EditedAt.After(p.CreatedAt.Time) {
		t.Fatalf("edited: %+v", e1)
	}
	if e1.CreatedAt != p.CreatedAt {
		t.Error("created_at changed")
	}
	// The old ETag is stale now.
	before := r.postsOps()
	if st, _, b := r.postsDo("PATCH", path, map[string]any{"body": "third"}, map[string]string{"If-Match": etag}); st != 412 {
		t.Errorf("stale If-Match: %d %s", st, b)
	}
	if r.postsOps() != before {
		t.Error("stale edit wrote")
	}
	// Location only, then removing it; the text stays.
	var e2 apiv1.Post
	r.postsDo("PUT", path, map[string]any{"location": map[string]any{"address": "Paris", "lat": 48.85, "lng": 2.35}},
		map[string]string{"If-Match": h2.Get("ETag")})
	r.json("GET", V1Prefix+"/posts/"+p.GUID, nil, 200, &e2)
	if e2.Body != "second #two" || e2.Location == nil || e2.Location.Address != "Paris" {
		t.Errorf("location edit: %+v", e2)
	}
	var e3 apiv1.Post
	r.json("PATCH", path, map[string]any{"location": nil}, 200, &e3)
	if e3.Location != nil || e3.Body != "second #two" {
		t.Errorf("location not removed: %+v", e3)
	}
	// No change, no version.
	before = r.postsOps()
	r.json("PATCH", path, map[string]any{"body": "second #two"}, 200, nil)
	if r.postsOps() != before {
		t.Error("a no-op edit wrote")
	}
	var vs []pod.PostVersion
	r.json("GET", path+"/versions", nil, 200, &vs)
	if len(vs) != 4 || vs[0].Body != "first #one" || vs[1].Body != "second #two" || vs[3].Body != "second #two" {
		t.Fatalf("versions: %+v", vs)
	}
	for i := 1; i < len(vs); i++ {
		if !vs[i].EditedAt.After(vs[i-1].EditedAt.Time) {
			t.Errorf("versions not oldest first: %+v", vs)
		}
	}
	if len(vs[0].Device) != 64 {
		t.Errorf("device %q", vs[0].Device)
	}
	// Tags follow the text.
	tags, _, _ := r.postsStream(APIPrefix + "/streams/tag/two")
	old, _, _ := r.postsStream(APIPrefix + "/streams/tag/one")
	if len(tags) != 1 || len(old) != 0 {
		t.Errorf("tag streams after edit: two %v one %v", tags, old)
	}

	// Refusals.
	theirs := r.postsReceived(postsBob, true, "bob's", time.Now())
	var reshare struct {
		GUID string `json:"guid"`
	}
	r.json("POST", V1Prefix+"/posts/"+theirs+"/reshares", nil, 200, &reshare)
	cases := []struct {
		name, guid string
		body       any
		want       int
	}{
		{"another's post", theirs, map[string]any{"body": "mine now"}, 403},
		{"my reshare", reshare.GUID, map[string]any{"body": "x"}, 403},
		{"unknown", postsGUID(), map[string]any{"body": "x"}, 404},
		{"NUL", p.GUID, map[string]any{"body": "a\u0000"}, 422},
		{"empty body", p.GUID, map[string]any{"body": "  "}, 422},
		{"bad location", p.GUID, map[string]any{"location": map[string]any{"lat": 0}}, 422},
		{"not JSON", p.GUID, "body", 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := r.postsOps()
			if st, _, b := r.do("PATCH", APIPrefix+"/posts/"+c.guid, c.body); st != c.want {
				t.Errorf("status %d, want %d: %s", st, c.want, b)
			}
			if r.postsOps() != before {
				t.Error("a refusal wrote")
			}
		})
	}
	r.json("GET", APIPrefix+"/posts/"+postsGUID()+"/versions", nil, 404, nil)
	var rv []pod.PostVersion
	r.json("GET", APIPrefix+"/posts/"+theirs+"/versions", nil, 200, &rv)
	if len(rv) != 1 || rv[0].Body != "bob's" || rv[0].Device != "" {
		t.Errorf("received versions: %+v", rv)
	}
}

// postsDevice is a second device of the user: its own key and log.
type postsDevice struct{ log *oplog.Log }

func newPostsDevice(seed byte) *postsDevice {
	k := make([]byte, ed25519.SeedSize)
	k[0], k[1] = seed, 0x9e
	return &postsDevice{log: oplog.NewLog(ed25519.NewKeyFromSeed(k), uint64(seed)<<40|0x9e, time.Now)}
}

// apply signs ops of this device and applies them to the pod, as sync does.
func (d *postsDevice) apply(t *testing.T, p *pod.Pod, bodies ...oplog.Body) {
	t.Helper()
	var batch []oplog.Signed
	for _, b := range bodies {
		raw, err := oplog.EncodeBody(b)
		if err != nil {
			t.Fatal(err)
		}
		_, s, err := d.log.Append(b.OpKind(), oplog.CurrentSchema, raw)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, s)
	}
	if _, err := p.Log().Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func TestPostsDelete(t *testing.T) {
	r, _ := postsRig(t)
	ctx := context.Background()
	ph := r.postsPhoto(map[string]string{"pending": "true"})
	p := r.postsCreate(map[string]any{"body": "short-lived #gone", "public": true, "photos": []string{ph.GUID}})
	keep := r.postsCreate(map[string]any{"body": "stays", "public": true})
	r.json("PATCH", APIPrefix+"/posts/"+p.GUID, map[string]any{"body": "edited #gone"}, 200, nil)

	theirs := r.postsReceived(postsBob, true, "bob's", time.Now())
	before := r.postsOps()
	r.json("DELETE", V1Prefix+"/posts/"+theirs, nil, 403, nil)
	r.json("DELETE", V1Prefix+"/posts/"+postsGUID(), nil, 404, nil)
	if r.postsOps() != before {
		t.Error("refused deletes wrote")
	}

	if st, _, b := r.do("DELETE", V1Prefix+"/posts/"+p.GUID, nil); st != 204 || len(b) != 0 {
		t.Fatalf("delete: %d %s", st, b)
	}
	check := func(when string) {
		t.Helper()
		r.json("GET", V1Prefix+"/posts/"+p.GUID, nil, 404, nil)
		r.json("GET", APIPrefix+"/posts/"+p.GUID+"/versions", nil, 404, nil)
		r.json("GET", V1Prefix+"/photos/"+ph.GUID, nil, 404, nil)
		for _, s := range []string{V1Prefix + "/streams/main", V1Prefix + "/streams/activity", APIPrefix + "/streams/public",
			APIPrefix + "/streams/tag/gone", V1Prefix + "/users/" + r.postsMe() + "/posts"} {
			gs, _, _ := r.postsStream(s)
			if slices.Contains(gs, p.GUID) {
				t.Errorf("%s: %s still lists the deleted post", when, s)
			}
		}
		for _, tbl := range []string{"post_versions", "post_tags"} {
			rows, _ := r.pod.DB().DumpProjection(ctx, tbl)
			for _, row := range rows {
				if strings.Contains(row, p.GUID) || strings.Contains(row, "tag=gone") {
					t.Errorf("%s: %s keeps %s", when, tbl, row)
				}
			}
		}
		r.json("GET", V1Prefix+"/posts/"+keep.GUID, nil, 200, nil)
	}
	check("after delete")
	r.json("DELETE", V1Prefix+"/posts/"+p.GUID, nil, 404, nil)

	// A replay of the Publish (another device that had not seen the
	// retraction re-sends it, with a new op) cannot resurrect it.
	body, _ := json.Marshal(store.PostBody{Text: "short-lived #gone", Public: true, AspectIDs: []int64{}, Photos: []string{}})
	newPostsDevice(3).apply(t, r.pod, oplog.Publish{GUID: p.GUID, Kind: "post", CreatedAt: time.Now().UnixMilli(), Body: body})
	check("after a replay")
}

func TestPostsReceived(t *testing.T) {
	r, people := postsRig(t)
	ctx := context.Background()
	now := time.Now()
	pg := postsGUID()
	photo := postsGUID()
	r.postsReceive(&entity.StatusMessage{AuthorID: postsBob, ID: pg, CreatedAt: now.UTC().Truncate(time.Second),
		Public: false, Text: "limited with a photo, @{alice@localhost} #Cats", ProviderDisplayName: "Some App",
		Photos: []*entity.Photo{{ID: photo, AuthorID: postsBob, CreatedAt: now.UTC().Truncate(time.Second),
			RemotePhotoPath: "https://pod-b.example/uploads/images/", RemotePhotoName: "p.jpg", Width: 800, Height: 600}},
		Poll: &entity.Poll{ID: postsGUID(), Question: "Q?", Answers: []*entity.PollAnswer{{ID: postsGUID(), Answer: "A"},
			{ID: postsGUID(), Answer: "B"}}},
		Location: &entity.Location{Address: "Here", Lat: "1.5", Lng: "-2.25"}})
	var p apiv1.Post
	b := r.json("GET", V1Prefix+"/posts/"+pg, nil, 200, &p)
	apiv1test.Validate(t, "post", b)
	if p.Public || p.Author.GUID != people[postsBob] || p.Author.Name != "Bob" || p.ProviderDisplayName != "Some App" {
		t.Errorf("post: %+v", p)
	}
	if len(p.Photos) != 1 || p.Photos[0].Sizes.Large != "https://pod-b.example/uploads/images/scaled_full_p.jpg" ||
		*p.Photos[0].Dimensions.Width != 800 {
		t.Errorf("photos: %+v", p.Photos)
	}
	if p.Poll == nil || len(p.Poll.Answers) != 2 || p.Poll.Answers[1].ID != 2 || p.Location == nil || p.Location.Lng != -2.25 {
		t.Errorf("poll %+v location %+v", p.Poll, p.Location)
	}
	if len(p.MentionedPeople) != 1 || p.MentionedPeople[0].GUID != r.postsMe() {
		t.Errorf("mentions: %+v", p.MentionedPeople)
	}

	// Main stream: a public post of someone I do not share with is not in
	// it, until I share with them; the limited post mentioning me is.
	pub := r.postsReceived(postsCarol, true, "carol says hi", now.Add(time.Second))
	main, _, _ := r.postsStream(V1Prefix + "/streams/main")
	if !slices.Contains(main, pg) || slices.Contains(main, pub) {
		t.Errorf("main before sharing: %v", main)
	}
	r.postsWrite(oplog.AspectAdd{Aspect: "1", Member: people[postsCarol]})
	main, _, _ = r.postsStream(V1Prefix + "/streams/main")
	if !slices.Contains(main, pub) {
		t.Errorf("main after sharing: %v", main)
	}

	// Retractions count only from the author, whenever they arrive.
	r.postsReceive(&entity.Retraction{AuthorID: postsCarol, Target: pg, TargetTypeName: "Post"})
	r.json("GET", V1Prefix+"/posts/"+pg, nil, 200, nil)
	r.postsReceive(&entity.Retraction{AuthorID: postsBob, Target: pg, TargetTypeName: "Post"})
	r.json("GET", V1Prefix+"/posts/"+pg, nil, 404, nil)
	r.json("GET", V1Prefix+"/photos/"+photo, nil, 404, nil)
	early := postsGUID()
	r.postsReceive(&entity.Retraction{AuthorID: postsDave, Target: early, TargetTypeName: "Post"})
	r.postsReceive(&entity.StatusMessage{AuthorID: postsDave, ID: early, CreatedAt: now.UTC().Truncate(time.Second),
		Public: true, Text: "retracted before it came"})
	r.json("GET", V1Prefix+"/posts/"+early, nil, 404, nil)
	rows, _ := r.pod.DB().DumpProjection(ctx, "remote_retractions")
	if len(rows) != 3 {
		t.Errorf("remote_retractions: %v", rows)
	}
	// A photo retraction removes a standalone received photo.
	ph := postsGUID()
	r.postsReceive(&entity.Photo{ID: ph, AuthorID: postsBob, Public: true, CreatedAt: now.UTC().Truncate(time.Second),
		RemotePhotoPath: "https://pod-b.example/i/", RemotePhotoName: "z.png"})
	r.json("GET", V1Prefix+"/photos/"+ph, nil, 200, nil)
	r.postsReceive(&entity.Retraction{AuthorID: postsBob, Target: ph, TargetTypeName: "Photo"})
	r.json("GET", V1Prefix+"/photos/"+ph, nil, 404, nil)

	// A received edit (newer edited_at on a new record is the federation
	// engine's business); the record's edited_at shows.
	eg := postsGUID()
	r.postsReceive(&entity.StatusMessage{AuthorID: postsBob, ID: eg, CreatedAt: now.UTC().Truncate(time.Second),
		EditedAt: now.Add(time.Hour).UTC().Truncate(time.Second), Public: true, Text: "edited elsewhere"})
	var ep apiv1.Post
	r.json("GET", V1Prefix+"/posts/"+eg, nil, 200, &ep)
	if ep.Seedpod == nil || ep.Seedpod.EditedAt == nil {
		t.Errorf("received edit: %+v", ep.Seedpod)
	}
	// People I block or ignore disappear from streams.
	r.postsWrite(oplog.SetAdd{Set: "blocks", Member: people[postsCarol]})
	main, _, _ = r.postsStream(V1Prefix + "/streams/main")
	if slices.Contains(main, pub) {
		t.Errorf("blocked person's post in main: %v", main)
	}
}

func TestPostsReshares(t *testing.T) {
	r, _ := postsRig(t)
	now := time.Now().UTC().Truncate(time.Second)
	root := r.postsReceived(postsBob, true, "the original #root with @{"+postsDave+"}", now)
	r1, r2 := postsGUID(), postsGUID()
	r.postsReceive(&entity.Reshare{AuthorID: postsCarol, ID: r1, CreatedAt: now, RootAuthorID: postsBob, RootID: root})
	// A reshare of a reshare (older software): collapses to the absolute root.
	r.postsReceive(&entity.Reshare{AuthorID: postsDave, ID: r2, CreatedAt: now, RootAuthorID: postsCarol, RootID: r1})
	// The interactions area's route (its answer becomes a v1 Post).
	var mine struct {
		GUID string `json:"guid"`
	}
	r.json("POST", V1Prefix+"/posts/"+root+"/reshares", nil, 200, &mine)
	for _, g := range []string{r1, r2, mine.GUID} {
		var p apiv1.Post
		b := r.json("GET", V1Prefix+"/posts/"+g, nil, 200, &p)
		apiv1test.Validate(t, "post", b)
		if p.PostType != "Reshare" || p.Root == nil || p.Root.GUID != root || p.Body != "the original #root with @{"+postsDave+"}" ||
			len(p.MentionedPeople) != 1 || p.Root.Author.DiasporaID != postsBob || !p.Public {
			t.Errorf("reshare %s: %+v", g, p)
		}
	}
	var orig apiv1.Post
	r.json("GET", V1Prefix+"/posts/"+root, nil, 200, &orig)
	if orig.InteractionCounters.Reshares != 2 || !orig.OwnInteractionState.Reshared {
		t.Errorf("root counters %+v state %+v", orig.InteractionCounters, orig.OwnInteractionState)
	}
	// The original is retracted: reshares stay, without root or body.
	r.postsReceive(&entity.Retraction{AuthorID: postsBob, Target: root, TargetTypeName: "Post"})
	var p apiv1.Post
	b := r.json("GET", V1Prefix+"/posts/"+r1, nil, 200, &p)
	apiv1test.Validate(t, "post", b)
	if p.Root != nil || p.Body != "" || p.Title == "" {
		t.Errorf("orphan reshare: %+v", p)
	}
	if strings.Contains(string(b), `"root"`) {
		t.Errorf("root key present: %s", b)
	}
}

// postsAt is a fixed time in the past, minute by minute.
func postsAt(i int) time.Time {
	return time.Now().Add(-2 * time.Hour).Truncate(time.Minute).Add(time.Duration(i) * time.Minute)
}

func TestPostsStreams(t *testing.T) {
	r, people := postsRig(t)
	r.postsWrite(
		oplog.AspectAdd{Aspect: "1", Member: people[postsBob]},
		oplog.AspectAdd{Aspect: "2", Member: people[postsDave]},
		oplog.AspectAdd{Aspect: "1", Member: people[postsErin]},
		oplog.SetAdd{Set: "ignores", Member: people[postsErin]},
		oplog.SetAdd{Set: "tags", Member: "cats"},
	)
	bob := r.postsReceived(postsBob, false, "hi from bob", postsAt(1))
	carolCats := r.postsReceived(postsCarol, true, "look #Cats", postsAt(2))
	carolDogs := r.postsReceived(postsCarol, true, "look #dogs", postsAt(3))
	carolMention := r.postsReceived(postsCarol, true, "hey @{Alice; alice@localhost}", postsAt(4))
	carolPlain := r.postsReceived(postsCarol, true, "plain", postsAt(5))
	carolLimitedCats := r.postsReceived(postsCarol, false, "only for you #cats", postsAt(6))
	dave := r.postsReceived(postsDave, true, "dave here", postsAt(7))
	erin := r.postsReceived(postsErin, true, "erin here", postsAt(8))
	bobHidden := r.postsReceived(postsBob, true, "hide me", postsAt(9))
	r.postsWrite(oplog.SetAdd{Set: "hidden", Member: bobHidden})
	ownPub := r.postsCreate(map[string]any{"body": "mine", "public": true}).GUID
	own2 := r.postsCreate(map[string]any{"body": "for aspect 2", "public": false, "aspects": []int{2}}).GUID
	own3 := r.postsCreate(map[string]any{"body": "for aspect 3", "public": false, "aspects": []int{3}}).GUID
	r.json("POST", V1Prefix+"/posts/"+carolPlain+"/comments", map[string]any{"body": "a reply"}, http.StatusCreated, nil)
	r.json("POST", V1Prefix+"/posts/"+carolDogs+"/likes", nil, http.StatusNoContent, nil)
	_ = erin

	cases := []struct {
		path string
		want []string // newest first
	}{
		{V1Prefix + "/streams/main", []string{own3, own2, ownPub, dave, carolMention, carolCats, bob}},
		{V1Prefix + "/streams/aspects", []string{own3, own2, ownPub, dave, bob}},
		{V1Prefix + "/streams/aspects?aspect_ids=%5B1%5D", []string{ownPub, bob}},
		{V1Prefix + "/streams/aspects?aspect_ids[]=2", []string{own2, ownPub, dave}},
		{V1Prefix + "/streams/aspects?aspect_ids=%5B%222%22%2C3%5D", []string{own3, own2, ownPub, dave}},
		{V1Prefix + "/streams/aspects?aspect_ids=%5B%5D", []string{ownPub}},
		{V1Prefix + "/streams/tags", []string{carolLimitedCats, carolCats}},
		{V1Prefix + "/streams/mentions", []string{carolMention}},
		{V1Prefix + "/streams/liked", []string{carolDogs}},
		{V1Prefix + "/streams/commented", []string{carolPlain}},
		{V1Prefix + "/streams/activity", []string{carolPlain, own3, own2, ownPub, carolDogs}},
		{V1Prefix + "/users/" + people[postsCarol] + "/posts", []string{carolLimitedCats, carolPlain, carolMention, carolDogs, carolCats}},
		{V1Prefix + "/users/" + people[postsErin] + "/posts", nil},
		{V1Prefix + "/users/" + r.postsMe() + "/posts", []string{own3, own2, ownPub}},
		{V1Prefix + "/search/posts?tag=%23DOGS", []string{carolDogs}},
		{APIPrefix + "/streams/public", []string{ownPub, dave, carolPlain, carolMention, carolDogs, carolCats}},
		{APIPrefix + "/streams/tag/CATS", []string{carolLimitedCats, carolCats}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			got, ps, h := r.postsStream(c.path)
			if !slices.Equal(got, c.want) {
				t.Errorf("got  %v\nwant %v", got, c.want)
			}
			if l := h.Get("Link"); len(got) > 0 && !strings.Contains(l, `rel="next"`) {
				t.Errorf("Link %q", l)
			}
			if strings.Contains(c.path, "/streams/") && strings.Contains(h.Get("Link"), "previous") {
				t.Errorf("a stream links previous: %q", h.Get("Link"))
			}
			for _, p := range ps {
				if strings.Contains(c.path, "search/posts") && p.OwnInteractionState != (apiv1.OwnInteractionState{}) {
					t.Errorf("search/posts shows my interactions: %+v", p.OwnInteractionState)
				}
				if strings.Contains(c.path, "liked") && !p.OwnInteractionState.Liked {
					t.Errorf("liked stream post not liked: %+v", p.OwnInteractionState)
				}
			}
		})
	}
	for path, want := range map[string]int{
		V1Prefix + "/search/posts":                                                        422,
		V1Prefix + "/streams/main?before=yesterday":                                       422,
		V1Prefix + "/streams/main?before=2024-01-01T00:00:00Z&after=2024-01-01T00:00:00Z": 422,
		V1Prefix + "/streams/main?cursor=AAAA":                                            422,
		V1Prefix + "/streams/aspects?aspect_ids=%5Bx%5D":                                  422,
		V1Prefix + "/users/" + postsGUID() + "/posts":                                     404,
		V1Prefix + "/users/" + postsGUID() + "/photos":                                    404,
	} {
		if st, _, b := r.do("GET", path, nil); st != want {
			t.Errorf("%s: %d, want %d: %s", path, st, want, b)
		}
	}
}

func TestPostsPaging(t *testing.T) {
	r, _ := postsRig(t)
	ctx := context.Background()
	// 12 posts in one millisecond and 13 in others: the cursor keeps the
	// ones sharing a millisecond apart.
	same := time.Now().Add(-time.Hour).UnixMilli()
	var bodies []oplog.Body
	for i := range 25 {
		at := same
		if i >= 12 {
			at = same - int64(i)*1000
		}
		body, _ := json.Marshal(store.PostBody{Text: fmt.Sprint("post ", i), Public: true, AspectIDs: []int64{}, Photos: []string{}})
		bodies = append(bodies, oplog.Publish{GUID: postsGUID(), Kind: "post", CreatedAt: at, Body: body})
	}
	r.postsWrite(bodies...)
	rows, err := r.pod.DB().R.QueryContext(ctx, "SELECT guid FROM posts ORDER BY id DESC")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var g string
		rows.Scan(&g)
		want = append(want, g)
	}
	rows.Close()

	var got []string
	path := V1Prefix + "/streams/main?per_page=4"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		gs, _, h := r.postsStream(path)
		got = append(got, gs...)
		link := h.Get("Link")
		if len(gs) == 0 {
			if link != "" {
				t.Errorf("empty page links %q", link)
			}
			break
		}
		if len(gs) > 4 {
			t.Errorf("page of %d", len(gs))
		}
		if !strings.HasSuffix(link, `>; rel="next"`) || !strings.Contains(link, "before=") || !strings.Contains(link, "cursor=") ||
			!strings.Contains(link, "per_page=4") {
			t.Fatalf("Link %q", link)
		}
		path = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<")
	}
	if !slices.Equal(got, want) {
		t.Errorf("walked %d posts, want %d in id order\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	// A bare before (diaspora's form) compares times alone.
	before := apiv1.NewTime(time.UnixMilli(same)).String()
	gs, _, _ := r.postsStream(V1Prefix + "/streams/main?per_page=100&before=" + before)
	if len(gs) != 13 {
		t.Errorf("before the shared millisecond: %d posts, want 13", len(gs))
	}
	// after pages oldest first.
	gs, _, _ = r.postsStream(V1Prefix + "/streams/main?per_page=3&after=2000-01-01T00:00:00Z")
	if len(gs) != 3 || gs[0] != want[len(want)-1] || gs[2] != want[len(want)-3] {
		t.Errorf("after: %v", gs)
	}
	// The default page is 15.
	gs, _, _ = r.postsStream(V1Prefix + "/streams/main")
	if len(gs) != 15 {
		t.Errorf("default page: %d", len(gs))
	}
}

// postsTables dumps the posts area's tables.
func (r *apiRig) postsTables() string {
	r.t.Helper()
	var b strings.Builder
	for _, tbl := range []string{"posts", "post_versions", "post_tags", "post_mentions", "photos", "remote_retractions"} {
		rows, err := r.pod.DB().DumpProjection(context.Background(), tbl)
		if err != nil {
			r.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n  %s\n", tbl, strings.Join(rows, "\n  "))
	}
	return b.String()
}

func TestPostsRefold(t *testing.T) {
	r, people := postsRig(t)
	ctx := context.Background()
	r.postsWrite(oplog.AspectAdd{Aspect: "1", Member: people[postsBob]}, oplog.SetAdd{Set: "tags", Member: "cats"})
	ph1 := r.postsPhoto(map[string]string{"pending": "true"})
	ph2 := r.postsPhoto(map[string]string{"pending": "true"})
	ph3 := r.postsPhoto(nil)
	_ = ph3
	p1 := r.postsCreate(map[string]any{"body": "with photos #cats @{" + postsBob + "}", "public": false, "aspects": []int{1},
		"photos": []string{ph1.GUID, ph2.GUID}, "poll": map[string]any{"question": "q", "poll_answers": []string{"a", "b"}}})
	r.json("PATCH", APIPrefix+"/posts/"+p1.GUID, map[string]any{"body": "edited #dogs"}, 200, nil)
	r.json("PATCH", APIPrefix+"/posts/"+p1.GUID, map[string]any{"location": map[string]any{"address": "x", "lat": 1, "lng": 2}}, 200, nil)
	gone := r.postsCreate(map[string]any{"body": "to delete", "public": true})
	r.json("DELETE", V1Prefix+"/posts/"+gone.GUID, nil, 204, nil)
	received := postsGUID()
	r.postsReceive(&entity.StatusMessage{AuthorID: postsBob, ID: received, CreatedAt: postsAt(1).UTC(), Public: true,
		Text: "bob #cats", Photos: []*entity.Photo{{ID: postsGUID(), AuthorID: postsBob,
			RemotePhotoPath: "https://pod-b.example/u/", RemotePhotoName: "a.jpg"}}})
	retracted := r.postsReceived(postsCarol, true, "carol", postsAt(2))
	r.postsReceive(&entity.Retraction{AuthorID: postsCarol, Target: retracted, TargetTypeName: "Post"})
	r.postsReceive(&entity.Reshare{AuthorID: postsDave, ID: postsGUID(), CreatedAt: postsAt(3).UTC(), RootAuthorID: postsBob,
		RootID: received})
	r.json("POST", V1Prefix+"/posts/"+received+"/reshares", nil, 200, nil)
	r.json("POST", V1Prefix+"/posts/"+received+"/comments", map[string]any{"body": "hi"}, http.StatusCreated, nil)

	paths := []string{V1Prefix + "/streams/main", V1Prefix + "/streams/activity", APIPrefix + "/streams/public",
		V1Prefix + "/posts/" + p1.GUID, APIPrefix + "/posts/" + p1.GUID + "/versions", V1Prefix + "/photos"}
	answers := func() []string {
		var out []string
		for _, p := range paths {
			_, _, b := r.do("GET", p, nil)
			out = append(out, string(b))
		}
		return out
	}
	before, tables := answers(), r.postsTables()
	for _, seed := range []uint64{7, 99} {
		if err := r.pod.Log().Refold(ctx, store.RefoldOptions{Shuffle: seed}); err != nil {
			t.Fatal(err)
		}
		if after := r.postsTables(); after != tables {
			t.Errorf("seed %d: tables differ after refold\nbefore:\n%s\nafter:\n%s", seed, tables, after)
		}
		if after := answers(); !slices.Equal(after, before) {
			for i := range after {
				if after[i] != before[i] {
					t.Errorf("seed %d: %s differs\nbefore %s\nafter  %s", seed, paths[i], before[i], after[i])
				}
			}
		}
	}
}
