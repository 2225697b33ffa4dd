package entity

import (
	"regexp"
	"strings"
	"time"
)

// Length limits of §9 (characters).
const (
	MaxText   = 65535
	MaxString = 255
)

// StatusMessage is a post (§7.2 status_message).
type StatusMessage struct {
	AuthorID            string
	ID                  string // GUID
	CreatedAt           time.Time
	Public              bool
	ProviderDisplayName string
	Text                string
	EditedAt            time.Time
	Photos              []*Photo
	Location            *Location
	Poll                *Poll
	Event               *Event
	Embed               *Embed
}

func (*StatusMessage) Type() string     { return "status_message" }
func (s *StatusMessage) Author() string { return s.AuthorID }
func (s *StatusMessage) GUID() string   { return s.ID }

func (s *StatusMessage) decode(r *reader) {
	s.AuthorID = r.str("author")
	s.ID = r.str("guid")
	s.CreatedAt = r.time("created_at")
	s.Public = r.boolean("public", false)
	s.ProviderDisplayName = r.str("provider_display_name")
	if r.n.child("text") == nil {
		r.fail(ErrInvalid, "text", "missing")
	}
	s.Text = r.str("text")
	s.EditedAt = r.time("edited_at")
	for _, n := range r.nestedAll("photo") {
		p := &Photo{}
		r.sub(n, p)
		s.Photos = append(s.Photos, p)
	}
	if n := r.nested("location"); n != nil {
		s.Location = &Location{}
		r.sub(n, s.Location)
	}
	if n := r.nested("poll"); n != nil {
		s.Poll = &Poll{}
		r.sub(n, s.Poll)
	}
	if n := r.nested("event"); n != nil {
		s.Event = &Event{}
		r.sub(n, s.Event)
	}
	if n := r.nested("embed"); n != nil {
		s.Embed = &Embed{}
		r.sub(n, s.Embed)
	}
}

func (s *StatusMessage) encode() *node {
	b := newBuilder(s.Type()).str("author", s.AuthorID).str("guid", s.ID).
		time("created_at", s.CreatedAt).boolean("public", s.Public).
		opt("provider_display_name", s.ProviderDisplayName).str("text", s.Text).
		time("edited_at", s.EditedAt)
	for _, p := range s.Photos {
		b.sub(p, true)
	}
	if s.Location != nil {
		b.sub(s.Location, false)
	}
	if s.Poll != nil {
		b.sub(s.Poll, false)
	}
	if s.Event != nil {
		b.sub(s.Event, false)
	}
	if s.Embed != nil {
		b.sub(s.Embed, false)
	}
	return b.n
}

func (s *StatusMessage) validate() error {
	c := &checker{typ: s.Type()}
	c.diasporaID("author", s.AuthorID, true)
	c.guid("guid", s.ID, true)
	c.maxLen("text", s.Text, MaxText)
	for _, p := range s.Photos {
		if p == nil {
			c.fail("photo", "nil photo")
			continue
		}
		c.sub(p)
		if p.AuthorID != s.AuthorID {
			c.fail("photo", "photo author %q differs from status author", trunc(p.AuthorID))
		}
	}
	if s.Location != nil {
		c.sub(s.Location)
	}
	if s.Poll != nil {
		c.sub(s.Poll)
	}
	if s.Event != nil {
		c.sub(s.Event)
	}
	if s.Embed != nil {
		c.sub(s.Embed)
	}
	return c.err
}

// Photo is a photo, standalone or nested in a StatusMessage.
type Photo struct {
	ID                string
	AuthorID          string
	Public            bool
	CreatedAt         time.Time
	EditedAt          time.Time
	RemotePhotoPath   string
	RemotePhotoName   string
	Text              string
	StatusMessageGUID string
	Height, Width     int // 0 = absent
}

func (*Photo) Type() string     { return "photo" }
func (p *Photo) Author() string { return p.AuthorID }
func (p *Photo) GUID() string   { return p.ID }

