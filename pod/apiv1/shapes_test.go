package apiv1

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"seedpod/pod/apiv1/apiv1test"
)

// Fixtures. GUIDs are 32 hex characters, as diaspora makes them (the schema
// wants 16–255).
const (
	guidAlice   = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	guidBob     = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	guidPost    = "0123456789abcdef0123456789abcdef"
	guidRoot    = "fedcba9876543210fedcba9876543210"
	guidComment = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
	guidPhoto   = "9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f"
	guidPoll    = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
)

var (
	t0 = NewTime(time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC))
	t1 = NewTime(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC))
)

func ptr[T any](v T) *T { return &v }

func alice() Person {
	return Person{GUID: guidAlice, DiasporaID: "alice@pod.example", Name: "Alice Liddell",
		Avatar: "https://pod.example/uploads/images/thumb_medium_a.jpg"}
}

func bob() Person { return Person{GUID: guidBob, DiasporaID: "bob@other.example"} }

func sizes(n string) PhotoSizes {
	return PhotoSizes{
		Small:  "https://pod.example/uploads/images/thumb_small_" + n + ".jpg",
		Medium: "https://pod.example/uploads/images/thumb_medium_" + n + ".jpg",
		Large:  "https://pod.example/uploads/images/scaled_full_" + n + ".jpg",
		Raw:    "https://pod.example/uploads/images/" + n + ".jpg",
	}
}

func fullPost() Post {
	return Post{
		GUID: guidPost, CreatedAt: t0, PostType: PostTypeStatusMessage,
		Title: "Hello", Body: "# Hello\n@{bob@other.example} #nsfw", Public: true, NSFW: true,
		Author: alice(), ProviderDisplayName: "Seedpod",
		InteractionCounters: InteractionCounters{Comments: 2, Likes: 3, Reshares: 1},
		OwnInteractionState: OwnInteractionState{Liked: true, Reshared: true, Subscribed: true, Reported: true},
		MentionedPeople:     []Person{bob()},
		Photos: []PostPhoto{
			{Dimensions: PhotoDimensions{Width: ptr(800), Height: ptr(600)}, Sizes: sizes("p1")},
			{Sizes: sizes("p2")},
		},
		Poll: &Poll{GUID: guidPoll, Question: "Tea?", ParticipationCount: 3, AlreadyParticipated: true,
			Answers: []PollAnswer{{ID: 1, Answer: "Yes", VoteCount: 2, OwnAnswer: ptr(true)}, {ID: 2, Answer: "No", VoteCount: 1}}},
		Location:  &Location{Address: "Oxford", Lat: 51.752, Lng: -1.2577},
		OpenGraph: &OpenGraphObject{Type: "article", URL: "https://example.org/a", Title: "A", Image: "https://example.org/a.png", Description: "d", VideoURL: "https://video.example/embed/1"},
		OEmbed:    map[string]any{"trusted_endpoint_url": "https://www.youtube.com/oembed", "type": "video", "version": "1.0", "html": "<iframe></iframe>"},
		Seedpod: &PostExtension{EditedAt: ptr(t1), Delivery: &Delivery{State: "delivering", Delivered: 3, Total: 5},
			DraftID: "01HZX3J5K6M7N8P9Q0R1S2T3V4"},
	}
}

func minimalPost() Post {
	return Post{GUID: guidPost, CreatedAt: t0, PostType: PostTypeStatusMessage, Author: bob()}
}

func fullReshare() Post {
	root := fullPost()
	root.GUID = guidRoot
	root.Seedpod = nil
	p := fullPost()
	p.PostType = PostTypeReshare
	p.Author = bob()
	p.Root = &root
	return p
}

func fullOwnProfile() OwnProfile {
	return OwnProfile{GUID: guidAlice, DiasporaID: "alice@pod.example", Name: "Alice Liddell",
		Avatar: ptr(sizes("avatar")), Tags: []string{"tea", "rabbits"},
		ProfileDetails: ProfileDetails{Birthday: Date{1852, time.May, 4}, Gender: ptr("female"),
			Location: "Oxford", Bio: "Curiouser and curiouser"},
		Searchable: true, ShowProfileInfo: true, NSFW: true}
}

