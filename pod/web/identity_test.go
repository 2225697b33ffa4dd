package web

import (
	"net/http"
	"testing"
	"time"

	"seedpod/pod"
)

func TestIdentityCreateAndKeyGeneration(t *testing.T) {
	r := newAPIRig(t)
	var id pod.Identity
	r.json("GET", APIPrefix+"/identity", nil, http.StatusOK, &id)
	if id.Exists || id.Key.State != "none" {
		t.Fatalf("fresh pod: %+v", id)
	}
	for _, bad := range []struct {
		body any
		want int
	}{
		{`{"name":"A","username":"Bad Name"}`, 422},
		{`{"name":"A","username":""}`, 422},
		{`{"name":"A","username":"` + string(make([]byte, 40)) + `"}`, 422},
		{`not json`, 422},
		{`{"name":"A\u0000","username":"alice"}`, 422},
	} {
		if st, _, b := r.do("POST", APIPrefix+"/identity", bad.body); st != bad.want {
			t.Errorf("POST %v: %d %s, want %d", bad.body, st, b, bad.want)
		}
	}
	r.json("POST", APIPrefix+"/identity", map[string]string{"name": "Alice", "username": "alice"}, http.StatusCreated, &id)
	if !id.Exists || id.Username != "alice" || id.Handle != "alice@localhost" || id.Name != "Alice" || len(id.GUID) != 32 {
		t.Fatalf("created: %+v", id)
	}
	if id.Key.State != "generating" && id.Key.State != "ready" {
		t.Fatalf("key state after create: %+v", id.Key)
	}
	r.json("POST", APIPrefix+"/identity", map[string]string{"name": "Alice", "username": "alice"}, http.StatusConflict, nil)
	deadline := time.Now().Add(30 * time.Second)
	for id.Key.State != "ready" {
		if time.Now().After(deadline) || id.Key.State == "failed" {
			t.Fatalf("key never ready: %+v", id.Key)
		}
		time.Sleep(20 * time.Millisecond)
		r.json("GET", APIPrefix+"/identity", nil, http.StatusOK, &id)
	}
	if len(id.Key.Fingerprint) != 64 || id.Key.Progress != 1 {
		t.Fatalf("ready key: %+v", id.Key)
	}
	// The RSA key never enters the op log.
	var n int
	if err := r.pod.DB().R.QueryRow("SELECT count(*) FROM ops WHERE instr(bytes, 'PRIVATE KEY') > 0").Scan(&n); err != nil || n != 0 {
		t.Fatalf("ops holding key material: %d %v", n, err)
	}
}
