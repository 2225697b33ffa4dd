package pod

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"seedpod/pod/apiv1"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// The own profile (GET/PATCH /user). Scalars are LWW fields (profile/*);
// the bio is a multi-value register (profile/bio): a write supersedes
// every version it saw, so edits made on two devices at once both stay
// until the next write; v1 shows the newest and the Seedpod extension
// lists them all.

// Profile limits, as diaspora's Profile model validates them (first and
// last name ≤ 32 characters without ';', which would break mentions;
// location and gender ≤ 255); the bio is bounded by the federation's text
// limit.
const (
	MaxProfileName     = 32
	MaxProfileLocation = 255
	MaxProfileGender   = 255
	MaxProfileBio      = 65535
	MaxProfileTags     = 5
)

const bioRegister = "profile/bio"

// OwnProfile reads the own profile as v1 shows it.
func (p *Pod) OwnProfile(ctx context.Context) (apiv1.OwnProfile, error) {
	return ownProfileIn(ctx, p.db.R)
}

func ownProfileIn(ctx context.Context, q store.Querier) (apiv1.OwnProfile, error) {
	me, err := peopleReadMe(ctx, q)
	if err != nil {
		return apiv1.OwnProfile{}, err
	}
	if !me.Exists() {
		return apiv1.OwnProfile{}, fmt.Errorf("%w: create the identity first", ErrNoIdentity)
	}
	f := map[string]string{}
	for _, k := range []string{"first_name", "last_name", "location", "gender", "birthday", "tags", "searchable",
		"nsfw", "public_details"} {
		if f[k], err = store.Field(ctx, q, "profile/"+k); err != nil {
			return apiv1.OwnProfile{}, err
		}
	}
	out := apiv1.OwnProfile{GUID: me.GUID, DiasporaID: me.Handle(), Name: joinName(f["first_name"], f["last_name"]),
		Searchable: f["searchable"] != "false", NSFW: f["nsfw"] == "true", ShowProfileInfo: f["public_details"] == "true"}
	if out.Avatar, err = peopleOwnAvatar(ctx, q); err != nil {
		return apiv1.OwnProfile{}, err
	}
	if f["tags"] != "" {
		_ = json.Unmarshal([]byte(f["tags"]), &out.Tags)
	}
	out.Location = f["location"]
	if g := f["gender"]; g != "" {
		out.Gender = &g
	}
	if d, err := apiv1.ParseDate(f["birthday"]); err == nil {
		out.Birthday = d
	}
	vs, err := store.RegisterVersions(ctx, q, bioRegister)
	if err != nil {
		return apiv1.OwnProfile{}, err
	}
	if v, ok := newestBio(vs); ok {
		out.Bio = v.Value
	}
	return out, nil
}

// newestBio is the newest live version that is not a delete.
func newestBio(vs []store.RegVersion) (store.RegVersion, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].Deleted {
			return vs[i], true
		}
	}
	return store.RegVersion{}, false
}

// ProfileUpdate is a PATCH /user body: nil fields are left alone.
type ProfileUpdate struct {
	Bio, Birthday, Gender, Location, Name *string
	NSFW, Searchable, ShowProfileInfo     *bool
	Tags                                  *[]string
}

// DecodeProfileUpdate reads a PATCH /user body (API.md §3.8): unknown keys
// and guid are ignored, an id key is refused, a value of the wrong type is
// refused; null clears a text field.
func DecodeProfileUpdate(body map[string]json.RawMessage) (ProfileUpdate, error) {
	var u ProfileUpdate
	if _, ok := body["id"]; ok {
		return u, fmt.Errorf("%w: the profile's id cannot be changed", ErrInvalid)
	}
	str := func(key string, dst **string) error {
		raw, ok := body[key]
		if !ok {
			return nil
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%w: %s must be a string", ErrInvalid, key)
		}
		if s == nil {
			s = new(string)
		}
		*dst = s
		return nil
	}
	boolean := func(key string, dst **bool) error {
		raw, ok := body[key]
		if !ok || string(raw) == "null" {
			return nil
		}
		var b apiv1.Bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("%w: %s must be true or false", ErrInvalid, key)
		}
		v := bool(b)
		*dst = &v
		return nil
	}
	for _, e := range []error{
		str("bio", &u.Bio), str("birthday", &u.Birthday), str("gender", &u.Gender), str("location", &u.Location),
		str("name", &u.Name), boolean("nsfw", &u.NSFW), boolean("searchable", &u.Searchable),
		boolean("show_profile_info", &u.ShowProfileInfo),
	} {
		if e != nil {
			return u, e
		}
	}
	if raw, ok := body["tags"]; ok {
		var tags []string
		if err := json.Unmarshal(raw, &tags); err != nil {
			return u, fmt.Errorf("%w: tags must be a list of strings", ErrInvalid)
		}
		if tags == nil {
			tags = []string{}
		}
		u.Tags = &tags
	}
	return u, nil
}

// profileFieldWrite is one field the update sets.
type profileFieldWrite struct{ key, value string }

