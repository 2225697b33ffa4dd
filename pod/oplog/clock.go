package oplog

import (
	"fmt"
	"time"
)

// HLC is a hybrid logical clock reading (Kulkarni et al., 2014): wall-clock
// milliseconds, and a counter that orders events within one millisecond or
// while the wall clock stands still or runs behind.
type HLC struct {
	Wall    uint64 // Unix milliseconds
	Logical uint32
}

// Compare orders clock readings.
func (h HLC) Compare(o HLC) int {
	switch {
	case h.Wall < o.Wall:
		return -1
	case h.Wall > o.Wall:
		return 1
	case h.Logical < o.Logical:
		return -1
	case h.Logical > o.Logical:
		return 1
	}
	return 0
}

func (h HLC) String() string { return fmt.Sprintf("%d.%d", h.Wall, h.Logical) }

// Time is the wall part as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(int64(h.Wall)).UTC() }

// Clock issues HLC readings. The zero value is ready; it is not safe for
// concurrent use (a Log serialises it).
type Clock struct {
	last HLC
}

// Tick returns a reading for a local event: later than every reading the
// clock has issued or observed.
func (c *Clock) Tick(now time.Time) HLC {
	wall := uint64(max(now.UnixMilli(), 0))
	if wall > c.last.Wall {
		c.last = HLC{Wall: wall}
	} else {
		c.last.Logical++
	}
	return c.last
}

// Observe merges a reading from another device, so the next Tick is later
// than it. It returns how far the remote clock is ahead of ours (zero when
// behind): the UI warns when another device's clock runs far ahead, since
// it would win every last-writer-wins choice.
func (c *Clock) Observe(remote HLC, now time.Time) time.Duration {
	wall := uint64(max(now.UnixMilli(), 0))
	ahead := time.Duration(0)
	if remote.Wall > wall {
		ahead = time.Duration(remote.Wall-wall) * time.Millisecond
	}
	switch top := max(wall, c.last.Wall, remote.Wall); {
	case top == c.last.Wall && top == remote.Wall:
		c.last.Logical = max(c.last.Logical, remote.Logical) + 1
	case top == c.last.Wall:
		c.last.Logical++
	case top == remote.Wall:
		c.last = HLC{Wall: top, Logical: remote.Logical + 1}
	default:
		c.last = HLC{Wall: top}
	}
	return ahead
}

// Last is the latest reading issued or observed.
func (c *Clock) Last() HLC { return c.last }
