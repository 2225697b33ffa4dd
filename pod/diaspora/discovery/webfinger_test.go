package discovery

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"seedpod/pod/internal/vectors"
)

const (
	aliceID   = "alice@pod-a.example"
	aliceGUID = "7dba7ca01d64013485eb3131731751e9"
	podA      = "https://pod-a.example"
)

// aliceWebFinger is the document the vectors were generated from.
func aliceWebFinger(t *testing.T) *WebFinger {
	t.Helper()
	w, err := ForAccount(podA+"/", aliceID, aliceGUID)
	if err != nil {
		t.Fatal(err)
	}
	w.Extra = []Link{{Rel: RelOpenIDIssuer, Href: podA + "/"}}
	return w
}

func TestForAccountFields(t *testing.T) {
	w := aliceWebFinger(t)
	want := &WebFinger{
		ID:                aliceID,
		Aliases:           []string{podA + "/people/" + aliceGUID},
		HCardURL:          podA + "/hcard/users/" + aliceGUID,
		SeedURL:           podA + "/",
		ProfileURL:        podA + "/u/alice",
		AtomURL:           podA + "/public/alice.atom",
		SalmonURL:         podA + "/receive/users/" + aliceGUID,
		SubscribeTemplate: podA + "/people?q={uri}",
		Extra:             []Link{{Rel: RelOpenIDIssuer, Href: podA + "/"}},
	}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("got %+v\nwant %+v", w, want)
	}
	for _, bad := range []struct{ pod, id, guid string }{
		{"ftp://pod-a.example", aliceID, aliceGUID},
		{"https://pod-a.example/sub", aliceID, aliceGUID},
		{podA, "not an id", aliceGUID},
		{podA, aliceID, "short"},
	} {
		if _, err := ForAccount(bad.pod, bad.id, bad.guid); !errors.Is(err, ErrInvalid) {
			t.Errorf("ForAccount(%q, %q, %q) = %v, want ErrInvalid", bad.pod, bad.id, bad.guid, err)
		}
	}
}

func TestJRDVectors(t *testing.T) {
	for _, tc := range []struct {
		file, asked string
		want        *WebFinger
		regenerate  bool
	}{
		{"generated/discovery/webfinger.json", "ACCT:Alice@Pod-A.example ", aliceWebFinger(t), true},
		{"upstream_docs/webfinger_example.json", "alice@example.org", &WebFinger{
			ID:       "alice@example.org",
			HCardURL: "https://example.org/hcard/users/" + aliceGUID,
			SeedURL:  "https://example.org/",
		}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			doc := vectors.Read(t, tc.file)
			got, err := ParseJRD(doc, tc.asked)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parsed %+v\nwant %+v", got, tc.want)
			}
			out, err := got.JRD()
			if err != nil {
				t.Fatal(err)
			}
			if tc.regenerate && !bytes.Equal(out, doc) {
				t.Fatalf("regenerated JRD differs:\n%s\nwant\n%s", out, doc)
			}
			if pod, err := got.PodURL(); err != nil || !strings.HasPrefix(got.SeedURL, pod) {
				t.Fatalf("PodURL = %q, %v", pod, err)
			}
		})
	}
}

