package pod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"

	"seedpod/pod/apiv1"
	"seedpod/pod/media"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Photos: uploads (decoded, stripped and resized by pod/media, kept as
// content-addressed blobs in <datadir>/media), their Publish ops, and the
// blobs served back by sha256.

// MediaPath is where the API serves a blob.
const MediaPath = "/api/seedpod/v1/media/"

type baseURLKey struct{}

// WithBaseURL returns ctx carrying the origin ("http://127.0.0.1:7474") the
// API answers on: media links in API objects are absolute (the v1 schema
// wants http(s) URLs), so use cases that present them need it. pod/web sets
// it per request.
func WithBaseURL(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, baseURLKey{}, origin)
}

// mediaURL is the URL of a blob ("" for none). Without an origin in ctx it
// is a path, which the own UI resolves but the v1 schema refuses.
func mediaURL(ctx context.Context, sha string) string {
	if sha == "" {
		return ""
	}
	origin, _ := ctx.Value(baseURLKey{}).(string)
	return origin + MediaPath + sha
}

// mediaStore opens the blob store (media.Open is cheap: a MkdirAll and a
// Stat).
func (p *Pod) mediaStore() (*media.Store, error) {
	return media.Open(filepath.Join(p.DataDir(), "media"))
}

// PhotoUpload is POST /api/v1/photos.
type PhotoUpload struct {
	Image       io.Reader
	Filename    string
	ContentType string
	// Pending photos wait to be attached to a post (POST /posts photos).
	Pending bool
	// SetProfilePhoto also makes the image the profile's avatar.
	SetProfilePhoto bool
	// AllAspects ("all") makes an unattached photo public; AspectIDs must
	// name existing aspects.
	AllAspects bool
	AspectIDs  []int64
	// Alt is the alt text (Seedpod's addition; diaspora* Photo.text).
	Alt string
}

// maxAlt bounds alt text (diaspora* Photo.text is a database text column;
// a screen-reader description needs far less).
const maxAlt = 1500

