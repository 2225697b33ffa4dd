package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/federation"
	"seedpod/pod/httpclient"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/oplog"
	"seedpod/pod/relay"
	"seedpod/pod/store"
)

// The protocol vectors (../shared/vectors) through the full inbound
// pipeline of a real pod: federation.Engine.Process over relay inbox
// items, with the pod (its SQLite store, its op log, its projections)
// answering the engine's questions and storing what is accepted. Every
// verdict is the one pod/diaspora's vector tests give (the reference
// receiver's, generated/negative/EXPECTED_RESULTS.txt); here it must also
// hold end to end: an accepted delivery is stored exactly once, a refused
// one leaves no op behind and counts as rejected, at the stage pod/diaspora
// names. No relay is needed (Process is what the inbox loop calls with a
// pulled page), and nothing reaches the network: the pods' HTTP clients
// resolve no name, so discovery of an unknown sender and fetches of an
// unknown parent fail at once, as they would for a forger.

// The identities of the vectors (vectors/README.md) and of this test.
const (
	vAlice     = "alice@pod-a.example" // 1024-bit upstream spec key
	vBob       = "bob@pod-b.example"   // root/post author, private recipient
	vAliceNew  = "alice@pod-c.example" // the new identity of the migration
	vAliceSpec = "alice@pod-a.org"     // the same spec key, as upstream_spec names it
	carol      = "carol@pod-e.example" // a stranger to every post here (generated key)
	dana       = "dana@pod-d.example"  // the third pod receiving the vectors (generated key)
)

// Posts the vectors refer to, and ours.
const (
	bobPost     = "c3893bf029e7013487753131731751e9" // bob's public post: parent of the relayables
	reshareRoot = "a0b53bc029f6013487753131731751e9" // bob's public post reshared in reshare.xml
	pollGUID    = "2a22d6c029e9013487753131731751e9" // the poll poll_participation.xml votes in
	pollAnswer  = "2a22db2029e9013487753131731751e9"
	pollPost    = "d0d0d0d029e9013487753131731751e9" // bob's post carrying that poll (ours)
	specPost    = "9e269ae0b41201333b8c0f77ba60fa73" // parent of upstream_spec/comment_integration
	bobLimited  = "b1b1b1b129e9013487753131731751e9" // bob's limited post (ours)
	alicePost   = "a1a1a1a129e9013487753131731751e9" // alice's public post (ours)
)

// vkeys are the private keys of everyone who signs here.
type vkeys struct {
	alice, bob, aliceNew, carol, dana *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  vkeys
	keysErr  error
)

// testKeys reads the vector keys and generates carol's and dana's (2048
// bits) once per test binary.
func testKeys(t testing.TB) vkeys {
	t.Helper()
	dir := vectors.Dir(t) // fails the test outside the Once
	keysOnce.Do(func() {
		read := func(name string) *rsa.PrivateKey {
			b, err := os.ReadFile(filepath.Join(dir, "keys", name+".private.pem"))
			if err != nil && keysErr == nil {
				keysErr = err
			}
			k, err := keys.ParsePrivate(b)
			if err != nil && keysErr == nil {
				keysErr = fmt.Errorf("vector key %s: %w", name, err)
			}
			return k
		}
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil && keysErr == nil {
				keysErr = err
			}
			return k
		}
		keysVal = vkeys{alice: read("alice_integration_spec_rsa1024"), bob: read("bob_generated_rsa2048"),
			aliceNew: read("alice_new_generated_rsa2048"), carol: gen(), dana: gen()}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

func (k vkeys) of(t testing.TB, handle string) *rsa.PrivateKey {
	t.Helper()
	switch handle {
	case vAlice, vAliceSpec:
		return k.alice
	case vBob:
		return k.bob
	case vAliceNew:
		return k.aliceNew
	case carol:
		return k.carol
	case dana:
		return k.dana
	}
	t.Fatalf("no key for %s", handle)
	return nil
}

// refusals records the engine's "refused a delivery" log records: the
// stage and the error are what the test checks a refusal by.
type refusals struct {
	mu  sync.Mutex
	got []refusal
}

type refusal struct {
	stage diaspora.Stage
	err   error
}

func (r *refusals) Enabled(context.Context, slog.Level) bool { return true }
func (r *refusals) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *refusals) WithGroup(string) slog.Handler            { return r }
func (r *refusals) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "federation: refused a delivery" {
		return nil
	}
	var f refusal
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "stage":
			if s, ok := a.Value.Any().(diaspora.Stage); ok {
				f.stage = s
			}
		case "err":
			if e, ok := a.Value.Any().(error); ok {
				f.err = e
			}
		}
		return true
	})
	r.mu.Lock()
	r.got = append(r.got, f)
	r.mu.Unlock()
	return nil
}

func (r *refusals) since(n int) []refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]refusal(nil), r.got[n:]...)
}

