package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"seedpod/pod"
)

func allTypes() []string { return pod.NotifyTypes() }

func without(drop ...string) []string {
	var out []string
	for _, t := range pod.NotifyTypes() {
		if !slices.Contains(drop, t) {
			out = append(out, t)
		}
	}
	return out
}

func TestSettingsDefaultsAndOSService(t *testing.T) {
	r := newAPIRig(t)
	var v SettingsView
	r.json("GET", APIPrefix+"/settings", nil, http.StatusOK, &v)
	if !v.Notifications.OS || !slices.Equal(v.Notifications.Types, allTypes()) || v.OSService != OSServiceUnavailable {
		t.Fatalf("defaults %+v", v)
	}
	for _, want := range []string{"also_commented", "comment_on_post", "liked", "mentioned", "reshared",
		"started_sharing", "contacts_birthday", "conversation"} {
		if !slices.Contains(v.Notifications.Types, want) {
			t.Errorf("types %q lack %q", v.Notifications.Types, want)
		}
	}
	h := r.srv.Config.Handler.(*Server)
	h.SetOSService(OSServiceAvailable)
	r.json("GET", APIPrefix+"/settings", nil, http.StatusOK, &v)
	if v.OSService != OSServiceAvailable {
		t.Errorf("os_service %q after SetOSService", v.OSService)
	}
	if h.Pod() != r.pod {
		t.Error("Pod() is not the server's pod")
	}
	serve, err := New(r.pod, Options{Mode: ModeServe, Host: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	serve.SetOSService(OSServiceAvailable) // a serve process has no window: ignored
	if got := serve.osServiceState(); got != OSServiceNotInWindow {
		t.Errorf("serve mode os_service %q", got)
	}
}

func TestSettingsMergePatch(t *testing.T) {
	r := newAPIRig(t)
	steps := []struct {
		patch     string
		os        bool
		types     []string
		ops       int // ops the step adds
		wantTypes []string
	}{
		{patch: `{"notifications":{"os":false}}`, os: false, types: allTypes(), ops: 1},
		{patch: `{"notifications":{"types":["liked","conversation","liked"]}}`, os: false,
			types: []string{"liked", "conversation"}, ops: len(allTypes()) - 2},
		// Fields the patch leaves out stay.
		{patch: `{"notifications":{"os":true}}`, os: true, types: []string{"liked", "conversation"}, ops: 1},
		{patch: `{}`, os: true, types: []string{"liked", "conversation"}, ops: 0},
		{patch: `{"notifications":{}}`, os: true, types: []string{"liked", "conversation"}, ops: 0},
		// The same values again write nothing.
		{patch: `{"notifications":{"os":true,"types":["conversation","liked"]}}`, os: true,
			types: []string{"liked", "conversation"}, ops: 0},
		{patch: `{"notifications":{"types":[]}}`, os: true, types: []string{}, ops: 2},
		// null resets to the default.
		{patch: `{"notifications":{"types":null}}`, os: true, types: allTypes(), ops: len(allTypes())},
		{patch: `{"notifications":{"os":false,"types":["mentioned"]}}`, os: false, types: []string{"mentioned"},
			ops: 1 + len(allTypes()) - 1},
		{patch: `{"notifications":null}`, os: true, types: allTypes(), ops: 1 + len(allTypes()) - 1},
	}
	for i, st := range steps {
		before := r.opCount()
		var v SettingsView
		r.json("PATCH", APIPrefix+"/settings", st.patch, http.StatusOK, &v)
		if v.Notifications.OS != st.os || !slices.Equal(v.Notifications.Types, st.types) {
			t.Fatalf("step %d %s: got %+v, want os %v types %q", i, st.patch, v.Notifications, st.os, st.types)
		}
		if v.OSService != OSServiceUnavailable {
			t.Errorf("step %d: os_service %q", i, v.OSService)
		}
		var g SettingsView
		r.json("GET", APIPrefix+"/settings", nil, http.StatusOK, &g)
		if g.Notifications.OS != st.os || !slices.Equal(g.Notifications.Types, st.types) {
			t.Fatalf("step %d: GET after PATCH %+v", i, g.Notifications)
		}
		if n := r.opCount() - before; n != st.ops {
			t.Errorf("step %d %s: %d ops, want %d", i, st.patch, n, st.ops)
		}
	}
}

func TestSettingsPatchRefused(t *testing.T) {
	r := newAPIRig(t)
	tests := []struct{ name, body, want string }{
		{"unknown top key", `{"theme":"dark"}`, `unknown setting "theme"`},
		{"unknown notifications key", `{"notifications":{"sound":true}}`, "unknown setting notifications.sound"},
		{"unknown type", `{"notifications":{"types":["liked","poked"]}}`, `unknown notification type "poked"`},
		{"os not a bool", `{"notifications":{"os":"yes"}}`, "notifications.os must be"},
		{"types not a list", `{"notifications":{"types":"liked"}}`, "notifications.types must be"},
		{"type not a string", `{"notifications":{"types":[1]}}`, "notifications.types must be"},
		{"notifications not an object", `{"notifications":[]}`, "notifications must be a JSON object"},
		{"not an object", `[]`, "the patch must be a JSON object"},
		{"null patch", `null`, "the patch must be a JSON object"},
		{"not JSON", `{"notifications":`, "the patch must be a JSON object"},
		{"trailing data", `{} {}`, "data after the JSON object"},
		{"too many types", `{"notifications":{"types":[` + strings.Repeat(`"liked",`, 70) + `"liked"]}}`, "has 71 entries"},
		{"too big", `{"notifications":{"types":["` + strings.Repeat("x", 20<<10) + `"]}}`, "at most 16384 bytes"},
	}
	before := r.opCount()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e apiError
			r.json("PATCH", APIPrefix+"/settings", tc.body, http.StatusUnprocessableEntity, &e)
			if !strings.Contains(e.Message, tc.want) || e.Error != "invalid" {
				t.Errorf("error %+v, want %q", e, tc.want)
			}
		})
	}
	if n := r.opCount(); n != before {
		t.Errorf("refused patches wrote %d ops", n-before)
	}
	st, _, b := r.do("PATCH", APIPrefix+"/settings", nil)
	if st != http.StatusUnprocessableEntity {
		t.Errorf("empty body: %d %s", st, b)
	}
}