func (p *Photo) decode(r *reader) {
	p.ID = r.str("guid")
	p.AuthorID = r.str("author")
	p.Public = r.boolean("public", false)
	p.CreatedAt = r.time("created_at")
	p.EditedAt = r.time("edited_at")
	p.RemotePhotoPath = r.str("remote_photo_path")
	p.RemotePhotoName = r.str("remote_photo_name")
	p.Text = r.str("text")
	p.StatusMessageGUID = r.str("status_message_guid")
	p.Height = r.integer("height")
	p.Width = r.integer("width")
}

func (p *Photo) encode() *node {
	return newBuilder(p.Type()).str("guid", p.ID).str("author", p.AuthorID).
		boolean("public", p.Public).time("created_at", p.CreatedAt).time("edited_at", p.EditedAt).
		str("remote_photo_path", p.RemotePhotoPath).str("remote_photo_name", p.RemotePhotoName).
		opt("text", p.Text).opt("status_message_guid", p.StatusMessageGUID).
		integer("height", p.Height).integer("width", p.Width).n
}

func (p *Photo) validate() error {
	c := &checker{typ: p.Type()}
	c.guid("guid", p.ID, true)
	c.diasporaID("author", p.AuthorID, true)
	c.required("remote_photo_path", p.RemotePhotoPath)
	c.uriWithPath("remote_photo_path", p.RemotePhotoPath)
	c.required("remote_photo_name", p.RemotePhotoName)
	c.maxLen("text", p.Text, MaxText)
	c.guid("status_message_guid", p.StatusMessageGUID, false)
	if p.Height < 0 || p.Width < 0 {
		c.fail("height", "negative size")
	}
	return c.err
}

// Location is a place attached to a post or event; lat/lng are decimal
// text, not validated as numbers (as in the reference).
type Location struct {
	Address, Lat, Lng string
}

func (*Location) Type() string   { return "location" }
func (*Location) Author() string { return "" }

func (l *Location) decode(r *reader) {
	l.Address, l.Lat, l.Lng = r.str("address"), r.str("lat"), r.str("lng")
}

func (l *Location) encode() *node {
	return newBuilder(l.Type()).str("address", l.Address).str("lat", l.Lat).str("lng", l.Lng).n
}

func (l *Location) validate() error {
	c := &checker{typ: l.Type()}
	c.maxLen("address", l.Address, MaxString)
	c.required("lat", l.Lat)
	c.required("lng", l.Lng)
	return c.err
}

// Poll is nested in a StatusMessage.
type Poll struct {
	ID       string
	Question string
	Answers  []*PollAnswer
}

func (*Poll) Type() string   { return "poll" }
func (*Poll) Author() string { return "" }
func (p *Poll) GUID() string { return p.ID }
func (p *Poll) decode(r *reader) {
	p.ID = r.str("guid")
	p.Question = r.str("question")
	for _, n := range r.nestedAll("poll_answer") {
		a := &PollAnswer{}
		r.sub(n, a)
		p.Answers = append(p.Answers, a)
	}
}

func (p *Poll) encode() *node {
	b := newBuilder(p.Type()).str("guid", p.ID).str("question", p.Question)
	for _, a := range p.Answers {
		b.sub(a, true)
	}
	return b.n
}

func (p *Poll) validate() error {
	c := &checker{typ: p.Type()}
	c.guid("guid", p.ID, true)
	c.required("question", p.Question)
	c.maxLen("question", p.Question, MaxString)
	if len(p.Answers) < 2 {
		c.fail("poll_answer", "%d answers, need at least 2", len(p.Answers))
	}
	for _, a := range p.Answers {
		if a == nil {
			c.fail("poll_answer", "nil answer")
			continue
		}
		c.sub(a)
	}
	return c.err
}

// PollAnswer is one answer of a Poll.
type PollAnswer struct {
	ID     string
	Answer string
}

func (*PollAnswer) Type() string   { return "poll_answer" }
func (*PollAnswer) Author() string { return "" }
func (a *PollAnswer) GUID() string { return a.ID }
func (a *PollAnswer) decode(r *reader) {
	a.ID, a.Answer = r.str("guid"), r.str("answer")
}
func (a *PollAnswer) encode() *node {
	return newBuilder(a.Type()).str("guid", a.ID).str("answer", a.Answer).n
}
func (a *PollAnswer) validate() error {
	c := &checker{typ: a.Type()}
	c.guid("guid", a.ID, true)
	c.required("answer", a.Answer)
	c.maxLen("answer", a.Answer, MaxString)
	return c.err
}