func fullOtherProfile() OtherProfile {
	return OtherProfile{GUID: guidBob, DiasporaID: "bob@other.example", Name: "Bob",
		Avatar: ptr(sizes("bob")), Tags: []string{"cats"},
		ProfileDetails: &ProfileDetails{Birthday: Date{1990, time.February, 28}, Gender: ptr(""), Location: "", Bio: "hi"},
		Blocked:        true, Relationship: Relationship{Receiving: true, Sharing: true},
		Aspects: []AspectRef{{ID: 1, Name: "Friends"}, {ID: 7, Name: "Work"}}}
}

// shapeCase is one value checked against one schema definition.
type shapeCase struct {
	name  string
	def   string
	value any
	// present keys (top level, or in the first array element) with their
	// exact JSON when non-empty; absent keys must not appear.
	present map[string]string
	absent  []string
}

func shapeCases() []shapeCase {
	return []shapeCase{
		{name: "person/full", def: "short_profile", value: alice(),
			present: map[string]string{"avatar": `"https://pod.example/uploads/images/thumb_medium_a.jpg"`, "name": `"Alice Liddell"`}},
		{name: "person/minimal", def: "short_profile", value: bob(),
			present: map[string]string{"name": `"bob@other.example"`}, absent: []string{"avatar"}},

		{name: "post/full", def: "post", value: fullPost(),
			present: map[string]string{"provider_display_name": `"Seedpod"`, "poll": "", "location": "", "open_graph_object": "", "oembed": "", "seedpod": "", "created_at": `"2024-05-01T10:20:30.123Z"`},
			absent:  []string{"root"}},
		{name: "post/minimal", def: "post", value: minimalPost(),
			present: map[string]string{"mentioned_people": "[]", "photos": "[]", "title": `""`, "body": `""`, "public": "false", "nsfw": "false",
				"interaction_counters":  `{"comments":0,"likes":0,"reshares":0}`,
				"own_interaction_state": `{"liked":false,"reshared":false,"subscribed":false,"reported":false}`},
			absent: []string{"provider_display_name", "poll", "location", "open_graph_object", "oembed", "root", "seedpod"}},
		{name: "post/reshare", def: "post", value: fullReshare(), present: map[string]string{"root": "", "post_type": `"Reshare"`}},
		{name: "post/reshare of a deleted post", def: "post",
			value:  Post{GUID: guidPost, CreatedAt: t0, PostType: PostTypeReshare, Author: bob()},
			absent: []string{"root"}},
		{name: "posts", def: "posts", value: []Post{fullPost(), minimalPost(), fullReshare()}},
		{name: "posts/empty", def: "posts", value: []Post{}},
		{name: "post/extension minimal", def: "post",
			value:   Post{GUID: guidPost, CreatedAt: t0, PostType: PostTypeStatusMessage, Author: bob(), Seedpod: &PostExtension{}},
			present: map[string]string{"seedpod": "{}"}},

		{name: "photo/full", def: "photo",
			value:   Photo{GUID: guidPhoto, CreatedAt: t0, Post: guidPost, Dimensions: PhotoDimensions{Width: ptr(1), Height: ptr(2)}, Sizes: sizes("x")},
			present: map[string]string{"post": `"` + guidPost + `"`, "dimensions": `{"width":1,"height":2}`}},
		{name: "photo/minimal", def: "photo", value: Photo{GUID: guidPhoto, CreatedAt: t0, Sizes: sizes("x")},
			present: map[string]string{"dimensions": `{"width":null,"height":null}`}, absent: []string{"post"}},
		{name: "photos", def: "photos", value: []Photo{{GUID: guidPhoto, CreatedAt: t0, Sizes: sizes("x")}}},
		{name: "photo_sizes", def: "photo_sizes", value: sizes("s")},
		{name: "photo_dimensions/full", def: "photo_dimensions", value: PhotoDimensions{Width: ptr(0), Height: ptr(10)}},
		{name: "photo_dimensions/minimal", def: "photo_dimensions", value: PhotoDimensions{},
			present: map[string]string{"width": "null", "height": "null"}},

		{name: "comment/full", def: "comments", value: []Comment{{GUID: guidComment, CreatedAt: t0, Author: alice(), Body: "hi @{bob@other.example}",
			MentionedPeople: []Person{bob()}, Reported: true, Interactions: CommentInteractions{Liked: true, LikesCount: 4}}}},
		{name: "comment/minimal", def: "comments", value: []Comment{{GUID: guidComment, CreatedAt: t0, Author: bob()}},
			present: map[string]string{"mentioned_people": "[]", "reported": "false", "body": `""`, "interactions": `{"liked":false,"likes_count":0}`}},

		{name: "like/full", def: "likes", value: []Like{{GUID: guidComment, Author: alice()}}},
		{name: "like/minimal", def: "likes", value: []Like{{GUID: guidComment, Author: bob()}}},
		{name: "reshare entry/full", def: "reshares", value: []ReshareEntry{{GUID: guidPost, CreatedAt: t0, Author: alice()}}},
		{name: "reshare entry/minimal", def: "reshares", value: []ReshareEntry{{GUID: guidPost, CreatedAt: t0, Author: bob()}}},

		{name: "aspect/full", def: "aspect", value: Aspect{ID: 3, Name: "Friends", Order: 2}},
		{name: "aspect/minimal", def: "aspect", value: Aspect{}, present: map[string]string{"id": "0", "name": `""`, "order": "0"}},
		{name: "aspects", def: "aspects", value: []Aspect{{ID: 1, Name: "Family"}, {ID: 2, Name: "Work", Order: 1}}},

		{name: "conversation/full", def: "conversation", value: Conversation{GUID: guidPost, Subject: "Tea", CreatedAt: t0, Read: true,
			Participants: []Person{alice(), bob()}}},
		{name: "conversation/minimal", def: "conversation", value: Conversation{GUID: guidPost, CreatedAt: t0},
			present: map[string]string{"participants": "[]", "subject": `""`, "read": "false"}},
		{name: "conversations", def: "conversations", value: []Conversation{{GUID: guidPost, CreatedAt: t0}}},

		{name: "message/full", def: "messages", value: []Message{{GUID: guidComment, CreatedAt: t0, Body: "hello", Author: alice()}}},
		{name: "message/minimal", def: "messages", value: []Message{{GUID: guidComment, CreatedAt: t0, Author: bob()}},
			present: map[string]string{"body": `""`}},

		{name: "notification/full", def: "notification", value: Notification{GUID: guidComment, Type: NotificationCommentOnPost, Read: true,
			CreatedAt: t0, EventCreators: []Person{alice(), bob()}, Target: &NotificationTarget{GUID: guidPost, Author: ptr(alice())}}},
		{name: "notification/minimal", def: "notification", value: Notification{GUID: guidComment, Type: NotificationStartedSharing, CreatedAt: t0},
			present: map[string]string{"event_creators": "[]", "read": "false"}, absent: []string{"target"}},
		{name: "notification/target without author", def: "notification",
			value:   Notification{GUID: guidComment, Type: NotificationLiked, CreatedAt: t0, Target: &NotificationTarget{GUID: guidPost}},
			present: map[string]string{"target": `{"guid":"` + guidPost + `"}`}},
		{name: "notifications", def: "notifications", value: []Notification{{GUID: guidComment, Type: NotificationMentioned, CreatedAt: t0}}},

		{name: "own profile/full", def: "own_user", value: fullOwnProfile(),
			present: map[string]string{"birthday": `"1852-05-04"`, "gender": `"female"`, "avatar": "", "nsfw": "true"}},
		{name: "other profile/full", def: "user", value: fullOtherProfile(),
			present: map[string]string{"birthday": `"1990-02-28"`, "gender": `""`, "location": `""`, "bio": `"hi"`}},
		{name: "other profile/minimal", def: "user", value: OtherProfile{GUID: guidBob, DiasporaID: "bob@other.example"},
			present: map[string]string{"tags": "[]", "aspects": "[]", "blocked": "false", "relationship": `{"receiving":false,"sharing":false}`},
			absent:  []string{"name", "avatar", "birthday", "gender", "location", "bio"}},
		{name: "other profile/details with nulls", def: "user",
			value:   OtherProfile{GUID: guidBob, DiasporaID: "bob@other.example", ProfileDetails: &ProfileDetails{Birthday: Date{2000, 1, 1}, Gender: ptr("x")}},
			present: map[string]string{"location": `""`, "bio": `""`}},
	}
}