// UploadPhoto decodes, strips and resizes an image, stores its blobs and
// publishes the photo (and, when asked, makes it the avatar).
func (p *Pod) UploadPhoto(ctx context.Context, up PhotoUpload) (apiv1.Photo, error) {
	if up.Image == nil {
		return apiv1.Photo{}, fmt.Errorf("%w: send the picture as the multipart file field \"image\"", ErrInvalid)
	}
	if up.Filename == "" || up.ContentType == "" {
		return apiv1.Photo{}, fmt.Errorf("%w: the image part needs a filename and a content type", ErrInvalid)
	}
	if err := checkText("alt", up.Alt, maxAlt); err != nil {
		return apiv1.Photo{}, err
	}
	me, err := p.db.Me(ctx)
	if err != nil {
		return apiv1.Photo{}, err
	}
	if !me.Exists() {
		return apiv1.Photo{}, fmt.Errorf("%w: create the identity before uploading photos", ErrNoIdentity)
	}
	data, err := io.ReadAll(io.LimitReader(up.Image, media.DefaultMaxBytes+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apiv1.Photo{}, fmt.Errorf("%w: the image is larger than %d MiB", ErrInvalid, media.DefaultMaxBytes>>20)
		}
		return apiv1.Photo{}, fmt.Errorf("read upload: %w", err)
	}
	res, err := media.Process(bytes.NewReader(data), media.Photo, media.Limits{})
	if err != nil {
		return apiv1.Photo{}, photoMediaError(err)
	}
	st, err := p.mediaStore()
	if err != nil {
		return apiv1.Photo{}, err
	}
	sizes, err := putPhotoVariants(st, res)
	if err != nil {
		return apiv1.Photo{}, err
	}
	var avatar string
	if up.SetProfilePhoto {
		ares, err := media.Process(bytes.NewReader(data), media.Avatar, media.Limits{})
		if err != nil {
			return apiv1.Photo{}, photoMediaError(err)
		}
		asizes, err := putPhotoVariants(st, ares)
		if err != nil {
			return apiv1.Photo{}, err
		}
		b, _ := json.Marshal(asizes)
		avatar = string(b)
	}
	guid := newGUID()
	err = p.log.Write(ctx, func(w *store.Writer) error {
		for _, id := range up.AspectIDs {
			if _, ok, err := store.AspectByID(w.Ctx(), w, id); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%w: aspect %d is not one of yours", ErrInvalid, id)
			}
		}
		body, _ := json.Marshal(store.PhotoBody{Width: res.Original.Width, Height: res.Original.Height, Alt: up.Alt,
			ContentType: res.Original.ContentType, Sizes: sizes, Pending: up.Pending, Public: up.AllAspects})
		if _, err := w.Append(oplog.Publish{GUID: guid, Kind: store.KindPhoto, CreatedAt: w.Now().UnixMilli(), Body: body}); err != nil {
			return err
		}
		if avatar != "" {
			if _, err := w.Append(oplog.SetField{Key: "profile/avatar", Value: avatar}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return apiv1.Photo{}, err
	}
	return p.Photo(ctx, guid)
}

func putPhotoVariants(st *media.Store, res *media.Result) (store.PhotoSizes, error) {
	var s store.PhotoSizes
	raw, err := st.Put(res.Original.Data)
	if err != nil {
		return s, err
	}
	s.Raw = raw
	for _, v := range res.Variants {
		sha, err := st.Put(v.Data)
		if err != nil {
			return s, err
		}
		switch v.Name {
		case "small":
			s.Small = sha
		case "medium":
			s.Medium = sha
		case "large":
			s.Large = sha
		}
	}
	return s, nil
}

// photoMediaError turns pod/media's refusals into user-facing ErrInvalid.
func photoMediaError(err error) error {
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return fmt.Errorf("%w: the image is larger than %d MiB", ErrInvalid, media.DefaultMaxBytes>>20)
	case errors.Is(err, media.ErrNotImage):
		return fmt.Errorf("%w: the file is not an image (JPEG, PNG, GIF or WebP)", ErrInvalid)
	case errors.Is(err, media.ErrTooManyPixels):
		return fmt.Errorf("%w: the image has too many pixels (at most %d megapixels, %d pixels a side)",
			ErrInvalid, media.DefaultMaxPixels/1_000_000, media.DefaultMaxSide)
	case errors.Is(err, media.ErrCorrupt):
		return fmt.Errorf("%w: the image data is damaged or in an unsupported variant of its format", ErrInvalid)
	}
	return err
}

// Photo is one photo (own or received), or ErrNotFound.
func (p *Pod) Photo(ctx context.Context, guid string) (apiv1.Photo, error) {
	ph, ok, err := store.PhotoByGUID(ctx, p.db.R, guid)
	if err != nil {
		return apiv1.Photo{}, err
	}
	if !ok {
		return apiv1.Photo{}, fmt.Errorf("%w: no photo %s", ErrNotFound, guid)
	}
	return p.presentPhoto(ctx, ph), nil
}

// PhotoPage is a page of photos and its edges for the Link header.
type PhotoPage struct {
	Photos      []apiv1.Photo
	First, Last apiv1.Cursor
}

// Photos pages a person's photos by (created_at, guid): mine when
// personGUID is "" or my guid.
func (p *Pod) Photos(ctx context.Context, personGUID string, page apiv1.TimePage) (PhotoPage, error) {
	own, handle, err := p.postsAuthor(ctx, personGUID)
	if err != nil {
		return PhotoPage{}, err
	}
	rows, err := store.PhotoPage(ctx, p.db.R, own, handle, postsTimeBound(page))
	if err != nil {
		return PhotoPage{}, err
	}
	out := PhotoPage{Photos: make([]apiv1.Photo, 0, len(rows))}
	for _, r := range rows {
		out.Photos = append(out.Photos, p.presentPhoto(ctx, r))
	}
	if n := len(rows); n > 0 {
		out.First = apiv1.Cursor{Time: postsTime(rows[0].CreatedAt), GUID: rows[0].GUID}
		out.Last = apiv1.Cursor{Time: postsTime(rows[n-1].CreatedAt), GUID: rows[n-1].GUID}
	}
	return out, nil
}

// DeletePhoto retracts one of my photos; someone else's is not found, as
// in diaspora.
func (p *Pod) DeletePhoto(ctx context.Context, guid string) error {
	return p.log.Write(ctx, func(w *store.Writer) error {
		ph, ok, err := store.PhotoByGUID(w.Ctx(), w, guid)
		if err != nil {
			return err
		}
		if !ok || !ph.Own {
			return fmt.Errorf("%w: no photo %s of yours", ErrNotFound, guid)
		}
		_, err = w.Append(oplog.Retract{GUID: guid})
		return err
	})
}

// Media opens a blob of the media store, with its content type (sniffed:
// the store holds only what pod/media encoded, JPEG and PNG). A name that
// is not a sha256 or not stored is ErrNotFound.
func (p *Pod) Media(sha string) (io.ReadSeekCloser, string, error) {
	st, err := p.mediaStore()
	if err != nil {
		return nil, "", err
	}
	f, err := st.Open(sha)
	if err != nil {
		return nil, "", fmt.Errorf("%w: no media %.64q", ErrNotFound, sha)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", err
	}
	ct := http.DetectContentType(head[:n])
	if !slices.Contains([]string{"image/jpeg", "image/png", "image/gif", "image/webp"}, ct) {
		ct = "application/octet-stream"
	}
	return f, ct, nil
}