// Event is nested in a StatusMessage (the diaspora pod ignores it).
type Event struct {
	AuthorID    string
	ID          string
	EditedAt    time.Time
	Summary     string
	Description string
	Start       time.Time
	End         time.Time
	AllDay      bool
	Timezone    string
	Location    *Location
}

var timezoneRE = regexp.MustCompile(`^[A-Za-z_-]{0,14}(/[A-Za-z_-]{0,14}){1,2}$`)

func (*Event) Type() string     { return "event" }
func (e *Event) Author() string { return e.AuthorID }
func (e *Event) GUID() string   { return e.ID }
func (e *Event) decode(r *reader) {
	e.AuthorID = r.str("author")
	e.ID = r.str("guid")
	e.EditedAt = r.time("edited_at")
	e.Summary = r.str("summary")
	e.Description = r.str("description")
	e.Start = r.time("start")
	e.End = r.time("end")
	e.AllDay = r.boolean("all_day", false)
	e.Timezone = r.str("timezone")
	if n := r.nested("location"); n != nil {
		e.Location = &Location{}
		r.sub(n, e.Location)
	}
}
func (e *Event) encode() *node {
	b := newBuilder(e.Type()).str("author", e.AuthorID).str("guid", e.ID).time("edited_at", e.EditedAt).
		str("summary", e.Summary).opt("description", e.Description).str("start", fmtTime(e.Start)).
		time("end", e.End).boolean("all_day", e.AllDay).opt("timezone", e.Timezone)
	if e.Location != nil {
		b.sub(e.Location, false)
	}
	return b.n
}
func (e *Event) validate() error {
	c := &checker{typ: e.Type()}
	c.diasporaID("author", e.AuthorID, true)
	c.guid("guid", e.ID, true)
	c.required("summary", e.Summary)
	c.maxLen("summary", e.Summary, MaxString)
	c.maxLen("description", e.Description, MaxText)
	if e.Start.IsZero() {
		c.fail("start", "missing")
	}
	if e.Timezone != "" && !timezoneRE.MatchString(e.Timezone) {
		c.fail("timezone", "invalid time zone %q", trunc(e.Timezone))
	}
	if e.Location != nil {
		c.sub(e.Location)
	}
	return c.err
}

// Embed is link-preview metadata nested in a StatusMessage; exactly one of
// URL or Nothing is set.
type Embed struct {
	URL, Title, Description, Image string
	Nothing                        bool
}

func (*Embed) Type() string   { return "embed" }
func (*Embed) Author() string { return "" }
func (e *Embed) decode(r *reader) {
	e.URL, e.Title, e.Description, e.Image = r.str("url"), r.str("title"), r.str("description"), r.str("image")
	if s, ok := r.raw("nothing"); ok {
		// No boolean rule in the reference: an unparsable value is nil.
		e.Nothing, _ = ParseBool(s)
	}
}
func (e *Embed) encode() *node {
	b := newBuilder(e.Type()).opt("url", e.URL).opt("title", e.Title).opt("description", e.Description).opt("image", e.Image)
	if e.Nothing {
		b.boolean("nothing", true)
	}
	return b.n
}
func (e *Embed) validate() error {
	c := &checker{typ: e.Type()}
	c.uriWithHost("url", e.URL, false)
	c.maxLen("title", e.Title, MaxString)
	c.maxLen("description", e.Description, MaxText)
	c.uriWithHost("image", e.Image, true)
	if (e.URL != "") == e.Nothing {
		c.fail("nothing", "exactly one of url and nothing=true is required")
	}
	return c.err
}

// Profile is a person's profile (§7.2 profile).
type Profile struct {
	AuthorID       string
	EditedAt       time.Time
	FullName       string
	FirstName      string
	LastName       string
	ImageURL       string
	ImageURLMedium string
	ImageURLSmall  string
	Bio            string
	Birthday       string // YYYY-MM-DD; year ≤1004 means "no year"
	Gender         string
	Location       string
	Searchable     bool // default true
	Public         bool // the extended profile is public
	NSFW           bool
	TagString      string
}

var birthdayRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

func (*Profile) Type() string     { return "profile" }
func (p *Profile) Author() string { return p.AuthorID }

// OnlyPublicFields reports whether the extended fields (bio, birthday,
// gender, location) are all absent: such a profile with Public=false is
// still acceptable on the public route (§3.3 step 9).
func (p *Profile) OnlyPublicFields() bool {
	return p.Bio == "" && p.Birthday == "" && p.Gender == "" && p.Location == ""
}

func (p *Profile) decode(r *reader) {
	p.AuthorID = r.str("author")
	p.EditedAt = r.time("edited_at")
	p.FullName = r.str("full_name")
	p.FirstName = r.str("first_name")
	p.LastName = r.str("last_name")
	p.ImageURL = r.str("image_url")
	p.ImageURLMedium = r.str("image_url_medium")
	p.ImageURLSmall = r.str("image_url_small")
	p.Bio = r.str("bio")
	p.Birthday = r.str("birthday")
	p.Gender = r.str("gender")
	p.Location = r.str("location")
	p.Searchable = r.boolean("searchable", true)
	p.Public = r.boolean("public", false)
	p.NSFW = r.boolean("nsfw", false)
	p.TagString = r.str("tag_string")
}

func (p *Profile) encode() *node {
	return newBuilder(p.Type()).str("author", p.AuthorID).time("edited_at", p.EditedAt).
		opt("full_name", p.FullName).opt("first_name", p.FirstName).opt("last_name", p.LastName).
		opt("image_url", p.ImageURL).opt("image_url_medium", p.ImageURLMedium).opt("image_url_small", p.ImageURLSmall).
		opt("bio", p.Bio).opt("birthday", p.Birthday).opt("gender", p.Gender).opt("location", p.Location).
		boolean("searchable", p.Searchable).boolean("public", p.Public).boolean("nsfw", p.NSFW).
		opt("tag_string", p.TagString).n
}

func (p *Profile) validate() error {
	c := &checker{typ: p.Type()}
	c.diasporaID("author", p.AuthorID, true)
	c.name("full_name", p.FullName, 70)
	c.name("first_name", p.FirstName, 32)
	c.name("last_name", p.LastName, 32)
	c.uriWithPath("image_url", p.ImageURL)
	c.uriWithPath("image_url_medium", p.ImageURLMedium)
	c.uriWithPath("image_url_small", p.ImageURLSmall)
	c.maxLen("bio", p.Bio, MaxText)
	if p.Birthday != "" {
		m := birthdayRE.FindString(p.Birthday)
		if _, err := time.Parse("2006-01-02", m); m == "" || err != nil {
			c.fail("birthday", "invalid date %q", trunc(p.Birthday))
		}
	}
	c.maxLen("gender", p.Gender, MaxString)
	c.maxLen("location", p.Location, MaxString)
	if strings.Count(p.TagString, "#") > 5 {
		c.fail("tag_string", "more than 5 tags")
	}
	return c.err
}

// Reshare re-publishes a public post; RootAuthorID/RootID are both empty
// for a reshare of a deleted post.
type Reshare struct {
	AuthorID     string
	ID           string
	CreatedAt    time.Time
	RootAuthorID string
	RootID       string
}

func (*Reshare) Type() string         { return "reshare" }
func (s *Reshare) Author() string     { return s.AuthorID }
func (s *Reshare) GUID() string       { return s.ID }
func (s *Reshare) RootAuthor() string { return s.RootAuthorID }
func (s *Reshare) RootGUID() string   { return s.RootID }
func (s *Reshare) decode(r *reader) {
	s.AuthorID, s.ID, s.CreatedAt = r.str("author"), r.str("guid"), r.time("created_at")
	s.RootAuthorID, s.RootID = r.str("root_author"), r.str("root_guid")
}
func (s *Reshare) encode() *node {
	return newBuilder(s.Type()).str("author", s.AuthorID).str("guid", s.ID).time("created_at", s.CreatedAt).
		opt("root_author", s.RootAuthorID).opt("root_guid", s.RootID).n
}
func (s *Reshare) validate() error {
	c := &checker{typ: s.Type()}
	c.diasporaID("author", s.AuthorID, true)
	c.guid("guid", s.ID, true)
	c.diasporaID("root_author", s.RootAuthorID, false)
	c.guid("root_guid", s.RootID, false)
	if (s.RootAuthorID == "") != (s.RootID == "") {
		c.fail("root_guid", "root_author and root_guid must be both present or both absent")
	}
	return c.err
}