// TestShapesMatchSchema marshals every shape, full and minimal, checks it
// against diaspora's schema, then checks the keys that must be there (with
// their values) and the ones .compact would have dropped.
func TestShapesMatchSchema(t *testing.T) {
	for _, c := range shapeCases() {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.value)
			if err != nil {
				t.Fatal(err)
			}
			apiv1test.Validate(t, c.def, b)
			if len(c.present) == 0 && len(c.absent) == 0 {
				return
			}
			obj := firstObject(t, b)
			for k, want := range c.present {
				got, ok := obj[k]
				if !ok {
					t.Errorf("key %q missing in %s", k, b)
				} else if want != "" && string(got) != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			for _, k := range c.absent {
				if v, ok := obj[k]; ok {
					t.Errorf("key %q = %s should be omitted", k, v)
				}
			}
		})
	}
}

func firstObject(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	if len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil || len(arr) == 0 {
			t.Fatalf("not a non-empty array: %s", b)
		}
		b = arr[0]
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("not an object: %s", b)
	}
	return obj
}

// TestEveryShapeHasACase keeps the table honest: each schema definition we
// produce (all but the helpers and the broken authored_content_reference) is
// exercised above.
func TestEveryShapeHasACase(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range shapeCases() {
		covered[c.def] = true
	}
	skip := map[string]bool{
		"guid": true, "timestamp": true, "url": true, "birthday": true, "user_data": true, "post_common": true, "tags": true,
		"users":                      true,                                      // []Person, same items as short_profile
		"authored_content_reference": true, "authored_content_references": true, // unsatisfiable, see TestSchemaQuirks
	}
	for _, d := range apiv1test.Definitions(t) {
		if !covered[d] && !skip[d] {
			t.Errorf("no shape case for schema definition %q", d)
		}
	}
}

