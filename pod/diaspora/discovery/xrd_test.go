package discovery

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"seedpod/pod/internal/vectors"
)

func TestXRDVector(t *testing.T) {
	doc := vectors.Read(t, "generated/discovery/legacy_webfinger.xrd.xml")
	got, err := ParseXRD(doc, "acct:alice@pod-a.example")
	if err != nil {
		t.Fatal(err)
	}
	want := aliceWebFinger(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed %+v\nwant %+v", got, want)
	}
	out, err := want.XRD()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, doc) {
		t.Fatalf("regenerated XRD differs:\n%s\nwant\n%s", out, doc)
	}
}

func TestHostMetaVector(t *testing.T) {
	doc := vectors.Read(t, "generated/discovery/legacy_host_meta.xrd.xml")
	tmpl, err := ParseHostMeta(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := podA + "/.well-known/webfinger.xml?resource={uri}"; tmpl != want {
		t.Fatalf("template %q, want %q", tmpl, want)
	}
	if got, want := ExpandLRDD(tmpl, aliceID), podA+"/.well-known/webfinger.xml?resource=acct:"+aliceID; got != want {
		t.Fatalf("ExpandLRDD = %q", got)
	}
	for _, pod := range []string{podA, podA + "/"} {
		out, err := HostMeta(pod)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, doc) {
			t.Fatalf("HostMeta(%q):\n%s\nwant\n%s", pod, out, doc)
		}
	}
}

func TestXRDRejects(t *testing.T) {
	wf := string(vectors.Read(t, "generated/discovery/legacy_webfinger.xrd.xml"))
	hm := string(vectors.Read(t, "generated/discovery/legacy_host_meta.xrd.xml"))
	rep := func(s, old, new string) []byte {
		if !strings.Contains(s, old) {
			t.Fatalf("vector lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	const decl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	doctype := decl + `<!DOCTYPE XRD [<!ENTITY a "aaaa">]>` + "\n" + strings.TrimPrefix(wf, decl)
	deep := decl + `<XRD xmlns="` + NamespaceXRD + `">` + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</XRD>"
	for _, tc := range []struct {
		name     string
		doc      []byte
		hostMeta bool
		want     error
	}{
		{"subject mismatch", rep(wf, "acct:alice@pod-a.example", "acct:mallory@pod-a.example"), false, ErrSubjectMismatch},
		{"no hcard", rep(wf, RelHCard, "x"), false, ErrInvalid},
		{"no seed", rep(wf, RelSeedLocation, "x"), false, ErrInvalid},
		{"seed not http", rep(wf, `href="https://pod-a.example/"`, `href="data:text/html,x"`), false, ErrInvalid},
		{"doctype", []byte(doctype), false, ErrMalformed},
		{"entity", rep(wf, "<Subject>acct:", "<Subject>&a;acct:"), false, ErrMalformed},
		{"unclosed", []byte(wf[:len(wf)-8]), false, ErrMalformed},
		{"two roots", []byte(wf + "<XRD/>"), false, ErrMalformed},
		{"wrong root", rep(wf, "<XRD ", "<JRD "), false, ErrMalformed},
		{"deep", []byte(deep), false, ErrMalformed},
		{"latin1", rep(wf, `encoding="UTF-8"`, `encoding="ISO-8859-1"`), false, ErrMalformed},
		{"oversize", []byte(wf + strings.Repeat(" ", MaxDocSize)), false, ErrTooLarge},
		{"hm doctype", []byte(decl + "<!DOCTYPE XRD>" + strings.TrimPrefix(hm, decl)), true, ErrMalformed},
		{"hm empty", []byte(`<XRD xmlns="` + NamespaceXRD + `"/>`), true, ErrInvalid},
		{"hm no placeholder", rep(hm, "{uri}", "acct"), true, ErrInvalid},
		{"hm not http", rep(hm, "https://pod-a.example/", "ftp://pod-a.example/"), true, ErrInvalid},
		{"hm no path", []byte(`<XRD><Link rel="lrdd" template="https://pod-a.example?{uri}"/></XRD>`), true, ErrInvalid},
		{"hm placeholder in host", []byte(`<XRD><Link rel="lrdd" template="https://{uri}/x{uri}"/></XRD>`), true, ErrInvalid},
		{"hm relative", []byte(`<XRD><Link rel="lrdd" template="/.well-known/webfinger.xml?resource={uri}"/></XRD>`), true, ErrInvalid},
		{"hm oversize", []byte(hm + strings.Repeat(" ", MaxDocSize)), true, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.hostMeta {
				_, err = ParseHostMeta(tc.doc)
			} else {
				_, err = ParseXRD(tc.doc, aliceID)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestXRDNoNamespaceAccepted(t *testing.T) {
	doc := []byte(`<XRD><Subject>acct:alice@pod-a.example</Subject><Link rel="` + RelHCard +
		`" href="https://pod-a.example/hcard/users/1"><Title>x</Title></Link><Link rel="` + RelSeedLocation +
		`" href=" https://pod-a.example/ "/></XRD>`)
	w, err := ParseXRD(doc, aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if w.SeedURL != "https://pod-a.example/" {
		t.Fatalf("seed %q", w.SeedURL)
	}
}
