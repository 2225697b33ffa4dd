// Package apiv1 owns the diaspora* API v1 JSON shapes and paging
// conventions (../shared/API.md §1–§2), shared by the pod's use cases, which
// return these values, and pod/web, which writes them.
//
// It is pure: the standard library only (net/url for query strings), no
// database, no HTTP server, nothing else from seedpod. The shapes are checked
// in tests against the JSON schema diaspora's own specs use
// (lib/schemas/api_v1.json); where the schema closes an object
// (additionalProperties: false) nothing may be added to it.
//
// Keys that diaspora drops when empty (Ruby .compact) are omitted here too;
// keys it always sends are always sent, lists as [] rather than null. Every
// shape with a list therefore has a MarshalJSON that turns nil into [].
package apiv1

import "encoding/json"

// Person is the short person ("author"; schema short_profile, closed).
type Person struct {
	GUID       string `json:"guid"`
	DiasporaID string `json:"diaspora_id"`
	// Name is always sent. When it is empty the diaspora ID stands in, as
	// diaspora's Person#name falls back to the handle (the schema requires
	// the key).
	Name string `json:"name"`
	// Avatar is the medium (100×100) thumbnail URL; omitted without one.
	Avatar string `json:"avatar,omitempty"`
}

// MarshalJSON applies the name fallback.
func (p Person) MarshalJSON() ([]byte, error) {
	type person Person
	q := person(p)
	if q.Name == "" {
		q.Name = q.DiasporaID
	}
	return json.Marshal(q)
}

// Post types.
const (
	PostTypeStatusMessage = "StatusMessage"
	PostTypeReshare       = "Reshare"
)

// Post is a status message or a reshare (schema post_common + post; open, so
// the Seedpod extension key fits). For a reshare, Body, Title, Photos, Poll,
// Location, MentionedPeople, OpenGraph, OEmbed and NSFW are those of the
// absolute root; Root is the full Post of that root, absent when it was
// deleted (API.md §2).
type Post struct {
	GUID                string              `json:"guid"`
	CreatedAt           Time                `json:"created_at"`
	PostType            string              `json:"post_type"`
	Title               string              `json:"title"`
	Body                string              `json:"body"`
	Public              bool                `json:"public"`
	NSFW                bool                `json:"nsfw"`
	Author              Person              `json:"author"`
	ProviderDisplayName string              `json:"provider_display_name,omitempty"`
	InteractionCounters InteractionCounters `json:"interaction_counters"`
	OwnInteractionState OwnInteractionState `json:"own_interaction_state"`
	MentionedPeople     []Person            `json:"mentioned_people"`
	Photos              []PostPhoto         `json:"photos"`
	Poll                *Poll               `json:"poll,omitempty"`
	Location            *Location           `json:"location,omitempty"`
	OpenGraph           *OpenGraphObject    `json:"open_graph_object,omitempty"`
	// OEmbed is the provider's oEmbed response plus trusted_endpoint_url
	// (required by the schema when the key is present).
	OEmbed  map[string]any `json:"oembed,omitempty"`
	Root    *Post          `json:"root,omitempty"`
	Seedpod *PostExtension `json:"seedpod,omitempty"`
}

// MarshalJSON sends mentioned_people and photos as [] when empty.
func (p Post) MarshalJSON() ([]byte, error) {
	type post Post
	q := post(p)
	q.MentionedPeople = nonNil(q.MentionedPeople)
	q.Photos = nonNil(q.Photos)
	return json.Marshal(q)
}

// InteractionCounters counts a post's interactions.
type InteractionCounters struct {
	Comments int `json:"comments"`
	Likes    int `json:"likes"`
	Reshares int `json:"reshares"`
}

// OwnInteractionState is what the current user did to a post. The docs'
// "reshated" is a typo; reported is always sent (API.md §4 #5).
type OwnInteractionState struct {
	Liked      bool `json:"liked"`
	Reshared   bool `json:"reshared"`
	Subscribed bool `json:"subscribed"`
	Reported   bool `json:"reported"`
}