// TestSchemaQuirks pins where diaspora's schema and its code (which we
// follow, API.md §0) disagree, so a schema update shows up here.
func TestSchemaQuirks(t *testing.T) {
	// own_user types birthday and gender as strings, but the presenter sends
	// null when they are unset (ProfilePresenter#added_details_api_json:
	// birthday.try(:iso8601), gender). We send null too; the same document
	// without the nulls is valid.
	own := OwnProfile{GUID: guidAlice, DiasporaID: "alice@pod.example"}
	b, err := json.Marshal(own)
	if err != nil {
		t.Fatal(err)
	}
	obj := firstObject(t, b)
	for k, want := range map[string]string{"birthday": "null", "gender": "null", "location": `""`, "bio": `""`,
		"tags": "[]", "searchable": "false", "show_profile_info": "false", "nsfw": "false"} {
		if string(obj[k]) != want {
			t.Errorf("minimal own profile: %s = %s, want %s", k, obj[k], want)
		}
	}
	for _, k := range []string{"name", "avatar"} {
		if _, ok := obj[k]; ok {
			t.Errorf("minimal own profile: %s should be omitted", k)
		}
	}
	if apiv1test.Check(t, "own_user", b) == nil {
		t.Error("the schema now accepts a null birthday/gender: drop this quirk")
	}
	delete(obj, "birthday")
	delete(obj, "gender")
	stripped, _ := json.Marshal(obj)
	apiv1test.Validate(t, "own_user", stripped)

	// authored_content_reference requires created_at but lists it outside
	// "properties" while closing the object, so nothing satisfies it; a
	// Reshare passes "post" through its first branch (the post_type
	// "format" is not a real format and is ignored).
	ref := []byte(`{"guid":"` + guidRoot + `","created_at":"2024-05-01T10:20:30.123Z","author":{"guid":"` + guidBob + `","diaspora_id":"b@c","name":"b"}}`)
	if apiv1test.Check(t, "authored_content_reference", ref) == nil {
		t.Error("authored_content_reference is satisfiable now: validate reshare roots against it")
	}

	// short_profile requires name although .compact could drop it: we
	// always send it (Person falls back to the diaspora ID).
	if apiv1test.Check(t, "short_profile", []byte(`{"guid":"`+guidBob+`","diaspora_id":"b@c"}`)) == nil {
		t.Error("short_profile no longer requires name")
	}

	// The closed objects refuse additions: the reason Seedpod extends only
	// Post (API.md §6.1).
	c, _ := json.Marshal([]Comment{{GUID: guidComment, CreatedAt: t0, Author: bob()}})
	extra := strings.Replace(string(c), `{"guid"`, `{"seedpod":{},"guid"`, 1)
	if apiv1test.Check(t, "comments", []byte(extra)) == nil {
		t.Error("comments accept an extra key")
	}
	p, _ := json.Marshal(minimalPost())
	if err := apiv1test.Check(t, "post", p); err != nil {
		t.Errorf("post: %v", err)
	}
}