func TestSettingsPersistAndSync(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a")
	open := func(dir string) *pod.Pod {
		p, err := pod.Open(ctx, pod.Config{DataDir: dir, KeyBits: 1024})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := open(dir)
	h, err := New(a, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	r := &apiRig{t: t, pod: a}
	r.srv = httptest.NewServer(h)
	want := pod.NotificationSettings{OS: false, Types: without("liked", "reshared")}
	r.json("PATCH", APIPrefix+"/settings",
		map[string]any{"notifications": map[string]any{"os": false, "types": want.Types}}, http.StatusOK, nil)
	r.srv.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: the settings are still there.
	a = open(dir)
	defer a.Close()
	got, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Notifications.OS != want.OS || !slices.Equal(got.Notifications.Types, want.Types) {
		t.Fatalf("after reopen %+v, want %+v", got.Notifications, want)
	}

	// Another device: the ops, applied as sync does, give the same
	// settings there.
	b := open(filepath.Join(t.TempDir(), "b"))
	defer b.Close()
	ops, err := a.DB().Ops(ctx, a.Log().ID(), 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Log().Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	got, err = b.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Notifications.OS != want.OS || !slices.Equal(got.Notifications.Types, want.Types) {
		t.Fatalf("on the other device %+v, want %+v", got.Notifications, want)
	}
	// A later change on the other device wins back on the first (LWW).
	if _, err := b.PatchSettings(ctx, pod.SettingsPatch{SetOS: true, OS: new(true)}); err != nil {
		t.Fatal(err)
	}
	ops, err = b.DB().Ops(ctx, b.Log().ID(), 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Log().Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Settings(ctx); !got.Notifications.OS {
		t.Errorf("the other device's later os=true did not reach the first: %+v", got.Notifications)
	}
}