// PostExtension is Seedpod's one addition to the v1 Post (API.md §6.1).
type PostExtension struct {
	EditedAt *Time     `json:"edited_at,omitempty"`
	Delivery *Delivery `json:"delivery,omitempty"`
	DraftID  string    `json:"draft_id,omitempty"`
	// HTML is the post's text (for a reshare its root's: the body) as
	// sanitised HTML, safe to put into a page as it is (pod/markup);
	// omitted when there is no text.
	HTML string `json:"html,omitempty"`
	// ContentWarning is the warning the post's text opens with (a first
	// line "CW: <warning>", as drafts publish one), for clients to show
	// the post collapsed behind it.
	ContentWarning string `json:"content_warning,omitempty"`
	// PhotoAlt is the alt text of each of the post's photos, in the order
	// of photos ("" for one without); omitted when none has any. The v1
	// photo objects are closed, so the text travels here (diaspora*
	// Photo.text, federated both ways).
	PhotoAlt []string `json:"photo_alt,omitempty"`
	// Filtered is set when the user's mute filters collapse the post
	// (pod/filters.go): the client shows it folded, saying why.
	Filtered *PostFiltered `json:"filtered,omitempty"`
}

// PostFiltered says which mute filters matched a post shown collapsed.
// Action is always "collapse" (a "hide" filter leaves the post out).
type PostFiltered struct {
	Action  string      `json:"action"`
	Filters []FilterRef `json:"filters"`
}

// FilterRef names a mute filter that matched: its id, kind and value.
type FilterRef struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Delivery summarises where a post has been delivered.
type Delivery struct {
	// State of an own post: "queued" (no relay has it yet) or "handed".
	State     string `json:"state"`
	Delivered int    `json:"delivered,omitempty"`
	Total     int    `json:"total,omitempty"`
}

// PostPhoto is a photo embedded in a post: no guid (API.md §2).
type PostPhoto struct {
	Dimensions PhotoDimensions `json:"dimensions"`
	Sizes      PhotoSizes      `json:"sizes"`
}

// Photo is the full photo (schema photo, closed).
type Photo struct {
	GUID      string `json:"guid"`
	CreatedAt Time   `json:"created_at"`
	// Post is the guid of the post the photo is attached to; omitted while
	// the photo is pending or unattached.
	Post       string          `json:"post,omitempty"`
	Dimensions PhotoDimensions `json:"dimensions"`
	Sizes      PhotoSizes      `json:"sizes"`
}

// PhotoSizes are a photo's URLs (schema photo_sizes, closed, all required):
// small 50×50, medium 100×100, large 700 px wide, raw the original. It is
// also the own profile's avatar object.
type PhotoSizes struct {
	Small  string `json:"small"`
	Medium string `json:"medium"`
	Large  string `json:"large"`
	Raw    string `json:"raw"`
}

// PhotoDimensions are a photo's pixel size; both keys are always sent, null
// when unknown.
type PhotoDimensions struct {
	Width  *int `json:"width"`
	Height *int `json:"height"`
}

// Comment is a comment on a post (schema comments items, closed).
type Comment struct {
	GUID            string              `json:"guid"`
	CreatedAt       Time                `json:"created_at"`
	Author          Person              `json:"author"`
	Body            string              `json:"body"`
	MentionedPeople []Person            `json:"mentioned_people"`
	Reported        bool                `json:"reported"`
	Interactions    CommentInteractions `json:"interactions"`
	// HTML is the body as sanitised HTML. The schema closes the comment,
	// so it is set only when the client asks for it (html=1, a Seedpod
	// extension); otherwise it is empty and left out.
	HTML string `json:"html,omitempty"`
}