func (r *refusals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// rig is one real pod whose inbound pipeline a case drives.
type rig struct {
	t    *testing.T
	ctx  context.Context
	p    *pod.Pod
	self federation.Self
	keys vkeys
	log  *refusals
	next *int64 // relay inbox ids
}

// fixture says which pod a case runs on and what it knows beforehand.
type fixture struct {
	name string // names its template
	// root: the pod is bob@pod-b.example (bob's vector key), bobPost is
	// his own post; else it is dana@pod-d.example, a third pod that has
	// received bob's posts (bobPost, reshareRoot, pollPost, bobLimited,
	// specPost) and alice's alicePost.
	root bool
	// unknown are people the pod has never heard of (every vector
	// identity and carol are known otherwise).
	unknown []string
	// noPosts: the pod has received no posts.
	noPosts bool
}

var errNoNetwork = errors.New("this test resolves no host name")

// openPod opens the pod in dir with federation on and HTTP clients that
// reach nobody.
func openPod(t *testing.T, dir string, log *refusals) *pod.Pod {
	t.Helper()
	noNet := httpclient.New(httpclient.Options{NoRedirects: true, Timeout: 5 * time.Second,
		Lookup: func(context.Context, string) ([]netip.Addr, error) { return nil, errNoNetwork }})
	// KeyBits: the key the pod generates in the background is discarded
	// (the fixture's key is in place first), so it may be small.
	p, err := pod.Open(context.Background(), pod.Config{DataDir: dir, Version: "test", KeyBits: 1024, Logger: slog.New(log),
		Federation: &pod.FederationConfig{Outbound: noNet, Relay: noNet, Backoff: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// buildFixture gives a new pod in dir the fixture's identity and
// knowledge, and closes it.
func buildFixture(t *testing.T, dir string, f fixture) {
	t.Helper()
	ctx := context.Background()
	ks := testKeys(t)
	p := openPod(t, dir, &refusals{})
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	username, domain, key := "dana", "pod-d.example", ks.dana
	if f.root {
		username, domain, key = "bob", "pod-b.example", ks.bob
	}
	// The identity key goes in before the identity exists: the
	// background generation inserts its key with OR IGNORE, so this one
	// stays (pod/identity.go).
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DB().W.ExecContext(ctx, "INSERT INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateIdentity(ctx, username, username); err != nil {
		t.Fatal(err)
	}
	// Enrolment would set the domain (fedHost.SetRelay); there is no relay here.
	if err := p.Log().Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetField{Key: "identity/domain", Value: domain})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	handle := username + "@" + domain
	// Discovered long ago: a profile the vectors carry is newer.
	fetched := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i, h := range []string{vAlice, vBob, vAliceNew, vAliceSpec, carol, dana} {
		if h == handle || contains(f.unknown, h) {
			continue
		}
		// What discovery would have stored (fedHost.AddPerson does the same).
		if err := p.AddPerson(ctx, store.PersonRecord{GUID: strings.Repeat(string(rune('1'+i)), 32), DiasporaID: h,
			PublicKey: publicPEM(t, &ks.of(t, h).PublicKey), Searchable: true, FetchedAt: fetched}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(e entity.Entity) {
		t.Helper()
		payload, err := entity.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Receive(ctx, payload); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case f.noPosts:
	case f.root:
		// bob's own public post, as CreatePost writes it but under the
		// vectors' guid.
		body, _ := json.Marshal(store.PostBody{Text: "bob's post", Public: true, AspectIDs: []int64{}, Photos: []string{}})
		if err := p.Log().Write(ctx, func(w *store.Writer) error {
			_, err := w.Append(oplog.Publish{GUID: bobPost, Kind: store.KindPost, CreatedAt: w.Now().UnixMilli(), Body: body})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	default:
		at := time.Date(2016, 7, 11, 20, 0, 0, 0, time.UTC)
		for _, m := range []*entity.StatusMessage{
			{AuthorID: vBob, ID: bobPost, CreatedAt: at, Public: true, Text: "bob's post"},
			{AuthorID: vBob, ID: reshareRoot, CreatedAt: at, Public: true, Text: "worth a reshare"},
			{AuthorID: vBob, ID: pollPost, CreatedAt: at, Public: true, Text: "vote",
				Poll: &entity.Poll{ID: pollGUID, Question: "Select an answer",
					Answers: []*entity.PollAnswer{{ID: pollAnswer, Answer: "Yes"}, {ID: "2a22e5e029e9013487753131731751e9", Answer: "No"}}}},
			{AuthorID: vBob, ID: bobLimited, CreatedAt: at, Public: false, Text: "for bob's aspect"},
			{AuthorID: vBob, ID: specPost, CreatedAt: at, Public: true, Text: "the spec's parent"},
			{AuthorID: vAlice, ID: alicePost, CreatedAt: at, Public: true, Text: "alice's post"},
		} {
			receive(m)
		}
	}
}

// templates are built fixtures: a case's pod is a copy of one (building
// a pod costs seconds under the race detector, copying it does not).
type templates struct {
	root string
	mu   sync.Mutex
	m    map[string]*template
}

type template struct {
	mu    sync.Mutex
	dir   string
	built bool
}

func newTemplates(t *testing.T) *templates {
	return &templates{root: t.TempDir(), m: map[string]*template{}}
}

// dir is the fixture's template, built by the first case that needs it.
func (ts *templates) dir(t *testing.T, f fixture) string {
	t.Helper()
	ts.mu.Lock()
	tp, ok := ts.m[f.name]
	if !ok {
		tp = &template{dir: filepath.Join(ts.root, f.name)}
		ts.m[f.name] = tp
	}
	ts.mu.Unlock()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if !tp.built {
		if err := os.RemoveAll(tp.dir); err != nil {
			t.Fatal(err)
		}
		buildFixture(t, tp.dir, f)
		tp.built = !t.Failed()
	}
	return tp.dir
}

// rig opens a copy of the fixture's template for test t.
func (ts *templates) rig(t *testing.T, f fixture) *rig {
	t.Helper()
	r := ts.open(t, f, t.TempDir())
	t.Cleanup(r.close)
	return r
}

// close closes the rig's pod.
func (r *rig) close() {
	if err := r.p.Close(); err != nil {
		r.t.Error(err)
	}
}

// in is the rig as test t uses it.
func (r *rig) in(t *testing.T) *rig {
	c := *r
	c.t = t
	return &c
}

// open opens a copy of the fixture's template in dir; the caller closes it.
func (ts *templates) open(t *testing.T, f fixture, dir string) *rig {
	t.Helper()
	src := ts.dir(t, f)
	if t.Failed() {
		t.FailNow()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "seedpod.lock" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log := &refusals{}
	p := openPod(t, dir, log)
	ctx := context.Background()
	ks := testKeys(t)
	want, wantKey := dana, ks.dana
	if f.root {
		want, wantKey = vBob, ks.bob
	}
	id, err := p.Identity(ctx)
	var k *rsa.PrivateKey
	if err == nil {
		k, err = p.IdentityKey(ctx)
	}
	if err == nil && (id.Handle != want || !k.Equal(wantKey)) {
		err = fmt.Errorf("identity %s (fixture's key: %v); want %s with the fixture's key", id.Handle, k.Equal(wantKey), want)
	}
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, p: p, keys: ks, log: log, next: new(int64),
		self: federation.Self{GUID: id.GUID, Handle: id.Handle, Username: id.Username, Key: k}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func publicPEM(t testing.TB, k *rsa.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// counts are what a delivery changes.
type counts struct {
	receivedOps int
	rejected    int64
	refusals    int
}

func (r *rig) counts() counts {
	r.t.Helper()
	var n int
	if err := r.p.DB().R.QueryRowContext(r.ctx, "SELECT count(*) FROM ops WHERE kind = ?", int(oplog.KindReceived)).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return counts{receivedOps: n, rejected: r.p.Federation().Status().Rejected, refusals: r.log.count()}
}

// delivery is one relay inbox item.
type delivery struct {
	route string // "public" or "private"
	body  []byte
}

// process hands one page to the engine, as the inbox loop does after a
// pull; refusals are not errors.
func (r *rig) process(ds ...delivery) {
	r.t.Helper()
	items := make([]relay.InboxItem, 0, len(ds))
	for _, d := range ds {
		*r.next++
		items = append(items, relay.InboxItem{ID: *r.next, Route: d.route, ReceivedAt: time.Now().UnixMilli(),
			ContentType: "application/magic-envelope+xml", Body: d.body})
	}
	if err := r.p.Federation().Process(r.ctx, r.self, "relay.test", items); err != nil {
		r.t.Fatalf("process: %v (a failure of the pod, not a refusal)", err)
	}
}

// stored reports whether a received entity with exactly this payload is in
// the pod.
func (r *rig) stored(payload []byte) bool {
	r.t.Helper()
	var n int
	if err := r.p.DB().R.QueryRowContext(r.ctx, "SELECT count(*) FROM st_received WHERE payload = ?", string(payload)).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n > 0
}

func (r *rig) post(guid string) (store.PostRow, bool) {
	r.t.Helper()
	row, ok, err := store.PostByGUID(r.ctx, r.p.DB().R, guid)
	if err != nil {
		r.t.Fatal(err)
	}
	return row, ok
}

func (r *rig) hasComment(post, guid, author string) bool {
	r.t.Helper()
	cs, err := r.p.PostComments(r.ctx, post, store.TimeBound{Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, c := range cs {
		if c.GUID == guid && c.Author.DiasporaID == author {
			return true
		}
	}
	return false
}

func (r *rig) person(handle string) store.Person {
	r.t.Helper()
	sp, ok, err := store.PersonByHandle(r.ctx, r.p.DB().R, handle)
	if err != nil || !ok {
		r.t.Fatalf("person %s: known %v, %v", handle, ok, err)
	}
	return sp
}

// sign wraps a payload in a magic envelope signed by sender.
func (r *rig) sign(payload []byte, sender string) []byte {
	r.t.Helper()
	doc, err := envelope.Sign(payload, sender, r.keys.of(r.t, sender))
	if err != nil {
		r.t.Fatal(err)
	}
	return doc
}

// seal encrypts an envelope for this pod's identity (a private delivery).
func (r *rig) seal(doc []byte) []byte {
	r.t.Helper()
	body, err := envelope.Encrypt(doc, &r.self.Key.PublicKey)
	if err != nil {
		r.t.Fatal(err)
	}
	return body
}

// payloadOf is the entity XML inside a delivery, as this pod can read it
// (nil when it cannot).
func (r *rig) payloadOf(d delivery) []byte {
	doc := d.body
	if d.route == "private" {
		var err error
		if doc, err = envelope.Decrypt(d.body, r.self.Key); err != nil {
			return nil
		}
	}
	env, err := envelope.Parse(doc)
	if err != nil {
		return nil
	}
	return env.Payload
}

// vcase is one delivery and its verdict.
type vcase struct {
	name string
	fix  fixture
	// deliver builds the delivery (after the fixture is in place).
	deliver func(r *rig) delivery
	// stage is where the delivery must be refused ("" = accepted), err
	// what the refusal must wrap (nil: any).
	stage diaspora.Stage
	err   error
	// check asserts what the pod shows afterwards (optional).
	check func(r *rig)
	// setup runs before the delivery is counted (optional).
	setup func(r *rig)
}

// public delivers a vector file as is on the public route.
func public(file string) func(*rig) delivery {
	return func(r *rig) delivery { return delivery{"public", vectors.Read(r.t, file)} }
}

// private delivers a vector file as is on the private route.
func private(file string) func(*rig) delivery {
	return func(r *rig) delivery { return delivery{"private", vectors.Read(r.t, file)} }
}

// signed delivers a bare entity vector in an envelope signed by sender on
// the public route.
func signed(file, sender string) func(*rig) delivery {
	return func(r *rig) delivery { return delivery{"public", r.sign(vectors.Read(r.t, file), sender)} }
}

// sealed delivers a bare entity vector signed by sender and encrypted for
// the pod (the private route).
func sealed(file, sender string) func(*rig) delivery {
	return func(r *rig) delivery { return delivery{"private", r.seal(r.sign(vectors.Read(r.t, file), sender))} }
}

// built delivers an entity built by the test, signed by sender on the
// public route.
func built(sender string, fn func(r *rig) []byte) func(*rig) delivery {
	return func(r *rig) delivery { return delivery{"public", r.sign(fn(r), sender)} }
}

func marshal(r *rig, e entity.Entity) []byte {
	r.t.Helper()
	b, err := entity.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// signedBy signs a relayable's XML with key as its author_signature.
func signedBy(r *rig, payload []byte, key *rsa.PrivateKey) []byte {
	r.t.Helper()
	b, err := entity.SignRelayable(payload, key)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func wantPost(guid, author string, public bool) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		row, ok := r.post(guid)
		if !ok || row.Author != author || row.Public != public {
			r.t.Fatalf("post %s: stored %v, %+v; want by %s, public %v", guid, ok, row, author, public)
		}
	}
}

func wantComment(post, guid, author string) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		if !r.hasComment(post, guid, author) {
			r.t.Fatalf("comment %s by %s is not among the comments of %s", guid, author, post)
		}
	}
}

func wantNoComment(post, guid string) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		cs, err := r.p.PostComments(r.ctx, post, store.TimeBound{Limit: 100})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, c := range cs {
			if c.GUID == guid {
				r.t.Fatalf("comment %s is shown on %s", guid, post)
			}
		}
	}
}

func wantLike(post, author string) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		ls, _, err := r.p.Likes(r.ctx, post, "", 0, 50)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, l := range ls {
			if l.Author.DiasporaID == author {
				return
			}
		}
		r.t.Fatalf("no like by %s on %s (%d likes)", author, post, len(ls))
	}
}

func wantPostStays(guid string) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		if _, ok := r.post(guid); !ok {
			r.t.Fatalf("post %s is gone", guid)
		}
	}
}

func both(fns ...func(*rig)) func(*rig) {
	return func(r *rig) {
		for _, fn := range fns {
			fn(r)
		}
	}
}

var (
	third = fixture{name: "third"}
	root  = fixture{name: "root", root: true}
)

// vectorCases: every envelope among the vectors with pod/diaspora's
// verdict (receive_test.go), every bare relayable and migration wrapped in
// the envelope its relayer would send, the other entity vectors sent by
// their authors on the route they travel, and the upstream spec's comments.
func vectorCases() []vcase {
	return []vcase{
		// generated/envelopes and generated/legacy_gem_0.2.8, as the
		// reference sent them.
		{name: "public_status_message", fix: third, deliver: public("generated/envelopes/public_status_message.xml"),
			check: wantPost("17418fb029e6013487743131731751e9", vAlice, true)},
		{name: "public_account_deletion", fix: third, deliver: public("generated/envelopes/public_account_deletion.xml")},
		{name: "public_profile_base_only", fix: third, deliver: public("generated/envelopes/public_profile_base_only.xml"),
			check: func(r *rig) {
				if sp := r.person(vAlice); sp.FirstName != "Alice" {
					r.t.Fatalf("alice's profile after the profile vector: %+v", sp)
				}
			}},
		{name: "relayed_comment_signed_by_root_author", fix: third, deliver: public("generated/envelopes/relayed_comment_signed_by_root_author.xml"),
			check: wantComment(bobPost, "6d241a3029f8013487763131731751e9", vAlice)},
		{name: "comment_from_author_to_root_author/on the root author's pod", fix: root,
			deliver: public("generated/envelopes/comment_from_author_to_root_author.xml"),
			check:   wantComment(bobPost, "5c241a3029f8013487763131731751e9", vAlice)},
		{name: "comment_from_author_to_root_author/on a third pod", fix: third,
			deliver: public("generated/envelopes/comment_from_author_to_root_author.xml"),
			stage:   diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantNoComment(bobPost, "5c241a3029f8013487763131731751e9")},
		{name: "account_migration_author_old", fix: third, deliver: public("generated/envelopes/account_migration_author_old.xml")},
		{name: "account_migration_author_new", fix: third, deliver: public("generated/envelopes/account_migration_author_new.xml")},
		{name: "legacy comment_relayed_by_root_author_pod", fix: third,
			deliver: public("generated/legacy_gem_0.2.8/comment_relayed_by_root_author_pod.envelope.xml"),
			check: func(r *rig) {
				r.t.Helper()
				commentOf(r, "generated/legacy_gem_0.2.8/comment_relayed_by_root_author_pod.xml")
			}},
		{name: "private_status_message", fix: root, deliver: private("generated/envelopes/private_status_message.encrypted.json"),
			check: func(r *rig) {
				r.t.Helper()
				e := entityOf(r, "generated/envelopes/private_status_message.inner_envelope.xml")
				wantPost(entity.GUIDOf(e), vAlice, false)(r)
			}},
		{name: "private_message", fix: root, deliver: private("generated/envelopes/private_message.encrypted.json")},
		{name: "private_status_message/to a pod without the recipient's key", fix: third,
			deliver: private("generated/envelopes/private_status_message.encrypted.json"),
			stage:   diaspora.StageDecrypt, err: envelope.ErrDecrypt},
		{name: "private_status_message/inner envelope on the public route", fix: third,
			deliver: public("generated/envelopes/private_status_message.inner_envelope.xml"),
			stage:   diaspora.StageReceive, err: diaspora.ErrNotPublic},

		// generated/negative: the envelopes.
		{name: "unpadded_base64url_accepted", fix: third, deliver: public("generated/negative/unpadded_base64url_accepted.xml")},
		{name: "tampered_data", fix: third, deliver: public("generated/negative/tampered_data.xml"),
			stage: diaspora.StageSignature, err: envelope.ErrSignature},
		{name: "key_id_mismatch", fix: third, deliver: public("generated/negative/key_id_mismatch.xml"),
			stage: diaspora.StageSignature, err: envelope.ErrSignature},
		{name: "sender_not_author", fix: third, deliver: public("generated/negative/sender_not_author.xml"),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed},
		{name: "private_entity_on_public_route", fix: third, deliver: public("generated/negative/private_entity_on_public_route.xml"),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "wrong_data_type", fix: third, deliver: public("generated/negative/wrong_data_type.xml"),
			stage: diaspora.StageEnvelope, err: envelope.ErrDataType},
		{name: "no_me_prefix", fix: third, deliver: public("generated/negative/no_me_prefix.xml"),
			stage: diaspora.StageEnvelope, err: envelope.ErrEnvelope},
		{name: "relayable_relayed_by_non_root_author", fix: third, deliver: public("generated/negative/relayable_relayed_by_non_root_author.xml"),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed},

		// What the reference does not decide, the pod does: an unknown
		// sender or parent that cannot be discovered or fetched.
		{name: "public_status_message/sender unknown, discovery fails", fix: fixture{name: "alice unknown", unknown: []string{vAlice}},
			deliver: public("generated/envelopes/public_status_message.xml"),
			stage:   diaspora.StageSignature, err: diaspora.ErrUnknownSender},
		{name: "relayed comment/parent unknown, fetch fails", fix: fixture{name: "no posts", noPosts: true},
			deliver: public("generated/envelopes/relayed_comment_signed_by_root_author.xml"),
			stage:   diaspora.StageEntity, err: diaspora.ErrRelatedUnknown},
		{name: "relayed comment/comment author unknown", fix: fixture{name: "alice unknown", unknown: []string{vAlice}},
			deliver: public("generated/envelopes/relayed_comment_signed_by_root_author.xml"),
			stage:   diaspora.StageEntity, err: diaspora.ErrUnknownSender},
		{name: "account_migration_author_old/new identity unknown", fix: fixture{name: "new alice unknown", unknown: []string{vAliceNew}},
			deliver: public("generated/envelopes/account_migration_author_old.xml"),
			stage:   diaspora.StageEntity, err: diaspora.ErrUnknownSender},
		{name: "relayed comment on a limited post", fix: third,
			deliver: built(vBob, func(r *rig) []byte {
				return signedBy(r, marshal(r, &entity.Comment{AuthorID: vAlice, ID: "c0c0c0c029e9013487753131731751e9", Parent: bobLimited,
					Text: "on the public route", CreatedAt: time.Date(2016, 7, 12, 1, 0, 0, 0, time.UTC)}), r.keys.alice)
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "upstream_docs magic_envelope_example (key not published)", fix: third,
			deliver: public("upstream_docs/magic_envelope_example.xml"),
			stage:   diaspora.StageSignature, err: diaspora.ErrUnknownSender},

		// Bare relayables and migrations (TestVerifyEntityVectors), in
		// the envelope their relayer sends: the root author bob relays
		// alice's interactions on his post to a third pod.
		{name: "comment.xml relayed by bob", fix: third, deliver: signed("generated/entities/comment.xml", vBob),
			check: wantComment(bobPost, "5c241a3029f8013487763131731751e9", vAlice)},
		{name: "like.xml relayed by bob", fix: third, deliver: signed("generated/entities/like.xml", vBob),
			check: wantLike(bobPost, vAlice)},
		{name: "poll_participation.xml relayed by bob", fix: third, deliver: signed("generated/entities/poll_participation.xml", vBob),
			check: func(r *rig) {
				r.t.Helper()
				row, _ := r.post(pollPost)
				tl, err := store.PollTallyOf(r.ctx, r.p.DB().R, pollPost, row.Poll)
				if err != nil || tl.Total != 1 || tl.Counts[1] != 1 {
					r.t.Fatalf("tally of %s: %+v, %v; want alice's vote for answer 1", pollPost, tl, err)
				}
			}},
		// The pod has no events: the participation's parent is unknown
		// and cannot be fetched (pod/diaspora accepts it given a parent).
		{name: "event_participation.xml relayed by bob", fix: third, deliver: signed("generated/entities/event_participation.xml", vBob),
			stage: diaspora.StageEntity, err: diaspora.ErrRelatedUnknown},
		{name: "comment_with_unknown_property.xml relayed by bob", fix: third,
			deliver: signed("generated/entities/comment_with_unknown_property.xml", vBob),
			check:   wantComment(bobPost, "6d241a3029f8013487763131731751e9", vAlice)},
		{name: "comment_by_root_author.xml from bob", fix: third, deliver: signed("generated/entities/comment_by_root_author.xml", vBob),
			check: wantComment(bobPost, "7e241a3029f8013487763131731751e9", vBob)},
		{name: "relayed_comment.payload.xml relayed by bob", fix: third, deliver: signed("generated/envelopes/relayed_comment.payload.xml", vBob),
			check: wantComment(bobPost, "6d241a3029f8013487763131731751e9", vAlice)},
		{name: "comment_timestamp_offset_signed_normalized relayed by bob", fix: third,
			deliver: signed("generated/negative/comment_timestamp_offset_signed_normalized.xml", vBob),
			check:   wantComment(bobPost, "5c241a3029f8013487763131731751e9", vAlice)},
		{name: "relayed_comment_modified_text relayed by bob", fix: third,
			deliver: signed("generated/negative/relayed_comment_modified_text.payload.xml", vBob),
			stage:   diaspora.StageEntity, err: entity.ErrSignature, check: wantNoComment(bobPost, "6d241a3029f8013487763131731751e9")},
		{name: "relayed_comment_unknown_element_dropped relayed by bob", fix: third,
			deliver: signed("generated/negative/relayed_comment_unknown_element_dropped.payload.xml", vBob),
			stage:   diaspora.StageEntity, err: entity.ErrSignature},
		{name: "comment_reordered relayed by bob", fix: third, deliver: signed("generated/negative/comment_reordered.xml", vBob),
			stage: diaspora.StageEntity, err: entity.ErrSignature},
		{name: "comment_timestamp_offset_signed_raw relayed by bob", fix: third,
			deliver: signed("generated/negative/comment_timestamp_offset_signed_raw.xml", vBob),
			stage:   diaspora.StageEntity, err: entity.ErrSignature},
		{name: "account_migration_signed_by_wrong_identity from alice", fix: third,
			deliver: signed("generated/negative/account_migration_signed_by_wrong_identity.xml", vAlice),
			stage:   diaspora.StageEntity, err: entity.ErrSignature},
		{name: "account_migration_author_old.xml from alice", fix: third,
			deliver: signed("generated/entities/account_migration_author_old.xml", vAlice)},
		{name: "account_migration_author_new.xml from alice's new identity", fix: third,
			deliver: signed("generated/entities/account_migration_author_new.xml", vAliceNew)},

		// upstream_spec/comment_integration: alice@pod-a.org's comment,
		// relayed by the root author (here bob) as sent and re-sent.
		{name: "comment_xml_alice", fix: third, deliver: signed("upstream_spec/comment_integration/comment_xml_alice.xml", vBob),
			check: wantComment(specPost, "e21589b0b41101333b870f77ba60fa73", vAliceSpec)},
		{name: "comment_xml_alice_with_new_data", fix: third,
			deliver: signed("upstream_spec/comment_integration/comment_xml_alice_with_new_data.xml", vBob),
			check:   wantComment(specPost, "e21589b0b41101333b870f77ba60fa73", vAliceSpec)},
		{name: "comment_xml_bob", fix: third, deliver: signed("upstream_spec/comment_integration/comment_xml_bob.xml", vBob),
			check: wantComment(specPost, "e21589b0b41101333b870f77ba60fa73", vAliceSpec)},
		{name: "comment_xml_bob_legacy_order", fix: third, deliver: signed("upstream_spec/comment_integration/comment_xml_bob_legacy_order.xml", vBob),
			check: wantComment(specPost, "e21589b0b41101333b870f77ba60fa73", vAliceSpec)},
		{name: "comment_xml_bob_with_new_data", fix: third,
			deliver: signed("upstream_spec/comment_integration/comment_xml_bob_with_new_data.xml", vBob),
			check:   wantComment(specPost, "e21589b0b41101333b870f77ba60fa73", vAliceSpec)},

		// The other entity vectors, sent by their author on the route
		// they travel (and the private ones tried on the public route).
		{name: "status_message_minimal", fix: third, deliver: signed("generated/entities/status_message_minimal.xml", vAlice),
			check: wantPost("17418fb029e6013487743131731751e9", vAlice, true)},
		{name: "status_message_full", fix: third, deliver: signed("generated/entities/status_message_full.xml", vAlice),
			check: func(r *rig) {
				r.t.Helper()
				row, ok := r.post("e05828d029e7013487753131731751e9")
				if !ok || row.Poll == nil || row.Poll.GUID != pollGUID || row.Location == nil || !strings.Contains(row.Text, "markdown") {
					r.t.Fatalf("status_message_full as stored: %v %+v", ok, row)
				}
			}},
		{name: "status_message_with_event", fix: third, deliver: signed("generated/entities/status_message_with_event.xml", vAlice),
			check: wantPost("a1b2c3d4e5f60718293a4b5c6d7e8f90", vAlice, true)},
		{name: "status_message_private/private", fix: root, deliver: sealed("generated/entities/status_message_private.xml", vAlice),
			check: wantPost("5f2a5c20e6b50134a9b2525400b6ff2a", vAlice, false)},
		{name: "status_message_private/public route", fix: third, deliver: signed("generated/entities/status_message_private.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "photo", fix: third, deliver: signed("generated/entities/photo.xml", vAlice)},
		{name: "profile/private", fix: root, deliver: sealed("generated/entities/profile.xml", vAlice),
			check: func(r *rig) {
				if sp := r.person(vAlice); sp.Bio != "some text about me" || sp.FirstName != "Alice" {
					r.t.Fatalf("alice's profile after profile.xml: %+v", sp)
				}
			}},
		{name: "profile/public route", fix: third, deliver: signed("generated/entities/profile.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "profile_base_only", fix: third, deliver: signed("generated/entities/profile_base_only.xml", vAlice)},
		{name: "reshare", fix: third, deliver: signed("generated/entities/reshare.xml", vAlice),
			check: func(r *rig) {
				r.t.Helper()
				row, ok := r.post("a0b53e5029f6013487753131731751e9")
				if !ok || row.RootGUID != reshareRoot || row.Author != vAlice {
					r.t.Fatalf("reshare as stored: %v %+v", ok, row)
				}
			}},
		{name: "reshare_without_root", fix: third, deliver: signed("generated/entities/reshare_without_root.xml", vAlice)},
		{name: "participation/on the root author's pod", fix: root, deliver: signed("generated/entities/participation.xml", vAlice)},
		{name: "participation/on a third pod", fix: third, deliver: signed("generated/entities/participation.xml", vAlice),
			stage: diaspora.StageEntity, err: diaspora.ErrNotLocal},
		{name: "contact", fix: root, deliver: sealed("generated/entities/contact.xml", vAlice),
			check: func(r *rig) {
				if !r.person(vAlice).Sharing {
					r.t.Fatal("alice shares with bob, but the pod does not show it")
				}
			}},
		{name: "contact/public route", fix: root, deliver: signed("generated/entities/contact.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "contact/to someone else", fix: third, deliver: sealed("generated/entities/contact.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrWrongRecipient},
		{name: "contact_stop_sharing", fix: root, deliver: sealed("generated/entities/contact_stop_sharing.xml", vAlice)},
		{name: "contact_blocking", fix: root, deliver: sealed("generated/entities/contact_blocking.xml", vAlice)},
		{name: "conversation", fix: root, deliver: sealed("generated/entities/conversation.xml", vAlice),
			check: func(r *rig) {
				r.t.Helper()
				if _, err := r.p.Conversation(r.ctx, "9b1376a029eb013487753131731751e9"); err != nil {
					r.t.Fatalf("the conversation: %v", err)
				}
			}},
		{name: "conversation/public route", fix: root, deliver: signed("generated/entities/conversation.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrNotPublic},
		{name: "conversation/without the recipient", fix: third, deliver: sealed("generated/entities/conversation.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrWrongRecipient},
		{name: "message", fix: root, deliver: sealed("generated/entities/message.xml", vAlice)},
		{name: "retraction_comment", fix: third, deliver: signed("generated/entities/retraction_comment.xml", vAlice),
			setup: func(r *rig) {
				r.t.Helper()
				r.process(delivery{"public", r.sign(vectors.Read(r.t, "generated/entities/comment.xml"), vBob)})
				wantComment(bobPost, "5c241a3029f8013487763131731751e9", vAlice)(r)
			},
			check: wantNoComment(bobPost, "5c241a3029f8013487763131731751e9")},
		// alice retracting bob's post: a stranger's retraction.
		{name: "retraction_post", fix: third, deliver: signed("generated/entities/retraction_post.xml", vAlice),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantPostStays(bobPost)},
		{name: "account_deletion", fix: third, deliver: signed("generated/entities/account_deletion.xml", vAlice)},
	}
}

func entityOf(r *rig, file string) entity.Entity {
	r.t.Helper()
	env, err := envelope.Parse(vectors.Read(r.t, file))
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := entity.Parse(env.Payload)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

func commentOf(r *rig, file string) {
	r.t.Helper()
	e, err := entity.Parse(vectors.Read(r.t, file))
	if err != nil {
		r.t.Fatal(err)
	}
	c := e.(*entity.Comment)
	wantComment(c.Parent, c.ID, c.AuthorID)(r)
}

// explicitCases are the acceptance criterion's refusals, built here.
func explicitCases() []vcase {
	at := time.Date(2016, 7, 12, 3, 0, 0, 0, time.UTC)
	return []vcase{
		{name: "forged sender: bob signs alice's post", fix: third,
			deliver: built(vBob, func(r *rig) []byte {
				return marshal(r, &entity.StatusMessage{AuthorID: vAlice, ID: "f0f0f0f029e9013487753131731751e9", CreatedAt: at, Public: true, Text: "not alice"})
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed,
			check: func(r *rig) {
				if _, ok := r.post("f0f0f0f029e9013487753131731751e9"); ok {
					r.t.Fatal("the forged post is stored")
				}
			}},
		{name: "forged sender: carol relays alice's comment on bob's post", fix: third,
			deliver: built(carol, func(r *rig) []byte {
				return signedBy(r, marshal(r, &entity.Comment{AuthorID: vAlice, ID: "f1f1f1f129e9013487753131731751e9", Parent: bobPost,
					Text: "relayed by a stranger", CreatedAt: at}), r.keys.alice)
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantNoComment(bobPost, "f1f1f1f129e9013487753131731751e9")},
		{name: "wrong relayable signature: alice's comment signed by carol", fix: third,
			deliver: built(vBob, func(r *rig) []byte {
				return signedBy(r, marshal(r, &entity.Comment{AuthorID: vAlice, ID: "f2f2f2f229e9013487753131731751e9", Parent: bobPost,
					Text: "alice did not write this", CreatedAt: at}), r.keys.carol)
			}),
			stage: diaspora.StageEntity, err: entity.ErrSignature, check: wantNoComment(bobPost, "f2f2f2f229e9013487753131731751e9")},
		{name: "wrong relayable signature: on the root author's pod", fix: root,
			deliver: built(vAlice, func(r *rig) []byte {
				return signedBy(r, marshal(r, &entity.Comment{AuthorID: vAlice, ID: "f3f3f3f329e9013487753131731751e9", Parent: bobPost,
					Text: "signature by someone else", CreatedAt: at}), r.keys.aliceNew)
			}),
			stage: diaspora.StageEntity, err: entity.ErrSignature, check: wantNoComment(bobPost, "f3f3f3f329e9013487753131731751e9")},
		{name: "wrong relayable signature: none at all", fix: third,
			deliver: built(vBob, func(r *rig) []byte {
				return marshal(r, &entity.Comment{AuthorID: vAlice, ID: "f4f4f4f429e9013487753131731751e9", Parent: bobPost,
					Text: "unsigned", CreatedAt: at})
			}),
			stage: diaspora.StageEntity, check: wantNoComment(bobPost, "f4f4f4f429e9013487753131731751e9")},
		{name: "retraction by a stranger: carol retracts alice's post", fix: third,
			deliver: built(carol, func(r *rig) []byte {
				return marshal(r, &entity.Retraction{AuthorID: carol, Target: alicePost, TargetTypeName: "Post"})
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantPostStays(alicePost)},
		{name: "retraction by a stranger: in alice's name, signed by carol", fix: third,
			deliver: built(carol, func(r *rig) []byte {
				return marshal(r, &entity.Retraction{AuthorID: vAlice, Target: alicePost, TargetTypeName: "Post"})
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantPostStays(alicePost)},
		{name: "retraction by a stranger: carol retracts alice's comment on bob's post", fix: third,
			setup: func(r *rig) {
				r.t.Helper()
				r.process(delivery{"public", r.sign(vectors.Read(r.t, "generated/entities/comment.xml"), vBob)})
			},
			deliver: built(carol, func(r *rig) []byte {
				return marshal(r, &entity.Retraction{AuthorID: carol, Target: "5c241a3029f8013487763131731751e9", TargetTypeName: "Comment"})
			}),
			stage: diaspora.StageReceive, err: diaspora.ErrNotAllowed, check: wantComment(bobPost, "5c241a3029f8013487763131731751e9", vAlice)},
		// The legitimate ones, for contrast: the author, and the root
		// author moderating a comment on his post (diaspora* names the
		// target's author in the retraction and signs as the root
		// author, PROTOCOL.md §7.4).
		{name: "retraction by the author: alice retracts her post", fix: third,
			deliver: built(vAlice, func(r *rig) []byte {
				return marshal(r, &entity.Retraction{AuthorID: vAlice, Target: alicePost, TargetTypeName: "Post"})
			}),
			check: func(r *rig) {
				if _, ok := r.post(alicePost); ok {
					r.t.Fatal("alice's retracted post is still shown")
				}
			}},
		{name: "retraction by the root author: bob removes alice's comment", fix: third,
			setup: func(r *rig) {
				r.t.Helper()
				r.process(delivery{"public", r.sign(vectors.Read(r.t, "generated/entities/comment.xml"), vBob)})
			},
			deliver: built(vBob, func(r *rig) []byte {
				return marshal(r, &entity.Retraction{AuthorID: vAlice, Target: "5c241a3029f8013487763131731751e9", TargetTypeName: "Comment"})
			}),
			check: wantNoComment(bobPost, "5c241a3029f8013487763131731751e9")},
	}
}

// TestVectorsInbound runs every case on a pod of its own: a delivery is
// either stored (one new Received op, its payload in the pod, nothing
// rejected) or refused at its stage (no new op, one more rejection).
// Refusals change nothing, so those without a setup share one pod per
// fixture, one after the other: what an earlier one left behind would show.
func TestVectorsInbound(t *testing.T) {
	cases := append(vectorCases(), explicitCases()...)
	ts := newTemplates(t)
	type sharedRig struct {
		mu sync.Mutex
		r  *rig
	}
	var sharedMu sync.Mutex
	shared := map[string]*sharedRig{}
	t.Cleanup(func() { // after every subtest
		for _, s := range shared {
			if s.r != nil {
				if err := s.r.p.Close(); err != nil {
					t.Error(err)
				}
			}
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var r *rig
			if c.stage != "" && c.setup == nil {
				sharedMu.Lock()
				s, ok := shared[c.fix.name]
				if !ok {
					s = &sharedRig{}
					shared[c.fix.name] = s
				}
				sharedMu.Unlock()
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.r == nil {
					// In the parent's directory: the pod outlives this subtest.
					s.r = ts.open(t, c.fix, filepath.Join(ts.root, "shared-"+c.fix.name))
				}
				r = s.r.in(t)
			} else {
				r = ts.rig(t, c.fix)
			}
			if c.setup != nil {
				c.setup(r)
			}
			d := c.deliver(r)
			payload := r.payloadOf(d)
			before := r.counts()
			r.process(d)
			after := r.counts()
			ops, rejected := after.receivedOps-before.receivedOps, after.rejected-before.rejected
			refused := r.log.since(before.refusals)
			if c.stage == "" {
				if ops != 1 || rejected != 0 || len(refused) != 0 {
					t.Fatalf("accepted delivery: %d new Received ops, %d rejected, refusals %v; want 1, 0, none", ops, rejected, refused)
				}
				if payload == nil || !r.stored(payload) {
					t.Fatal("the accepted entity's payload is not stored as received")
				}
			} else {
				if ops != 0 || rejected != 1 {
					t.Fatalf("refused delivery: %d new Received ops, %d rejected; want 0, 1", ops, rejected)
				}
				if len(refused) != 1 || refused[0].stage != c.stage || (c.err != nil && !errors.Is(refused[0].err, c.err)) {
					t.Fatalf("refusals %v; want one at stage %q wrapping %v", refused, c.stage, c.err)
				}
				if payload != nil && r.stored(payload) {
					t.Fatal("the refused entity's payload is stored")
				}
			}
			if c.check != nil {
				c.check(r)
			}
		})
	}
}

func (f refusal) String() string { return string(f.stage) + ": " + errString(f.err) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestVectorsInboundIdempotent: the same delivery processed again (a lost
// acknowledgement) or twice in one page (a relay delivering twice) is
// stored once.
func TestVectorsInboundIdempotent(t *testing.T) {
	t.Parallel()
	ts := newTemplates(t)
	r := ts.rig(t, third)
	post := delivery{"public", vectors.Read(t, "generated/envelopes/public_status_message.xml")}
	comment := delivery{"public", vectors.Read(t, "generated/envelopes/relayed_comment_signed_by_root_author.xml")}
	deletion := delivery{"public", vectors.Read(t, "generated/envelopes/public_account_deletion.xml")} // no guid: keyed by its payload
	c0 := r.counts()
	r.process(post, comment, deletion)
	c1 := r.counts()
	if d := c1.receivedOps - c0.receivedOps; d != 3 || c1.rejected != c0.rejected {
		t.Fatalf("first delivery: %d new Received ops, %d rejected; want 3, 0", d, c1.rejected-c0.rejected)
	}
	r.process(post, comment, deletion)
	r.process(post, post, comment, comment, deletion, deletion)
	c2 := r.counts()
	if c2.receivedOps != c1.receivedOps || c2.rejected != c1.rejected {
		t.Fatalf("delivered again: %d new Received ops, %d rejected; want none", c2.receivedOps-c1.receivedOps, c2.rejected-c1.rejected)
	}
	// The comment is alice's, and the page also deleted alice's account:
	// her comment is hidden (the ops stay).
	cs, err := r.p.PostComments(r.ctx, bobPost, store.TimeBound{Limit: 100})
	if err != nil || len(cs) != 0 {
		t.Fatalf("comments on %s after its author's account deletion: %d, %v; want 0", bobPost, len(cs), err)
	}

	// A fresh pod receiving duplicates within its first page stores once too.
	r2 := ts.rig(t, third)
	c0 = r2.counts()
	r2.process(post, post, comment, comment)
	if d := r2.counts().receivedOps - c0.receivedOps; d != 2 {
		t.Fatalf("duplicates in one page: %d new Received ops; want 2", d)
	}
	if cs, err := r2.p.PostComments(r2.ctx, bobPost, store.TimeBound{Limit: 100}); err != nil || len(cs) != 1 {
		t.Fatalf("comments on %s: %d, %v; want 1", bobPost, len(cs), err)
	}
}

// TestVectorsInboundParentInSamePage: a comment whose parent post comes
// earlier in the same page is accepted (the engine stores the post first)
// on a pod that knew neither.
func TestVectorsInboundParentInSamePage(t *testing.T) {
	t.Parallel()
	ts := newTemplates(t)
	r := ts.rig(t, fixture{name: "no posts", noPosts: true})
	post := marshal(r, &entity.StatusMessage{AuthorID: vBob, ID: bobPost, CreatedAt: time.Date(2016, 7, 11, 20, 0, 0, 0, time.UTC),
		Public: true, Text: "bob's post"})
	c0 := r.counts()
	r.process(delivery{"public", r.sign(post, vBob)},
		delivery{"public", vectors.Read(t, "generated/envelopes/relayed_comment_signed_by_root_author.xml")})
	c1 := r.counts()
	if d := c1.receivedOps - c0.receivedOps; d != 2 || c1.rejected != c0.rejected {
		t.Fatalf("post and comment in one page: %d new Received ops, %d rejected; want 2, 0", d, c1.rejected-c0.rejected)
	}
	wantPost(bobPost, vBob, true)(r)
	wantComment(bobPost, "6d241a3029f8013487763131731751e9", vAlice)(r)
}