func TestParseJRDRejects(t *testing.T) {
	good := string(vectors.Read(t, "generated/discovery/webfinger.json"))
	replace := func(old, new string) []byte {
		if !strings.Contains(good, old) {
			t.Fatalf("vector lacks %q", old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
	for _, tc := range []struct {
		name  string
		doc   []byte
		asked string
		want  error
	}{
		{"subject mismatch", []byte(good), "bob@pod-a.example", ErrSubjectMismatch},
		{"subject other host", replace("acct:alice@pod-a.example", "acct:alice@evil.example"), aliceID, ErrSubjectMismatch},
		{"subject missing", replace(`"subject": "acct:alice@pod-a.example",`, ""), aliceID, ErrInvalid},
		{"asked id invalid", []byte(good), "nobody", ErrInvalid},
		{"no hcard", replace(RelHCard, "x-hcard"), aliceID, ErrInvalid},
		{"no seed", replace(RelSeedLocation, "x-seed"), aliceID, ErrInvalid},
		{"hcard without path", replace(`"https://pod-a.example/hcard/users/7dba7ca01d64013485eb3131731751e9"`, `"https://pod-a.example"`), aliceID, ErrInvalid},
		{"hcard javascript", replace(`"https://pod-a.example/hcard/users/`, `"javascript://pod-a.example/hcard/users/`), aliceID, ErrInvalid},
		{"seed file", replace(`"href": "https://pod-a.example/"`, `"href": "file:///etc/passwd"`), aliceID, ErrInvalid},
		{"seed no host", replace(`"href": "https://pod-a.example/"`, `"href": "https:///x"`), aliceID, ErrInvalid},
		{"seed userinfo", replace(`"href": "https://pod-a.example/"`, `"href": "https://u:p@pod-a.example/"`), aliceID, ErrInvalid},
		{"profile ftp", replace("https://pod-a.example/u/alice", "ftp://pod-a.example/u/alice"), aliceID, ErrInvalid},
		{"subscribe no placeholder", replace("people?q={uri}", "people"), aliceID, ErrInvalid},
		{"malformed", []byte(good[:len(good)-5]), aliceID, ErrMalformed},
		{"trailing garbage", []byte(good + "{}"), aliceID, ErrMalformed},
		{"wrong type", replace(`"aliases": [`, `"aliases": 1, "x": [`), aliceID, ErrMalformed},
		{"oversize", append([]byte(good), bytes.Repeat([]byte(" "), MaxDocSize)...), aliceID, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseJRD(tc.doc, tc.asked)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseJRD = %+v, %v; want %v", w, err, tc.want)
			}
		})
	}
}

func TestParseJRDLenient(t *testing.T) {
	doc := []byte(`{"subject":" ACCT:Alice@Pod-A.Example ","aliases":["acct:x@y","https://pod-a.example/people/1"],
	"properties":{"a":null},"links":[
	 {"rel":"http://microformats.org/profile/hcard","href":"https://h.example/hcard/users/1"},
	 {"rel":"http://microformats.org/profile/hcard","href":"https://evil.example/hcard/users/1"},
	 {"rel":"http://joindiaspora.com/seed_location","href":"http://pod-a.example:8080/ignored/path"},
	 {"rel":"x-bad","href":"gopher://x/"},
	 {"rel":"x-good","type":"text/plain","href":"https://pod-a.example/x"}]}`)
	w, err := ParseJRD(doc, aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if w.HCardURL != "https://h.example/hcard/users/1" {
		t.Errorf("first hcard link must win, got %q", w.HCardURL)
	}
	if !reflect.DeepEqual(w.Aliases, []string{"https://pod-a.example/people/1"}) {
		t.Errorf("aliases %q", w.Aliases)
	}
	if len(w.Extra) != 1 || w.Extra[0].Rel != "x-good" {
		t.Errorf("extra %+v", w.Extra)
	}
	if pod, _ := w.PodURL(); pod != "http://pod-a.example:8080" {
		t.Errorf("PodURL %q", pod)
	}
}

// TestAllDiscoveryVectorsCovered fails when a vector is added to
// generated/discovery/ without a test here.
func TestAllDiscoveryVectorsCovered(t *testing.T) {
	covered := map[string]bool{
		"generated/discovery/hcard.html":                       true, // TestHCardVectors
		"generated/discovery/legacy_host_meta.xrd.xml":         true, // TestHostMetaVector
		"generated/discovery/legacy_webfinger.xrd.xml":         true, // TestXRDVector
		"generated/discovery/webfinger.json":                   true, // TestJRDVectors
		"constructed/nodeinfo/well-known-nodeinfo.json":        true, // TestWellKnownNodeInfoVector
		"constructed/nodeinfo/nodeinfo-2.0.json":               true, // TestNodeInfoVectors
		"constructed/nodeinfo/nodeinfo-2.1.json":               true,
		"constructed/nodeinfo/nodeinfo-2.0.counts-hidden.json": true,
	}
	files := append(vectors.Glob(t, "generated/discovery/*"), vectors.Glob(t, "constructed/nodeinfo/*")...)
	for _, f := range files {
		if !covered[f] {
			t.Errorf("vector %s has no test", f)
		}
	}
}

func TestManyExtraLinksRegenerate(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"subject":"acct:alice@pod-a.example","links":[`)
	b.WriteString(`{"rel":"` + RelHCard + `","href":"https://a.example/h"},{"rel":"` + RelSeedLocation + `","href":"https://a.example/"}`)
	for i := 0; i < maxLinks-2; i++ {
		b.WriteString(`,{"rel":"x` + strings.Repeat("y", i) + `","href":"https://a.example/"}`)
	}
	b.WriteString("]}")
	w, err := ParseJRD([]byte(b.String()), aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.JRD(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseJRD([]byte(strings.Replace(b.String(), "]}", `,{"rel":"z","href":"https://a.example/"}]}`, 1)), aliceID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("101 links: %v", err)
	}
}
