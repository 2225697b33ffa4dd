package archive_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"seedpod/pod/archive"
	"seedpod/pod/archive/archivetest"
)

// FuzzRead feeds arbitrary bytes to the archive reader (small caps, so a
// run stays fast). Invariants: it never panics; an error wraps
// ErrMalformed or ErrTooLarge; an accepted archive has a key, only posts
// and relayables by its owner, and writes back to an archive that reads
// again.
func FuzzRead(f *testing.F) {
	doc, _ := archivetest.Build(f, archivetest.Sample{})
	f.Add(doc)
	f.Add(archivetest.Gzip(f, doc))
	f.Add([]byte(`{"version":"2.0","user":{}}`))
	f.Add([]byte(`{"version":"2.0","user":{"posts":[{"entity_type":"reshare"}]}}`))
	rd, err := archive.NewReader(archive.Limits{MaxInput: 1 << 20, MaxJSON: 2 << 20, MaxItems: 1000, MaxItemBytes: 256 << 10, MaxOther: 256 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := rd.Read(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, archive.ErrMalformed) && !errors.Is(err, archive.ErrTooLarge) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		u := a.User
		if u.Key == nil || u.Handle == "" {
			t.Fatal("accepted without key or owner")
		}
		for _, p := range u.Posts {
			if strings.ToLower(p.Entity.Author()) != u.Handle {
				t.Fatalf("post by %s kept", p.Entity.Author())
			}
		}
		for _, r := range u.Relayables {
			if strings.ToLower(r.Author()) != u.Handle {
				t.Fatalf("relayable by %s kept", r.Author())
			}
		}
		if u.Profile == nil {
			return
		}
		var out bytes.Buffer
		w := archive.NewWriter(&out)
		if err := w.Begin(archive.Header{Username: u.Username, Key: u.Key, Profile: u.Profile, ContactGroups: u.ContactGroups,
			Contacts: u.Contacts, FollowedTags: u.FollowedTags, PostSubscriptions: u.PostSubscriptions, Blocks: u.Blocks,
			NonContactAuthors: a.NonContactAuthors}); err != nil {
			t.Fatalf("write back: %v", err)
		}
		for _, p := range u.Posts {
			if err := w.Post(p); err != nil {
				t.Fatalf("write back: %v", err)
			}
		}
		for _, r := range u.Relayables {
			if err := w.Relayable(r); err != nil {
				t.Fatalf("write back: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := rd.Read(&out)
		if err != nil {
			t.Fatalf("written archive does not read: %v", err)
		}
		if len(b.User.Posts) != len(u.Posts) || len(b.User.Relayables) != len(u.Relayables) ||
			len(b.NonContactAuthors) != len(a.NonContactAuthors) {
			t.Fatalf("read back %d/%d posts, %d/%d relayables", len(b.User.Posts), len(u.Posts), len(b.User.Relayables), len(u.Relayables))
		}
	})
}

// FuzzPhotos feeds arbitrary bytes to the photos zip reader. Invariants:
// it never panics; every name it accepts is one safe path element; a
// read returns at most MaxEntryBytes of an image, or an error.
func FuzzPhotos(f *testing.F) {
	_, z := archivetest.Build(f, archivetest.Sample{})
	f.Add(z)
	f.Add(archivetest.Zip(f, map[string][]byte{"../x.png": archivetest.PNG(f, 2, 2, 1), "a/b.png": []byte("GIF89a")}))
	lim := archive.PhotoLimits{MaxEntries: 50, MaxEntryBytes: 64 << 10, MaxTotalBytes: 256 << 10}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := archive.OpenPhotos(bytes.NewReader(in), int64(len(in)), lim)
		if err != nil {
			if !errors.Is(err, archive.ErrMalformed) && !errors.Is(err, archive.ErrTooLarge) && !errors.Is(err, archive.ErrUnsafe) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		for _, n := range p.Names() {
			if err := archive.CheckEntryName(n); err != nil || strings.Contains(n, "/") {
				t.Fatalf("accepted name %q: %v", n, err)
			}
			b, err := p.Read(n)
			if err != nil {
				continue
			}
			if int64(len(b)) > lim.MaxEntryBytes || archive.ImageType(b) == "" {
				t.Fatalf("read %q: %d bytes, type %q", n, len(b), archive.ImageType(b))
			}
		}
	})
}
