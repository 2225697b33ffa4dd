package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"seedpod/pod/relay/public"
	"seedpod/pod/store"
)

// directory is public.Directory on the relay database.
type directory struct{ db *store.DB }

func (d directory) ByUsername(ctx context.Context, username string) (public.Identity, bool, error) {
	return d.one(ctx, "username", username)
}

func (d directory) ByGUID(ctx context.Context, guid string) (public.Identity, bool, error) {
	return d.one(ctx, "guid", guid)
}

func (d directory) one(ctx context.Context, col, v string) (public.Identity, bool, error) {
	var idn public.Identity
	var profile string
	// col is one of two constants above, never user input.
	err := d.db.R.QueryRowContext(ctx, "SELECT username, guid, public_key, profile, moved_to FROM identities WHERE "+col+" = ?", v).
		Scan(&idn.Username, &idn.GUID, &idn.PublicKeyPEM, &profile, &idn.MovedTo)
	if errors.Is(err, sql.ErrNoRows) {
		return public.Identity{}, false, nil
	}
	if err != nil {
		return public.Identity{}, false, fmt.Errorf("identity by %s: %w", col, err)
	}
	if err := json.Unmarshal([]byte(profile), &idn.Profile); err != nil {
		return public.Identity{}, false, fmt.Errorf("identity %s: stored profile: %w", idn.Username, err)
	}
	return idn, true, nil
}

func (d directory) Count(ctx context.Context) (int, error) {
	var n int
	err := d.db.R.QueryRowContext(ctx, "SELECT count(*) FROM identities").Scan(&n)
	return n, err
}
