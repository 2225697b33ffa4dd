package federation_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/oplog"
	"seedpod/pod/relay"
	"seedpod/pod/store"
)

// FuzzProcess feeds arbitrary relay inbox pages through Engine.Process of
// one real pod (its SQLite store, op log and projections), opened once for
// the whole target: whatever a relay hands over, the inbound pipeline
// refuses what it cannot accept and never fails for it.
//
// An input is a page: data split at fuzzItemSep into at most fuzzMaxItems
// items; bit i of routes puts item i on the private route (else public).
// Invariants, for every page:
//   - Process never panics and returns nil: an item that cannot be
//     accepted is refused (logged, counted), while an error would mean the
//     pod itself failed and the page would never be acknowledged;
//   - it returns within fuzzMaxProcess: nothing reaches the network (the
//     pod's clients resolve no name), so discovering an unknown sender or
//     fetching an unknown parent fails at once instead of waiting;
//   - the engine's Received+Rejected grows by at most the number of items
//     (nothing is fetched, so only the page's own items can count);
//   - the store stays readable, and a post nobody can retract (its
//     author's key is not the fuzzer's) is still there.
//
// The pod is bob@pod-b.example with the vectors' key (no key generation:
// set-up takes well under a second), knows the vectors' identities (alice's
// two names and her new identity) and has no post of its own, so an
// accepted comment is never relayed (relaying would need the relay, which
// is unreachable here, and would rightly be an error).
func FuzzProcess(f *testing.F) {
	ctx := context.Background()
	fz := newFuzzPod(f)
	eng := fz.p.Federation()

	// Unknown senders are discovered over the network, which is off: the
	// refusal must come at once.
	unknown := fz.sign(f, "stranger@far.example", statusMessage("stranger@far.example", 1, true))
	before := eng.Status()
	start := time.Now()
	if err := eng.Process(ctx, fz.self, "relay.test", []relay.InboxItem{{ID: fz.nextID(), Route: "public", Body: unknown}}); err != nil {
		f.Fatalf("process a delivery from an unknown sender: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		f.Fatalf("refusing a delivery from an unknown sender (discovery off the network) took %v", took)
	}
	if st := eng.Status(); st.Rejected != before.Rejected+1 {
		f.Fatalf("a delivery from an unknown sender: rejected %d → %d, want one more", before.Rejected, st.Rejected)
	}

	for _, s := range fz.seeds(f) {
		f.Add(s.routes, s.data)
	}

	f.Fuzz(func(t *testing.T, routes byte, data []byte) {
		parts := bytes.SplitN(data, fuzzItemSep, fuzzMaxItems)
		items := make([]relay.InboxItem, len(parts))
		for i, body := range parts {
			items[i] = relay.InboxItem{ID: fz.nextID(), Route: "public", ContentType: "application/magic-envelope+xml", Body: body}
			if routes&(1<<i) != 0 {
				items[i].Route, items[i].ContentType = "private", "application/json"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		before := eng.Status()
		start := time.Now()
		err := eng.Process(ctx, fz.self, "relay.test", items)
		took := time.Since(start)
		after := eng.Status()
		if err != nil {
			t.Fatalf("Process of %d items failed (a refusal must not be an error): %v", len(items), err)
		}
		if took > fuzzMaxProcess {
			t.Fatalf("Process of %d items took %v", len(items), took)
		}
		grew := after.Received + after.Rejected - before.Received - before.Rejected
		if grew < 0 || grew > int64(len(items)) {
			t.Fatalf("%d items: received %d → %d, rejected %d → %d", len(items), before.Received, after.Received,
				before.Rejected, after.Rejected)
		}
		post, ok, err := store.PostByGUID(ctx, fz.p.DB().R, fuzzSentinel)
		if err != nil || !ok || post.GUID != fuzzSentinel {
			t.Fatalf("the sentinel post after the page: ok %v, %v", ok, err)
		}
	})
}

// fuzzItemSep separates a page's items in a fuzz input.
var fuzzItemSep = []byte("\n--item--\n")

// fuzzMaxItems bounds a page (the relay hands out 100; a few exercise the
// parallel pre-verification and same-page parents as well).
const fuzzMaxItems = 8

// fuzzMaxProcess is far more than a page of refusals takes without the
// network (milliseconds) and far less than any network timeout.
const fuzzMaxProcess = 5 * time.Second

// The identities: the pod is fuzzBob, the others are known to it.
const (
	fuzzBob      = "bob@pod-b.example"
	fuzzAlice    = "alice@pod-a.example" // the vectors' 1024-bit spec key: signs fast
	fuzzAliceOrg = "alice@pod-a.org"     // the same key under the spec's name
	fuzzAliceNew = "alice@pod-c.example"
	// fuzzSentinel is fuzzAliceOrg's post, received before fuzzing.
	fuzzSentinel = "f0220000000000000000000000000001"
)

// fuzzPod is the pod FuzzProcess drives.
type fuzzPod struct {
	p              *pod.Pod
	self           federation.Self
	alice, bob     *rsa.PrivateKey
	aliceNew       *rsa.PrivateKey
	ids            atomic.Int64 // relay inbox ids
	vectorsDir     string
	fetchedLongAgo int64
}

func (fz *fuzzPod) nextID() int64 { return fz.ids.Add(1) }

func newFuzzPod(f *testing.F) *fuzzPod {
	ctx := context.Background()
	fz := &fuzzPod{vectorsDir: vectors.Dir(f), fetchedLongAgo: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
	read := func(name string) *rsa.PrivateKey {
		b, err := os.ReadFile(filepath.Join(fz.vectorsDir, "keys", name+".private.pem"))
		if err != nil {
			f.Fatal(err)
		}
		k, err := keys.ParsePrivate(b)
		if err != nil {
			f.Fatalf("vector key %s: %v", name, err)
		}
		return k
	}
	fz.alice, fz.bob, fz.aliceNew = read("alice_integration_spec_rsa1024"), read("bob_generated_rsa2048"), read("alice_new_generated_rsa2048")

	// KeyBits: the key the pod generates in the background is discarded
	// (bob's is in place first), so it may be small.
	p, err := pod.Open(ctx, pod.Config{DataDir: filepath.Join(f.TempDir(), "pod"), Version: "fuzz", KeyBits: 1024,
		Logger:     slog.New(slog.DiscardHandler),
		Federation: &pod.FederationConfig{Outbound: offlineClient(), Relay: offlineClient(), Backoff: time.Hour}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := p.Close(); err != nil {
			f.Error(err)
		}
	})
	fz.p = p
	// As buildFixture (vectors_test.go) does: the identity key goes in
	// before the identity exists, and the domain as enrolment would set it.
	der, err := x509.MarshalPKCS8PrivateKey(fz.bob)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := p.DB().W.ExecContext(ctx, "INSERT INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), time.Now().UnixMilli()); err != nil {
		f.Fatal(err)
	}
	if _, err := p.CreateIdentity(ctx, "bob", "bob"); err != nil {
		f.Fatal(err)
	}
	if err := p.Log().Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetField{Key: "identity/domain", Value: "pod-b.example"})
		return err
	}); err != nil {
		f.Fatal(err)
	}
	id, err := p.Identity(ctx)
	if err != nil {
		f.Fatal(err)
	}
	key, err := p.IdentityKey(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if id.Handle != fuzzBob || !key.Equal(fz.bob) {
		f.Fatalf("the pod is %s, want %s with the vectors' key", id.Handle, fuzzBob)
	}
	fz.self = federation.Self{GUID: id.GUID, Handle: id.Handle, Username: id.Username, Key: key}

	for i, person := range []struct {
		handle string
		key    *rsa.PrivateKey
	}{{fuzzAlice, fz.alice}, {fuzzAliceOrg, fz.alice}, {fuzzAliceNew, fz.aliceNew}} {
		if err := p.AddPerson(ctx, store.PersonRecord{GUID: strings.Repeat(string(rune('1'+i)), 32), DiasporaID: person.handle,
			PublicKey: publicPEM(f, &person.key.PublicKey), Searchable: true, FetchedAt: fz.fetchedLongAgo}); err != nil {
			f.Fatal(err)
		}
	}
	sentinel, err := entity.Marshal(&entity.StatusMessage{AuthorID: fuzzAliceOrg, ID: fuzzSentinel, Public: true,
		CreatedAt: benchStart, Text: "still here"})
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Receive(ctx, sentinel); err != nil {
		f.Fatal(err)
	}
	return fz
}

// statusMessage is entity n's payload: a status message by author.
func statusMessage(author string, n int, public bool) entity.Entity {
	return &entity.StatusMessage{AuthorID: author, ID: fuzzGUID(n), Public: public,
		CreatedAt: benchStart.Add(time.Duration(n) * time.Minute), Text: fmt.Sprintf("fuzz seed %d #seed", n)}
}

// fuzzGUID is seed entity n's guid.
func fuzzGUID(n int) string { return fmt.Sprintf("f022%028d", n) }

// sign marshals e (signing it first with alice's key when it is a
// relayable) and seals it in a magic envelope from sender, signed with
// the key the pod knows for sender (alice's for a stranger: a forgery
// the pod cannot check before discovering them).
func (fz *fuzzPod) sign(tb testing.TB, sender string, e entity.Entity) []byte {
	tb.Helper()
	payload, err := entity.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := e.(entity.Relayable); ok {
		if payload, err = entity.SignRelayable(payload, fz.alice); err != nil {
			tb.Fatal(err)
		}
	}
	k := fz.alice
	if sender == fuzzAliceNew {
		k = fz.aliceNew
	}
	doc, err := envelope.Sign(payload, sender, k)
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// encrypt seals an envelope for bob (the private route's body).
func (fz *fuzzPod) encrypt(tb testing.TB, doc []byte) []byte {
	tb.Helper()
	body, err := envelope.Encrypt(doc, &fz.bob.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

type fuzzSeed struct {
	routes byte
	data   []byte
}

// page joins items into one input; private[i] puts item i on the private
// route.
func page(items [][]byte, private ...bool) fuzzSeed {
	var routes byte
	for i, p := range private {
		if p {
			routes |= 1 << i
		}
	}
	return fuzzSeed{routes, bytes.Join(items, fuzzItemSep)}
}

// seeds are real deliveries (accepted ones, refusals at every stage) and
// malformed ones.
func (fz *fuzzPod) seeds(tb testing.TB) []fuzzSeed {
	tb.Helper()
	post := fz.sign(tb, fuzzAlice, statusMessage(fuzzAlice, 10, true))
	comment := fz.sign(tb, fuzzAlice, &entity.Comment{AuthorID: fuzzAlice, ID: fuzzGUID(12), Parent: fuzzGUID(11),
		Text: "a comment on a post of the same page", CreatedAt: benchStart.Add(time.Hour)})
	// Relayed by the sentinel's author (the root author): a third pod
	// takes a relayable only from them.
	like := fz.sign(tb, fuzzAliceOrg, &entity.Like{AuthorID: fuzzAlice, ID: fuzzGUID(13), Parent: fuzzSentinel,
		ParentTypeName: "Post", Positive: true})
	out := []fuzzSeed{
		page([][]byte{post}),
		page([][]byte{post}), // again: a duplicate, stored once
		page([][]byte{fz.sign(tb, fuzzAlice, statusMessage(fuzzAlice, 11, true)), comment}),
		page([][]byte{like}),
		// A comment on a post nobody has: the fetch fails off the network.
		page([][]byte{fz.sign(tb, fuzzAlice, &entity.Comment{AuthorID: fuzzAlice, ID: fuzzGUID(14), Parent: fuzzGUID(99),
			Text: "on something unknown", CreatedAt: benchStart})}),
		// A retraction of something not here: kept as a tombstone.
		page([][]byte{fz.sign(tb, fuzzAlice, &entity.Retraction{AuthorID: fuzzAlice, Target: fuzzGUID(98), TargetTypeName: "Post"})}),
		// Private: a limited post and a contact, encrypted for bob.
		page([][]byte{fz.encrypt(tb, fz.sign(tb, fuzzAlice, statusMessage(fuzzAlice, 15, false)))}, true),
		page([][]byte{fz.encrypt(tb, fz.sign(tb, fuzzAlice, &entity.Contact{AuthorID: fuzzAlice, Recipient: fuzzBob,
			Following: true, Sharing: true}))}, true),
		// A limited post on the public route; a public one on the private
		// route (not encrypted).
		page([][]byte{fz.sign(tb, fuzzAlice, statusMessage(fuzzAlice, 16, false))}),
		page([][]byte{post}, true),
		// A sender who is not the author.
		page([][]byte{fz.sign(tb, fuzzAliceNew, statusMessage(fuzzAlice, 17, true))}),
		// Malformed.
		page([][]byte{{}}),
		page([][]byte{{}}, true),
		page([][]byte{post[:len(post)/2]}),
		page([][]byte{bytes.ReplaceAll(post, []byte("me:"), []byte("xx:"))}),
		page([][]byte{[]byte(`{"aes_key":"garbage","encrypted_magic_envelope":"!!!"}`)}, true),
		page([][]byte{[]byte(`{"aes_key":"` + strings.Repeat("QUFB", 86) + `","encrypted_magic_envelope":"` +
			strings.Repeat("QUFB", 40) + `"}`)}, true),
		page([][]byte{[]byte(`{"aes_key":null,"encrypted_magic_envelope":[]}`)}, true),
		page([][]byte{[]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><me:env xmlns:me="http://salmon-protocol.org/ns/magic-env">&a;</me:env>`)}),
		page([][]byte{post, {}, []byte("<me:env>"), post}, false, true, false, true),
	}
	var files []string
	for _, pattern := range []string{"generated/envelopes/*", "generated/negative/*.xml", "generated/legacy_gem_0.2.8/*.envelope.xml"} {
		files = append(files, vectors.Glob(tb, pattern)...)
	}
	for _, rel := range files {
		body := vectors.Read(tb, rel)
		out = append(out, page([][]byte{body}, strings.HasSuffix(rel, ".json")))
	}
	return out
}