// TestShapesRoundTrip: what we marshal unmarshals and marshals again to the
// same bytes, so the types also serve clients (the UI's tests, seedpod's own
// scripts). A Person without a name comes back with the diaspora ID as name.
func TestShapesRoundTrip(t *testing.T) {
	values := []any{fullPost(), fullReshare(), fullOwnProfile(), fullOtherProfile(),
		Photo{GUID: guidPhoto, CreatedAt: t0, Post: guidPost, Dimensions: PhotoDimensions{Width: ptr(1), Height: ptr(2)}, Sizes: sizes("x")},
		Comment{GUID: guidComment, CreatedAt: t0, Author: alice(), Body: "b", MentionedPeople: []Person{alice()}, Interactions: CommentInteractions{true, 1}},
		Conversation{GUID: guidPost, Subject: "s", CreatedAt: t0, Participants: []Person{alice()}},
		Notification{GUID: guidComment, Type: NotificationLiked, CreatedAt: t0, EventCreators: []Person{alice()}, Target: &NotificationTarget{GUID: guidPost}},
		Message{GUID: guidComment, CreatedAt: t0, Body: "m", Author: alice()},
		ReshareEntry{GUID: guidPost, CreatedAt: t0, Author: alice()},
		Like{GUID: guidPost, Author: alice()},
		Aspect{ID: 1, Name: "n", Order: 2},
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal(b, back.Interface()); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		again, err := json.Marshal(back.Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(b) {
			t.Errorf("%T round trip:\n got %s\nwant %s", v, again, b)
		}
	}
	// Values without the Person name fallback come back identical.
	for _, v := range []any{fullOwnProfile(), fullOtherProfile(), alice(), Aspect{ID: 1, Name: "n", Order: 2}} {
		b, _ := json.Marshal(v)
		back := reflect.New(reflect.TypeOf(v))
		json.Unmarshal(b, back.Interface())
		if got := back.Elem().Interface(); !reflect.DeepEqual(got, v) {
			t.Errorf("%T round trip:\n got %+v\nwant %+v", v, got, v)
		}
	}
}

// TestNilListsAreEmptyArrays walks every list a shape always sends.
func TestNilListsAreEmptyArrays(t *testing.T) {
	for _, c := range []struct {
		v    any
		keys []string
	}{
		{Post{}, []string{"mentioned_people", "photos"}},
		{Poll{}, []string{"poll_answers"}},
		{Comment{}, []string{"mentioned_people"}},
		{Conversation{}, []string{"participants"}},
		{Notification{}, []string{"event_creators"}},
		{OwnProfile{}, []string{"tags"}},
		{OtherProfile{}, []string{"tags", "aspects"}},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%T: %v", c.v, err)
		}
		var obj map[string]json.RawMessage
		json.Unmarshal(b, &obj)
		for _, k := range c.keys {
			if string(obj[k]) != "[]" {
				t.Errorf("%T.%s = %s, want []", c.v, k, obj[k])
			}
		}
	}
}

// TestPollAnswersInPost: own_answer only when known, and the poll's keys.
func TestPollAnswersInPost(t *testing.T) {
	b, _ := json.Marshal(fullPost().Poll)
	var p struct {
		Answers []map[string]any `json:"poll_answers"`
	}
	json.Unmarshal(b, &p)
	if _, ok := p.Answers[0]["own_answer"]; !ok {
		t.Error("own_answer missing where set")
	}
	if _, ok := p.Answers[1]["own_answer"]; ok {
		t.Error("own_answer present where unknown")
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		var m map[string]any
		json.Unmarshal(b, &m)
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"already_participated", "guid", "participation_count", "poll_answers", "question"}; !slices.Equal(keys, want) {
		t.Errorf("poll keys %v, want %v", keys, want)
	}
}

func TestErrorEnvelope(t *testing.T) {
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{NewError(404, "Post with provided guid could not be found"), `{"code":404,"message":"Post with provided guid could not be found"}`},
		{&Error{Code: 412, Message: "The draft changed", Reason: "stale_revision"}, `{"code":412,"message":"The draft changed","error":"stale_revision"}`},
		{&Error{Code: 500, Message: "Internal error", Err: errSecret}, `{"code":500,"message":"Internal error"}`},
	} {
		b, err := json.Marshal(c.e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got %s, want %s", b, c.want)
		}
	}
	e := &Error{Code: 500, Message: "Internal error", Err: errSecret}
	if !strings.Contains(e.Error(), "db locked") || e.Unwrap() != errSecret {
		t.Errorf("the internal cause is lost for logs: %v", e)
	}
}

type secretErr struct{}

func (secretErr) Error() string { return "db locked at /home/alice/pod.db" }

var errSecret error = secretErr{}
