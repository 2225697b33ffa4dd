package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// PersonRecord is the payload of a received "person" record: what
// discovery (WebFinger + hCard) found about someone, so every device knows
// the same people. The newest record of a handle (FetchedAt, then payload
// hash) wins, merged with their profile entities by time.
type PersonRecord struct {
	GUID          string   `json:"guid"`
	DiasporaID    string   `json:"diaspora_id"`
	PublicKey     string   `json:"public_key"` // PEM
	FirstName     string   `json:"first_name,omitempty"`
	LastName      string   `json:"last_name,omitempty"`
	AvatarSmall   string   `json:"avatar_small,omitempty"`
	AvatarMedium  string   `json:"avatar_medium,omitempty"`
	AvatarLarge   string   `json:"avatar_large,omitempty"`
	Bio           string   `json:"bio,omitempty"`
	Location      string   `json:"location,omitempty"`
	Gender        string   `json:"gender,omitempty"`
	Birthday      string   `json:"birthday,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	Searchable    bool     `json:"searchable"`
	NSFW          bool     `json:"nsfw,omitempty"`
	PublicDetails bool     `json:"public_details,omitempty"`
	FetchedAt     int64    `json:"fetched_at"` // ms
}

// Encode is the record's payload and the guid of its received op
// ("person:" and the payload's SHA-256).
func (p PersonRecord) Encode() (payload []byte, guid string, err error) {
	p.DiasporaID = strings.ToLower(p.DiasporaID)
	if p.GUID == "" || !strings.Contains(p.DiasporaID, "@") {
		return nil, "", fmt.Errorf("person record: guid %q, diaspora_id %q", p.GUID, p.DiasporaID)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(b)
	return b, "person:" + hex.EncodeToString(h[:]), nil
}

// DecodePersonRecord parses a "person" payload.
func DecodePersonRecord(b []byte) (PersonRecord, error) {
	var p PersonRecord
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("person record: %w", err)
	}
	if p.GUID == "" || !strings.Contains(p.DiasporaID, "@") {
		return p, fmt.Errorf("person record: guid %q, diaspora_id %q", p.GUID, p.DiasporaID)
	}
	return p, nil
}