// MarshalJSON sends mentioned_people as [] when empty.
func (c Comment) MarshalJSON() ([]byte, error) {
	type comment Comment
	d := comment(c)
	d.MentionedPeople = nonNil(d.MentionedPeople)
	return json.Marshal(d)
}

// CommentInteractions are the current user's like and the like count.
type CommentInteractions struct {
	Liked      bool `json:"liked"`
	LikesCount int  `json:"likes_count"`
}

// Like is a like on a post or comment (schema likes items, closed).
type Like struct {
	GUID   string `json:"guid"`
	Author Person `json:"author"`
}

// ReshareEntry is one reshare in a post's reshare list (schema reshares
// items, closed).
type ReshareEntry struct {
	GUID      string `json:"guid"`
	CreatedAt Time   `json:"created_at"`
	Author    Person `json:"author"`
}

// Aspect is one of the user's aspects (schema aspect, closed).
type Aspect struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Order int    `json:"order"`
}

// AspectRef is an aspect inside a user object: no order.
type AspectRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Conversation is a private conversation (schema conversation, closed).
// Read means the user's unread count is 0.
type Conversation struct {
	GUID         string   `json:"guid"`
	Subject      string   `json:"subject"`
	CreatedAt    Time     `json:"created_at"`
	Read         bool     `json:"read"`
	Participants []Person `json:"participants"`
}

// MarshalJSON sends participants as [] when empty.
func (c Conversation) MarshalJSON() ([]byte, error) {
	type conversation Conversation
	d := conversation(c)
	d.Participants = nonNil(d.Participants)
	return json.Marshal(d)
}

// Message is a message in a conversation (schema messages items, closed).
type Message struct {
	GUID      string `json:"guid"`
	CreatedAt Time   `json:"created_at"`
	Body      string `json:"body"`
	Author    Person `json:"author"`
	// HTML is the body as sanitised HTML, set only when the client asks
	// for it (html=1, a Seedpod extension: the schema closes the message);
	// otherwise empty and left out.
	HTML string `json:"html,omitempty"`
}

// Notification types (schema notification enum). Private-message
// notifications have no v1 type and stay out of v1 lists (API.md §2).
const (
	NotificationAlsoCommented      = "also_commented"
	NotificationCommentOnPost      = "comment_on_post"
	NotificationLiked              = "liked"
	NotificationLikedComment       = "liked_comment"
	NotificationMentioned          = "mentioned"
	NotificationMentionedInComment = "mentioned_in_comment"
	NotificationReshared           = "reshared"
	NotificationStartedSharing     = "started_sharing"
	NotificationContactsBirthday   = "contacts_birthday"
)

// Notification is a notification (schema notification, closed).
type Notification struct {
	GUID          string   `json:"guid"`
	Type          string   `json:"type"`
	Read          bool     `json:"read"`
	CreatedAt     Time     `json:"created_at"`
	EventCreators []Person `json:"event_creators"`
	// Target is always the post involved, even for comment events; absent
	// for started_sharing and contacts_birthday.
	Target *NotificationTarget `json:"target,omitempty"`
}

// MarshalJSON sends event_creators as [] when empty.
func (n Notification) MarshalJSON() ([]byte, error) {
	type notification Notification
	d := notification(n)
	d.EventCreators = nonNil(d.EventCreators)
	return json.Marshal(d)
}

// NotificationTarget is the post a notification is about.
type NotificationTarget struct {
	GUID   string  `json:"guid"`
	Author *Person `json:"author,omitempty"`
}

// ProfileDetails are the profile fields shown to the owner always, and to
// others only when the profile is public or its owner shares with them.
// The keys are always present when the details are: birthday and gender are
// null when unset, location and bio "" (diaspora's renderer turns nil into
// "").
type ProfileDetails struct {
	Birthday Date    `json:"birthday"`
	Gender   *string `json:"gender"`
	Location string  `json:"location"`
	Bio      string  `json:"bio"`
}

