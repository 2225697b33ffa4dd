package ownerauth

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzVerify feeds arbitrary request lines, Host values, signature headers and
// bodies to Verify.
//
// Invariant: Verify never panics and never accepts. The seeds include
// correctly signed requests, but each is verified once before fuzzing so its
// nonce is spent; any input that still carries a valid signature must reuse
// such a nonce (changing the nonce breaks the signature) and is a replay.
// The signing key is generated in-process and never leaves it, so no input
// can carry a fresh valid signature.
func FuzzVerify(f *testing.F) {
	r := newRig(f)
	type seed struct {
		method, uri, host, identity, ts, nonce, digest, sig string
		body                                                []byte
	}
	var seeds []seed
	for _, s := range []struct {
		method, target, identity string
		body                     []byte
	}{
		{"GET", "/", alice, nil},
		{"POST", "/api/v1/posts?aspect=7", alice, []byte(`{"text":"hi"}`)},
		{"DELETE", "/api/v1/posts/1", bob, nil},
	} {
		key := aliceKey()
		if s.identity == bob {
			key = bobKey()
		}
		req := signedReq(f, s.method, s.target, s.body, s.identity, key, t0)
		req.RequestURI = s.target
		if _, err := r.v.Verify(req, s.body); err != nil {
			f.Fatalf("seed %s %s does not verify: %v", s.method, s.target, err)
		}
		h := req.Header
		seeds = append(seeds, seed{s.method, s.target, req.Host, h.Get(HeaderIdentity), h.Get(HeaderTimestamp),
			h.Get(HeaderNonce), h.Get(HeaderDigest), h.Get(HeaderSignature), s.body})
	}
	seeds = append(seeds, seed{"GET", "*", "", "", "", "", "", "", nil})
	seeds = append(seeds, seed{"", "http://x/\n", "\r\n", "a\nb", "-1", "=", "sha-256=", "====", []byte{0}})
	for _, s := range seeds {
		f.Add(s.method, s.uri, s.host, s.identity, s.ts, s.nonce, s.digest, s.sig, s.body)
	}
	f.Fuzz(func(t *testing.T, method, uri, host, identity, timestamp, nonce, digest, sig string, body []byte) {
		req := &http.Request{
			Method:     method,
			RequestURI: uri,
			Host:       host,
			Header:     http.Header{},
		}
		if u, err := url.Parse(uri); err == nil {
			req.URL = u
		}
		// Set the map directly so no value is cleaned on the way in.
		for name, v := range map[string]string{
			HeaderIdentity: identity, HeaderTimestamp: timestamp, HeaderNonce: nonce,
			HeaderDigest: digest, HeaderSignature: sig,
		} {
			if v != "" {
				req.Header[name] = []string{v}
			}
		}
		id, err := r.v.Verify(req, body)
		if err == nil {
			t.Fatalf("fuzzed request verified as %q", id)
		}
		if id != "" {
			t.Fatalf("identity %q returned with error %v", id, err)
		}
	})
}
