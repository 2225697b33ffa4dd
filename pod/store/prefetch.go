package store

import (
	"sync"
	"sync/atomic"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/markup"
	"seedpod/pod/oplog"
)

// Prefetch: the CPU work of projecting received entities, done ahead on a
// second goroutine. Parsing a payload's XML (entity.Parse) and rendering a
// status message's text (markup.Render, for its tags, mentions and title)
// were a third of Apply's time on received posts and comments, and depend
// on nothing but the payload. Apply lists the batch's received payloads
// and a worker parses (and renders) them in batch order while the ops are
// stored and folded; a projection that needs one takes the worker's
// result, waits for it when the worker is at it, or does it itself when
// the worker has not got there yet (sync.Once per payload). Results are
// the functions' own, whoever computes them, so the projections see what
// they would have computed themselves.

// prefetchTypes are the received entity types whose projections parse
// through tx.parse (posts, photos, interactions, retractions).
var prefetchTypes = map[string]bool{EntityStatusMessage: true, EntityReshare: true, EntityPhoto: true,
	EntityComment: true, EntityLike: true, EntityPollVote: true, EntityRetraction: true}

// prefetch is the prefetched work of one Apply batch.
type prefetch struct {
	items map[string]*prefetched // by payload; read-only once the worker runs
	order []*prefetched
	stop  atomic.Bool
	done  chan struct{}
}

// prefetched is one payload's parse and, for a status message, the
// rendering of its text.
type prefetched struct {
	once    sync.Once
	payload string
	ent     entity.Entity
	err     error
	// rendered is markup.Render(text) of a status message with text; nil
	// when there is none or it failed (the projection renders again and
	// gets the same failure).
	rendered *markup.Rendered
	text     string
	// panicked: the computation panicked; the caller does it again, so the
	// panic happens on its own goroutine as it would have without prefetch.
	panicked bool
}

func (p *prefetched) get() {
	p.once.Do(func() {
		defer func() {
			if recover() != nil {
				p.ent, p.err, p.rendered, p.panicked = nil, nil, nil, true
			}
		}()
		p.ent, p.err = entity.Parse([]byte(p.payload))
		if m, ok := p.ent.(*entity.StatusMessage); ok && p.err == nil && m.Text != "" {
			if r, err := markup.Render(m.Text, markup.Options{}); err == nil {
				p.rendered, p.text = &r, m.Text
			}
		}
	})
}

// startPrefetch starts the worker on the received payloads among bodies
// (nil when there are too few to be worth a goroutine). The caller stops
// it with close before the transaction ends.
func startPrefetch(bodies []any) *prefetch {
	p := &prefetch{items: map[string]*prefetched{}, done: make(chan struct{})}
	for _, b := range bodies {
		r, ok := b.(oplog.Received)
		if !ok || !prefetchTypes[r.EntityType] || p.items[r.Payload] != nil {
			continue
		}
		it := &prefetched{payload: r.Payload}
		p.items[r.Payload] = it
		p.order = append(p.order, it)
	}
	if len(p.order) < 2 {
		return nil
	}
	go func() {
		defer close(p.done)
		for _, it := range p.order {
			if p.stop.Load() {
				return
			}
			it.get()
		}
	}()
	return p
}

// close stops the worker and waits for it.
func (p *prefetch) close() {
	if p == nil {
		return
	}
	p.stop.Store(true)
	<-p.done
}

// lookup is the prefetched item of a payload, computed (nil: not
// prefetched, or its computation panicked).
func (p *prefetch) lookup(payload string) *prefetched {
	if p == nil {
		return nil
	}
	it := p.items[payload]
	if it == nil {
		return nil
	}
	it.get()
	if it.panicked {
		return nil
	}
	return it
}

// parse parses a received payload, prefetched or here. Prefetched
// entities may be shared by the projections of a batch: read them only.
func (tx *Tx) parse(payload string) (entity.Entity, error) {
	if it := tx.prefetch.lookup(payload); it != nil {
		return it.ent, it.err
	}
	return entity.Parse([]byte(payload))
}

// prerendered is the prefetched rendering of a status message's text, nil
// when there is none.
func (tx *Tx) prerendered(payload, text string) *markup.Rendered {
	if it := tx.prefetch.lookup(payload); it != nil && it.rendered != nil && it.text == text {
		return it.rendered
	}
	return nil
}
