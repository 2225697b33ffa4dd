package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
)

func devicesRig(t *testing.T, name string, sync bool) *apiRig {
	t.Helper()
	cfg := pod.Config{DataDir: filepath.Join(t.TempDir(), name), KeyBits: 1024, Version: "test"}
	if sync {
		cfg.Sync = &pod.SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: name}
	}
	p, err := pod.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(p, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return &apiRig{t: t, pod: p, srv: srv}
}

// The devices routes over HTTP: pairing a laptop with the desktop's code,
// both devices listed, renaming, revoking, and every refusal.
func TestDeviceRoutes(t *testing.T) {
	desktop := devicesRig(t, "desktop", true)
	laptop := devicesRig(t, "laptop", true)
	off := devicesRig(t, "off", false)

	var list devicesAnswer
	off.json("GET", APIPrefix+"/devices", nil, http.StatusOK, &list)
	if list.Sync.On || len(list.Devices) != 1 || !list.Devices[0].This {
		t.Fatalf("devices with sync off: %+v", list)
	}
	off.json("POST", APIPrefix+"/devices/pair", nil, http.StatusConflict, nil)
	// No identity yet: nothing to hand a new device.
	desktop.json("POST", APIPrefix+"/devices/pair", nil, http.StatusConflict, nil)
	desktop.json("DELETE", APIPrefix+"/devices/pair", nil, http.StatusNotFound, nil)
	desktop.withIdentity()
	var id pod.Identity
	for range 500 {
		desktop.json("GET", APIPrefix+"/identity", nil, http.StatusOK, &id)
		if id.Key.State == "ready" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var code pod.PairingCode
	desktop.json("POST", APIPrefix+"/devices/pair", nil, http.StatusCreated, &code)
	desktop.json("GET", APIPrefix+"/devices", nil, http.StatusOK, &list)
	if !list.Sync.On || list.Sync.Pairing == nil || list.Sync.PeerID == "" || len(list.Sync.Addrs) == 0 {
		t.Fatalf("sync status while pairing: %+v", list.Sync)
	}
	for _, c := range []struct {
		name string
		body any
		want int
	}{
		{"not JSON", "code", http.StatusUnprocessableEntity},
		{"garbled code", map[string]string{"code": "seedpod-pair:1:x"}, http.StatusUnprocessableEntity},
		{"a code with a typo", map[string]string{"code": strings.Replace(code.Code, "seedpod-pair:1:12D3", "seedpod-pair:1:12D4", 1)}, http.StatusUnprocessableEntity},
	} {
		if st, _, b := laptop.do("POST", APIPrefix+"/devices/join", c.body); st != c.want {
			t.Errorf("join, %s: %d %s, want %d", c.name, st, b, c.want)
		}
	}
	var joined pod.JoinResult
	laptop.json("POST", APIPrefix+"/devices/join", map[string]string{"code": code.Code}, http.StatusCreated, &joined)
	if joined.Handle != id.Handle {
		t.Fatalf("joined %+v, identity %+v", joined, id)
	}
	laptop.json("POST", APIPrefix+"/devices/join", map[string]string{"code": code.Code}, http.StatusConflict, nil)
	desktop.json("POST", APIPrefix+"/devices/join", map[string]string{"code": code.Code}, http.StatusConflict, nil)

	var laptopKey string
	for range 500 {
		list = devicesAnswer{}
		desktop.json("GET", APIPrefix+"/devices", nil, http.StatusOK, &list)
		if len(list.Devices) == 2 && list.Devices[1].Connected && list.Sync.Pairing == nil {
			laptopKey = list.Devices[1].Key
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if laptopKey == "" || list.Devices[1].Name != "laptop" || list.Sync.Pairing != nil {
		t.Fatalf("the desktop's devices after pairing: %+v", list)
	}
	desktop.json("PATCH", APIPrefix+"/devices/"+laptopKey, map[string]string{"name": "Travel laptop"}, http.StatusNoContent, nil)
	desktop.json("PATCH", APIPrefix+"/devices/"+laptopKey, map[string]string{"name": ""}, http.StatusUnprocessableEntity, nil)
	desktop.json("PATCH", APIPrefix+"/devices/"+strings.Repeat("0", 64), map[string]string{"name": "x"}, http.StatusNotFound, nil)
	desktop.json("DELETE", APIPrefix+"/devices/"+list.Devices[0].Key, nil, http.StatusUnprocessableEntity, nil)
	desktop.json("DELETE", APIPrefix+"/devices/nothex", nil, http.StatusUnprocessableEntity, nil)
	// The name reaches the laptop by sync.
	for range 500 {
		list = devicesAnswer{}
		laptop.json("GET", APIPrefix+"/devices", nil, http.StatusOK, &list)
		if len(list.Devices) == 2 && list.Devices[0].Name == "Travel laptop" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if list.Devices[0].Name != "Travel laptop" || !list.Devices[0].This {
		t.Fatalf("the laptop's devices after the rename: %+v", list.Devices)
	}
	desktop.json("DELETE", APIPrefix+"/devices/"+laptopKey, nil, http.StatusNoContent, nil)
	desktop.json("GET", APIPrefix+"/devices", nil, http.StatusOK, &list)
	if !list.Devices[1].Revoked {
		t.Fatalf("after revoking: %+v", list.Devices)
	}
}