// Participation asks the parent's pod for future interactions (not
// relayable).
type Participation struct {
	AuthorID       string
	ID             string
	Parent         string // parent GUID
	ParentTypeName string // always "Post"
}

func (*Participation) Type() string         { return "participation" }
func (p *Participation) Author() string     { return p.AuthorID }
func (p *Participation) GUID() string       { return p.ID }
func (p *Participation) ParentGUID() string { return p.Parent }
func (p *Participation) ParentType() string { return p.ParentTypeName }
func (p *Participation) decode(r *reader) {
	p.AuthorID, p.ID, p.Parent, p.ParentTypeName = r.str("author"), r.str("guid"), r.str("parent_guid"), r.str("parent_type")
}
func (p *Participation) encode() *node {
	return newBuilder(p.Type()).str("author", p.AuthorID).str("guid", p.ID).
		str("parent_guid", p.Parent).str("parent_type", p.ParentTypeName).n
}
func (p *Participation) validate() error {
	c := &checker{typ: p.Type()}
	c.diasporaID("author", p.AuthorID, true)
	c.guid("guid", p.ID, true)
	c.guid("parent_guid", p.Parent, true)
	if p.ParentTypeName != "Post" {
		c.fail("parent_type", "must be Post, got %q", trunc(p.ParentTypeName))
	}
	return c.err
}

// Contact starts, stops or blocks sharing (bare <contact> = start sharing).
type Contact struct {
	AuthorID  string
	Recipient string
	Following bool // default true
	Sharing   bool // default true
	Blocking  bool
}

func (*Contact) Type() string     { return "contact" }
func (c *Contact) Author() string { return c.AuthorID }
func (c *Contact) decode(r *reader) {
	c.AuthorID, c.Recipient = r.str("author"), r.str("recipient")
	c.Following, c.Sharing, c.Blocking = r.boolean("following", true), r.boolean("sharing", true), r.boolean("blocking", false)
}
func (c *Contact) encode() *node {
	return newBuilder(c.Type()).str("author", c.AuthorID).str("recipient", c.Recipient).
		boolean("following", c.Following).boolean("sharing", c.Sharing).boolean("blocking", c.Blocking).n
}
func (c *Contact) validate() error {
	k := &checker{typ: c.Type()}
	k.diasporaID("author", c.AuthorID, true)
	k.diasporaID("recipient", c.Recipient, true)
	if c.Blocking && (c.Following || c.Sharing) {
		k.fail("blocking", "blocking with following or sharing")
	}
	return k.err
}

// Conversation starts a private conversation; Messages normally holds
// exactly the first message.
type Conversation struct {
	AuthorID     string
	ID           string
	Subject      string
	CreatedAt    time.Time
	Participants []string
	Messages     []*Message
}

