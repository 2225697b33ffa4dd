package pod

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// Settings the user's devices share (GET/PATCH /api/seedpod/v1/settings).
// Each is a last-writer-wins field under settings/ (docs/data-model.md), one
// field per notification type, so two devices changing different types at
// the same time both keep their change. An unset field is the default:
// OS notifications on, every type on.

// Setting keys.
const (
	// SettingNotifyOS is "true" / "false": show OS notifications at all.
	SettingNotifyOS = "settings/notifications/os"
	// settingNotifyTypePrefix + type is "true" / "false" for one type.
	settingNotifyTypePrefix = "settings/notifications/type/"
)

// NotifyConversation is the settings type of new private messages (they
// have no v1 notification type).
const NotifyConversation = "conversation"

// NotifyTypes are the types the notification settings know: the v1
// notification types, then "conversation".
func NotifyTypes() []string {
	return append(slices.Clone(store.NotificationTypes), NotifyConversation)
}

// SettingNotifyType is the field of one notification type.
func SettingNotifyType(typ string) string { return settingNotifyTypePrefix + typ }

// Settings are the synced settings.
type Settings struct {
	Notifications NotificationSettings `json:"notifications"`
}

// NotificationSettings say which notifications the OS shows.
type NotificationSettings struct {
	// OS turns OS notifications on or off as a whole.
	OS bool `json:"os"`
	// Types are the types that are on, in NotifyTypes order.
	Types []string `json:"types"`
}

// Wants reports whether a notification of type typ should reach the OS.
func (n NotificationSettings) Wants(typ string) bool {
	return n.OS && slices.Contains(n.Types, typ)
}

// Settings reads the synced settings.
func (p *Pod) Settings(ctx context.Context) (Settings, error) {
	return readSettings(ctx, p.db.R)
}

type fieldReader interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readSettings(ctx context.Context, q fieldReader) (Settings, error) {
	s := Settings{Notifications: NotificationSettings{Types: []string{}}}
	os, err := store.Field(ctx, q, SettingNotifyOS)
	if err != nil {
		return s, err
	}
	s.Notifications.OS = os != "false"
	for _, t := range NotifyTypes() {
		v, err := store.Field(ctx, q, SettingNotifyType(t))
		if err != nil {
			return s, err
		}
		if v != "false" {
			s.Notifications.Types = append(s.Notifications.Types, t)
		}
	}
	return s, nil
}

// SettingsPatch is a decoded JSON merge patch (RFC 7396) of Settings.
type SettingsPatch struct {
	// SetOS says the patch names os: OS is the value, nil (JSON null)
	// for the default.
	SetOS bool
	OS    *bool
	// SetTypes says the patch names types: Types is the new list (empty:
	// none), nil (JSON null) for the default (all).
	SetTypes bool
	Types    []string
}

// maxPatchTypes bounds the types list of a patch (duplicates included).
const maxPatchTypes = 64

// DecodeSettingsPatch reads a JSON merge patch of Settings. Unknown keys,
// unknown types and values of the wrong JSON type are ErrInvalid, naming
// what is wrong; "notifications": null resets every notification
// setting.
func DecodeSettingsPatch(b []byte) (SettingsPatch, error) {
	var p SettingsPatch
	top, err := patchObject(b, "the patch")
	if err != nil {
		return p, err
	}
	for k, v := range top {
		if k != "notifications" {
			return p, fmt.Errorf("%w: unknown setting %q (the settings are: notifications)", ErrInvalid, k)
		}
		if isNull(v) {
			p.SetOS, p.SetTypes = true, true
			continue
		}
		n, err := patchObject(v, "notifications")
		if err != nil {
			return p, err
		}
		for k, v := range n {
			switch k {
			case "os":
				p.SetOS = true
				if isNull(v) {
					continue
				}
				var on bool
				if err := json.Unmarshal(v, &on); err != nil {
					return p, fmt.Errorf("%w: notifications.os must be true, false or null", ErrInvalid)
				}
				p.OS = &on
			case "types":
				p.SetTypes = true
				if isNull(v) {
					continue
				}
				var types []string
				if err := json.Unmarshal(v, &types); err != nil || types == nil {
					return p, fmt.Errorf("%w: notifications.types must be a list of type names or null", ErrInvalid)
				}
				if len(types) > maxPatchTypes {
					return p, fmt.Errorf("%w: notifications.types has %d entries; there are %d types", ErrInvalid,
						len(types), len(NotifyTypes()))
				}
				p.Types = []string{}
				for _, t := range types {
					if !slices.Contains(NotifyTypes(), t) {
						return p, fmt.Errorf("%w: unknown notification type %q (the types are %s)", ErrInvalid, t,
							strings.Join(NotifyTypes(), ", "))
					}
					if !slices.Contains(p.Types, t) {
						p.Types = append(p.Types, t)
					}
				}
			default:
				return p, fmt.Errorf("%w: unknown setting notifications.%s (the settings are: os, types)", ErrInvalid, k)
			}
		}
	}
	return p, nil
}

// patchObject decodes one JSON object of a patch into its members.
func patchObject(b []byte, what string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, what)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s has data after the JSON object", ErrInvalid, what)
	}
	return m, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// PatchSettings applies a merge patch and returns the settings after it.
// Only fields whose value changes are written, each as its own SetField
// op, so they reach the user's other devices.
func (p *Pod) PatchSettings(ctx context.Context, patch SettingsPatch) (Settings, error) {
	var out Settings
	err := p.log.Write(ctx, func(w *store.Writer) error {
		set := func(key, value string) error {
			old, err := store.Field(ctx, w, key)
			// "" (unset) and "true" mean the same: an explicit "true"
			// over the default is not worth an op.
			if err != nil || old == value || (old == "" && value == "true") {
				return err
			}
			_, err = w.Append(oplog.SetField{Key: key, Value: value})
			return err
		}
		if patch.SetOS {
			v := ""
			if patch.OS != nil {
				v = fmt.Sprint(*patch.OS)
			}
			if err := set(SettingNotifyOS, v); err != nil {
				return err
			}
		}
		if patch.SetTypes {
			for _, t := range NotifyTypes() {
				v := ""
				if patch.Types != nil {
					v = fmt.Sprint(slices.Contains(patch.Types, t))
				}
				if err := set(SettingNotifyType(t), v); err != nil {
					return err
				}
			}
		}
		var err error
		out, err = readSettings(ctx, w)
		return err
	})
	return out, err
}
