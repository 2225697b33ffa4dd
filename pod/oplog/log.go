package oplog

import (
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"
)

// Log appends to one device's own log. It holds the device key, the head
// and the clock; appending is serialised. The caller persists each returned
// op (in the same transaction as its effect) before using the next one; a
// Log restored from storage starts with Resume.
type Log struct {
	mu    sync.Mutex
	id    LogID
	key   ed25519.PrivateKey
	head  Head
	clock Clock
	now   func() time.Time
}

// NewLog starts an empty log for the device key and epoch.
func NewLog(key ed25519.PrivateKey, epoch uint64, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{id: LogID{Device: key.Public().(ed25519.PublicKey), Epoch: epoch}, key: key, now: now}
}

// Resume continues a stored log from its head, with the clock past the last
// reading stored anywhere (every log's ops observed).
func (l *Log) Resume(head Head, last HLC) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.head = head
	l.clock.Observe(last, l.now())
}

// Key is the device key the log signs with.
func (l *Log) Key() ed25519.PrivateKey { return l.key }

// ID is the log's identity.
func (l *Log) ID() LogID { return l.id }

// Head is the log's head.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Observe feeds a clock reading from another device's op.
func (l *Log) Observe(remote HLC) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clock.Observe(remote, l.now())
}

// Append makes, signs and chains the next op.
func (l *Log) Append(kind Kind, schema uint16, body []byte) (*Op, Signed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	op := &Op{Log: l.id, Seq: l.head.Seq + 1, Prev: l.head.Hash, Clock: l.clock.Tick(l.now()), Schema: schema, Kind: kind, Body: body}
	s, err := Sign(op, l.key)
	if err != nil {
		return nil, Signed{}, fmt.Errorf("append to %s: %w", l.id, err)
	}
	l.head = Head{Seq: op.Seq, Hash: s.Hash()}
	return op, s, nil
}