func (*Conversation) Type() string     { return "conversation" }
func (c *Conversation) Author() string { return c.AuthorID }
func (c *Conversation) GUID() string   { return c.ID }
func (c *Conversation) decode(r *reader) {
	c.AuthorID, c.ID, c.Subject, c.CreatedAt = r.str("author"), r.str("guid"), r.str("subject"), r.time("created_at")
	if s := r.str("participants"); s != "" {
		c.Participants = strings.Split(s, ";")
	}
	for _, n := range r.nestedAll("message") {
		m := &Message{}
		r.sub(n, m)
		c.Messages = append(c.Messages, m)
	}
}
func (c *Conversation) encode() *node {
	b := newBuilder(c.Type()).str("author", c.AuthorID).str("guid", c.ID).str("subject", c.Subject).
		time("created_at", c.CreatedAt).str("participants", strings.Join(c.Participants, ";"))
	for _, m := range c.Messages {
		b.sub(m, true)
	}
	return b.n
}
func (c *Conversation) validate() error {
	k := &checker{typ: c.Type()}
	k.diasporaID("author", c.AuthorID, true)
	k.guid("guid", c.ID, true)
	k.required("subject", c.Subject)
	k.maxLen("subject", c.Subject, MaxString)
	if len(c.Participants) < 2 {
		k.fail("participants", "%d participants, need at least 2", len(c.Participants))
	}
	for _, p := range c.Participants {
		k.diasporaID("participants", p, true)
	}
	for _, m := range c.Messages {
		if m == nil {
			k.fail("message", "nil message")
			continue
		}
		k.sub(m)
		if m.AuthorID != c.AuthorID {
			k.fail("message", "message author %q differs from conversation author", trunc(m.AuthorID))
		}
	}
	return k.err
}

// Message is one message of a Conversation.
type Message struct {
	AuthorID         string
	ID               string
	Text             string
	CreatedAt        time.Time
	EditedAt         time.Time
	ConversationGUID string
}

func (*Message) Type() string     { return "message" }
func (m *Message) Author() string { return m.AuthorID }
func (m *Message) GUID() string   { return m.ID }
func (m *Message) decode(r *reader) {
	m.AuthorID, m.ID, m.Text = r.str("author"), r.str("guid"), r.str("text")
	m.CreatedAt, m.EditedAt, m.ConversationGUID = r.time("created_at"), r.time("edited_at"), r.str("conversation_guid")
}
func (m *Message) encode() *node {
	return newBuilder(m.Type()).str("author", m.AuthorID).str("guid", m.ID).str("text", m.Text).
		time("created_at", m.CreatedAt).time("edited_at", m.EditedAt).str("conversation_guid", m.ConversationGUID).n
}
func (m *Message) validate() error {
	c := &checker{typ: m.Type()}
	c.diasporaID("author", m.AuthorID, true)
	c.guid("guid", m.ID, true)
	c.required("text", m.Text)
	c.maxLen("text", m.Text, MaxText)
	c.guid("conversation_guid", m.ConversationGUID, true)
	return c.err
}

// Retraction deletes the target entity.
type Retraction struct {
	AuthorID       string
	Target         string // target GUID
	TargetTypeName string // Post, Comment, Like, PollParticipation, Participation, Photo, …
}

func (*Retraction) Type() string         { return "retraction" }
func (t *Retraction) Author() string     { return t.AuthorID }
func (t *Retraction) TargetGUID() string { return t.Target }
func (t *Retraction) TargetType() string { return t.TargetTypeName }
func (t *Retraction) decode(r *reader) {
	t.AuthorID, t.Target, t.TargetTypeName = r.str("author"), r.str("target_guid"), r.str("target_type")
}
func (t *Retraction) encode() *node {
	return newBuilder(t.Type()).str("author", t.AuthorID).str("target_guid", t.Target).str("target_type", t.TargetTypeName).n
}
func (t *Retraction) validate() error {
	c := &checker{typ: t.Type()}
	c.diasporaID("author", t.AuthorID, true)
	c.guid("target_guid", t.Target, true)
	c.required("target_type", t.TargetTypeName)
	c.maxLen("target_type", t.TargetTypeName, MaxString)
	return c.err
}

// AccountDeletion announces that the author's account is closed.
type AccountDeletion struct {
	AuthorID string
}

func (*AccountDeletion) Type() string       { return "account_deletion" }
func (a *AccountDeletion) Author() string   { return a.AuthorID }
func (a *AccountDeletion) decode(r *reader) { a.AuthorID = r.str("author") }
func (a *AccountDeletion) encode() *node    { return newBuilder(a.Type()).str("author", a.AuthorID).n }
func (a *AccountDeletion) validate() error {
	c := &checker{typ: a.Type()}
	c.diasporaID("author", a.AuthorID, true)
	return c.err
}
