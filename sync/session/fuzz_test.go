package session

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"seedpod/pod/oplog"
	"seedpod/sync/wire"
)

// FuzzSessionInput: whatever a peer sends after a valid Hello, the session
// never panics, ends by itself once the stream closes, and says why.
func FuzzSessionInput(f *testing.F) {
	p := newRawPeer(nil, nil, 7)
	ops := func(n int) []oplog.Signed {
		var out []oplog.Signed
		for i := range n {
			body, _ := oplog.EncodeBody(oplog.SetField{Key: "fuzz", Value: string(rune('a' + i))})
			_, s, err := p.log.Append(oplog.KindSetField, oplog.CurrentSchema, body)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	seed := func(msgs ...wire.Msg) []byte {
		var b []byte
		for _, m := range msgs {
			var err error
			if b, err = wire.AppendFrame(b, m); err != nil {
				f.Fatal(err)
			}
		}
		return b
	}
	o := ops(4)
	f.Add(seed(&wire.Batch{Ops: o[:2]}, &wire.Batch{Ops: o[3:]}))
	f.Add(seed(&wire.Want{Ranges: []wire.Range{{Log: p.id(), From: 1}}}, &wire.Ack{}))
	f.Add(seed(&wire.Fork{Log: p.id(), Seq: 1}, &wire.Bye{Code: wire.ByeDone}))
	f.Add([]byte{1, 42})

	r := openReplica(f, "fuzz") // once per fuzzing process
	hello, err := wire.Marshal(p.hello())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ca, cb := net.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := Run(context.Background(), ca, r, Options{Self: r.self(), Accept: r.accept, HelloTimeout: time.Second})
			done <- err
		}()
		go func() { // read everything the session says
			buf := make([]byte, 4096)
			for {
				if _, err := cb.Read(buf); err != nil {
					return
				}
			}
		}()
		cb.SetWriteDeadline(time.Now().Add(2 * time.Second))
		cb.Write(hello)
		cb.Write(in)
		cb.Close()
		select {
		case err := <-done:
			if err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("the session ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the session did not end after the stream closed")
		}
	})
}
