package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const (
	rttProto   = protocol.ID("/seedpod/bench-rtt/1")
	sinkProto  = protocol.ID("/seedpod/bench-sink/1")
	frameBytes = 256
)

// benchPair returns two paired hosts with the benchmark handlers on a; with relay set, both
// listen on nothing and talk through a relay.
func benchPair(b *testing.B, listen []string, relay bool) (a, c *Host) {
	b.Helper()
	if relay {
		listen = nil
	}
	a = newHost(b, nil, listen)
	c = newHost(b, nil, listen)
	// Round trip: a 4-byte message echoed back.
	if err := a.Handle(rttProto, func(s network.Stream) {
		defer s.Close()
		var buf [4]byte
		for {
			if _, err := io.ReadFull(s, buf[:]); err != nil {
				return
			}
			if _, err := s.Write(buf[:]); err != nil {
				return
			}
		}
	}, AdmitPaired); err != nil {
		b.Fatal(err)
	}
	// Sink: frames of uvarint length + body (the sync framing), acknowledged with one byte
	// after the count the client announced.
	if err := a.Handle(sinkProto, func(s network.Stream) {
		defer s.Close()
		var hdr [8]byte
		if _, err := io.ReadFull(s, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint64(hdr[:])
		_ = s.SetDeadline(time.Now().Add(time.Minute))
		buf := make([]byte, frameBytes)
		r := bufio.NewReaderSize(s, 64<<10)
		for range n {
			l, err := binary.ReadUvarint(r)
			if err != nil || l > frameBytes {
				_ = s.Reset()
				return
			}
			if _, err := io.ReadFull(r, buf[:l]); err != nil {
				return
			}
		}
		_, _ = s.Write([]byte{1})
	}, AdmitPaired); err != nil {
		b.Fatal(err)
	}
	pair(b, a, c)
	if relay {
		var acl allowSet
		acl.add(a.ID(), c.ID())
		r := newRelay(b, RelayConfig{Allowed: acl.allowed})
		for _, h := range []*Host{a, c} {
			if err := h.Reserve(context.Background(), r.AddrInfo()); err != nil {
				b.Fatal(err)
			}
		}
	}
	return a, c
}

var benchTransports = []struct {
	name   string
	listen []string
	relay  bool
}{
	{"tcp", tcpLoopback, false},
	{"quic", quicLoopback, false},
	{"relay-tcp", nil, true},
}

// BenchmarkRoundTrip: one 4-byte request and its echo on an open stream.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range benchTransports {
		b.Run(tc.name, func(b *testing.B) {
			a, c := benchPair(b, tc.listen, tc.relay)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := c.NewStream(ctx, a.ID(), rttProto)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var buf [4]byte
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint32(buf[:], uint32(i))
				if _, err := s.Write(buf[:]); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(s, buf[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFrames256: 256-byte frames one way (uvarint length prefix, as sync frames), the
// sender writing back to back and waiting for the receiver's acknowledgement at the end.
func BenchmarkFrames256(b *testing.B) {
	for _, tc := range benchTransports {
		b.Run(tc.name, func(b *testing.B) {
			a, c := benchPair(b, tc.listen, tc.relay)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			frame := make([]byte, 0, frameBytes+binary.MaxVarintLen64)
			frame = binary.AppendUvarint(frame, frameBytes-2)
			frame = append(frame, make([]byte, frameBytes-2)...)
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			s, err := c.NewStream(ctx, a.ID(), sinkProto)
			if err != nil {
				b.Fatal(err)
			}
			var hdr [8]byte
			binary.BigEndian.PutUint64(hdr[:], uint64(b.N))
			if _, err := s.Write(hdr[:]); err != nil {
				b.Fatal(err)
			}
			// Batch frames into 64 KiB writes, as a buffered session writer would.
			batch := make([]byte, 0, 64<<10)
			for range b.N {
				if len(batch)+len(frame) > cap(batch) {
					if _, err := s.Write(batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
				batch = append(batch, frame...)
			}
			if _, err := s.Write(batch); err != nil {
				b.Fatal(err)
			}
			var ack [1]byte
			if _, err := io.ReadFull(s, ack[:]); err != nil {
				b.Fatal(err)
			}
			_ = s.Close()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