// OwnProfile is GET/PATCH /user (schema own_user).
type OwnProfile struct {
	GUID       string `json:"guid"`
	DiasporaID string `json:"diaspora_id"`
	// Name is omitted when the profile has none (no fallback here, unlike
	// Person).
	Name   string      `json:"name,omitempty"`
	Avatar *PhotoSizes `json:"avatar,omitempty"`
	Tags   []string    `json:"tags"`
	ProfileDetails
	Searchable      bool `json:"searchable"`
	ShowProfileInfo bool `json:"show_profile_info"`
	NSFW            bool `json:"nsfw"`
}

// MarshalJSON sends tags as [] when empty.
func (p OwnProfile) MarshalJSON() ([]byte, error) {
	type ownProfile OwnProfile
	q := ownProfile(p)
	q.Tags = nonNil(q.Tags)
	return json.Marshal(q)
}

// OtherProfile is GET /users/:guid for someone else (schema user).
type OtherProfile struct {
	GUID       string      `json:"guid"`
	DiasporaID string      `json:"diaspora_id"`
	Name       string      `json:"name,omitempty"`
	Avatar     *PhotoSizes `json:"avatar,omitempty"`
	Tags       []string    `json:"tags"`
	// ProfileDetails is nil when the details are hidden: then their keys are
	// absent altogether.
	*ProfileDetails
	Blocked      bool         `json:"blocked"`
	Relationship Relationship `json:"relationship"`
	// Aspects are the user's aspects that contain this person.
	Aspects []AspectRef `json:"aspects"`
	// Closed (Seedpod; the profile object is open): their account is
	// closed (a received AccountDeletion).
	Closed bool `json:"closed,omitempty"`
	// MovedTo (Seedpod): the diaspora* ID they moved to (a received
	// AccountMigration).
	MovedTo string `json:"moved_to,omitempty"`
	// Ignored (Seedpod): the user ignores them (their posts and comments
	// are hidden from the user's streams).
	Ignored bool `json:"ignored,omitempty"`
}

// MarshalJSON sends tags and aspects as [] when empty.
func (p OtherProfile) MarshalJSON() ([]byte, error) {
	type otherProfile OtherProfile
	q := otherProfile(p)
	q.Tags = nonNil(q.Tags)
	q.Aspects = nonNil(q.Aspects)
	return json.Marshal(q)
}

// Relationship is the contact state with another person: Receiving means
// the user shares with them, Sharing that they share with the user.
type Relationship struct {
	Receiving bool `json:"receiving"`
	Sharing   bool `json:"sharing"`
}

// Poll is a post's poll (closed in the schema).
type Poll struct {
	GUID                string       `json:"guid"`
	Question            string       `json:"question"`
	ParticipationCount  int          `json:"participation_count"`
	AlreadyParticipated bool         `json:"already_participated"`
	Answers             []PollAnswer `json:"poll_answers"`
}

// MarshalJSON sends poll_answers as [] when empty.
func (p Poll) MarshalJSON() ([]byte, error) {
	type poll Poll
	q := poll(p)
	q.Answers = nonNil(q.Answers)
	return json.Marshal(q)
}

// PollAnswer is one answer of a poll. OwnAnswer is set only when a user is
// known (not in search/posts).
type PollAnswer struct {
	ID        int64  `json:"id"`
	Answer    string `json:"answer"`
	VoteCount int    `json:"vote_count"`
	OwnAnswer *bool  `json:"own_answer,omitempty"`
}

// Location is a post's location (closed in the schema).
type Location struct {
	Address string  `json:"address"`
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
}

// OpenGraphObject is the preview of the first link in a post (closed in the
// schema). VideoURL comes only from allow-listed embed providers.
type OpenGraphObject struct {
	Type        string `json:"type"`
	URL         string `json:"url"`
	Title       string `json:"title"`
	Image       string `json:"image"`
	Description string `json:"description,omitempty"`
	VideoURL    string `json:"video_url,omitempty"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