// UpdateProfile applies a PATCH /user: every value is checked first, then
// each field that changes is written (SetField; the bio a DraftWrite that
// supersedes every version seen). Nothing is written when anything is
// refused.
func (p *Pod) UpdateProfile(ctx context.Context, u ProfileUpdate) (apiv1.OwnProfile, error) {
	var writes []profileFieldWrite
	if u.Name != nil {
		name := strings.TrimSpace(*u.Name)
		if err := checkText("name", name, MaxProfileName); err != nil {
			return apiv1.OwnProfile{}, err
		}
		if strings.ContainsAny(name, ";\n\r\t") {
			return apiv1.OwnProfile{}, fmt.Errorf("%w: a name cannot hold ';' or line breaks", ErrInvalid)
		}
		writes = append(writes, profileFieldWrite{"profile/first_name", name}, profileFieldWrite{"profile/last_name", ""})
	}
	if u.Birthday != nil {
		b := strings.TrimSpace(*u.Birthday)
		if b != "" {
			d, err := apiv1.ParseDate(b)
			if err != nil {
				return apiv1.OwnProfile{}, fmt.Errorf("%w: birthday must be a date as YYYY-MM-DD", ErrInvalid)
			}
			b = d.String()
		}
		writes = append(writes, profileFieldWrite{"profile/birthday", b})
	}
	for _, t := range []struct {
		key  string
		v    *string
		max  int
		what string
	}{{"profile/gender", u.Gender, MaxProfileGender, "gender"}, {"profile/location", u.Location, MaxProfileLocation, "location"}} {
		if t.v == nil {
			continue
		}
		v := strings.TrimSpace(*t.v)
		if err := checkText(t.what, v, t.max); err != nil {
			return apiv1.OwnProfile{}, err
		}
		writes = append(writes, profileFieldWrite{t.key, v})
	}
	for _, b := range []struct {
		key string
		v   *bool
	}{{"profile/nsfw", u.NSFW}, {"profile/searchable", u.Searchable}, {"profile/public_details", u.ShowProfileInfo}} {
		if b.v != nil {
			writes = append(writes, profileFieldWrite{b.key, fmt.Sprint(*b.v)})
		}
	}
	if u.Tags != nil {
		if len(*u.Tags) > MaxProfileTags {
			return apiv1.OwnProfile{}, fmt.Errorf("%w: a profile has at most %d tags", ErrInvalid, MaxProfileTags)
		}
		tags := []string{}
		for _, raw := range *u.Tags {
			t, err := NormalizeTag(raw)
			if err != nil {
				return apiv1.OwnProfile{}, err
			}
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		b, _ := json.Marshal(tags)
		writes = append(writes, profileFieldWrite{"profile/tags", string(b)})
	}
	if u.Bio != nil {
		if err := checkText("bio", *u.Bio, MaxProfileBio); err != nil {
			return apiv1.OwnProfile{}, err
		}
	}
	var out apiv1.OwnProfile
	err := p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if !me.Exists() {
			return fmt.Errorf("%w: create the identity first", ErrNoIdentity)
		}
		for _, f := range writes {
			cur, err := store.Field(ctx, w, f.key)
			if err != nil {
				return err
			}
			if cur == f.value {
				continue
			}
			if _, err := w.Append(oplog.SetField{Key: f.key, Value: f.value}); err != nil {
				return err
			}
		}
		if u.Bio != nil {
			vs, err := store.RegisterVersions(ctx, w, bioRegister)
			if err != nil {
				return err
			}
			if !(len(vs) == 1 && !vs[0].Deleted && vs[0].Value == *u.Bio) && !(len(vs) == 0 && *u.Bio == "") {
				if _, err := w.Append(oplog.DraftWrite{Register: bioRegister, Value: *u.Bio, Pred: store.Preds(vs)}); err != nil {
					return err
				}
			}
		}
		out, err = ownProfileIn(ctx, w)
		return err
	})
	return out, err
}

// BioVersion is one live version of the bio register.
type BioVersion struct {
	Version   string     `json:"version"` // the write's op id (device hex:epoch hex:seq)
	Bio       string     `json:"bio"`
	UpdatedAt apiv1.Time `json:"updated_at"`
	Device    string     `json:"device"` // the writing device's key, hex
}

// BioVersions lists the live versions of the bio, oldest first; more than
// one means edits on several devices that no write has merged yet (v1
// shows the newest, the last).
func (p *Pod) BioVersions(ctx context.Context) ([]BioVersion, error) {
	vs, err := store.RegisterVersions(ctx, p.db.R, bioRegister)
	if err != nil {
		return nil, err
	}
	out := []BioVersion{}
	for _, v := range vs {
		if v.Deleted {
			continue
		}
		out = append(out, BioVersion{Version: v.ID.Key(), Bio: v.Value, UpdatedAt: apiv1.NewTime(time.UnixMilli(v.At).UTC()),
			Device: fmt.Sprintf("%x", []byte(v.ID.Log.Device))})
	}
	return out, nil
}
