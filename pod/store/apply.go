package store

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"seedpod/pod/oplog"
)

// The generic fold in SQL: each rule of pod/oplog/merge.go over the st_*
// tables. It must stay equal to oplog.State; TestFoldMatchesState checks
// that on random op sequences.

func idArgs(id oplog.ID) (dev []byte, epoch int64, seq uint64) {
	return []byte(id.Log.Device), int64(id.Log.Epoch), id.Seq
}

// touch queues a projection for what an op changed.
func (tx *Tx) touch(c Change) {
	tx.changes = append(tx.changes, c)
	if !tx.dirty[c] {
		tx.dirty[c] = true
		tx.order = append(tx.order, c)
	}
}

// apply folds one stored op in.
func (tx *Tx) apply(op *oplog.Op) error {
	body, err := oplog.DecodeBody(op.Kind, op.Body)
	return tx.applyBody(op, body, err)
}

// applyBody folds in a stored op whose body was decoded (err: the
// decoding's error).
func (tx *Tx) applyBody(op *oplog.Op, body any, err error) error {
	if errors.Is(err, oplog.ErrUnknownKind) {
		d, e, s := idArgs(op.ID())
		_, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO st_unapplied (device, epoch, seq, kind) VALUES (?, ?, ?, ?)",
			d, e, s, int64(op.Kind))
		if err != nil {
			return fmt.Errorf("record unapplied op %s:%d: %w", op.Log, op.Seq, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply op %s:%d: %w", op.Log, op.Seq, err)
	}
	at := oplog.StampOf(op)
	switch b := body.(type) {
	case oplog.SetField:
		err = tx.applyField(at, b)
	case oplog.DraftWrite:
		err = tx.applyDraft(at, b)
	case oplog.AspectAdd:
		err = tx.applySetAdd(at, b.AsSet())
	case oplog.AspectRemove:
		err = tx.applySetRemove(b.AsSet())
	case oplog.SetAdd:
		err = tx.applySetAdd(at, b)
	case oplog.SetRemove:
		err = tx.applySetRemove(b)
	case oplog.Publish:
		err = tx.applyPublish(at, b)
	case oplog.Retract:
		err = tx.applyRetract(b)
	case oplog.ReadUpTo:
		err = tx.applyRead(b)
	case oplog.Received:
		err = tx.applyReceived(at, b)
	default:
		return fmt.Errorf("apply op %s:%d: kind %s decoded to %T", op.Log, op.Seq, op.Kind, body)
	}
	if err != nil {
		return fmt.Errorf("apply %s op %s:%d: %w", op.Kind, op.Log, op.Seq, err)
	}
	return nil
}

func stampOfRow(wall, logical int64, dev []byte, epoch int64, seq uint64) oplog.Stamp {
	return oplog.Stamp{Clock: oplog.HLC{Wall: uint64(wall), Logical: uint32(logical)},
		Log: oplog.LogID{Device: dev, Epoch: uint64(epoch)}, Seq: seq}
}

func (tx *Tx) applyField(at oplog.Stamp, b oplog.SetField) error {
	d, e, s := idArgs(at.ID())
	// One statement for the usual cases: a new key, or a write that wins on
	// (wall, logical, device), which SQLite orders as Stamp.Compare does
	// (integers while both walls fit in int64, blobs by memcmp then length).
	// A write that loses there, or ties, or carries a wall past int64, is
	// compared in Go below: only the full stamp decides.
	fast := at.Clock.Wall <= math.MaxInt64
	if fast {
		res, err := tx.ExecContext(tx.ctx, `INSERT INTO st_fields (key, value, wall, logical, device, epoch, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, wall = excluded.wall, logical = excluded.logical,
				device = excluded.device, epoch = excluded.epoch, seq = excluded.seq
			WHERE st_fields.wall >= 0 AND (excluded.wall, excluded.logical, excluded.device) >
				(st_fields.wall, st_fields.logical, st_fields.device)`,
			b.Key, b.Value, int64(at.Clock.Wall), int64(at.Clock.Logical), d, e, s)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n > 0 {
			tx.touch(Change{Kind: oplog.KindSetField, Key: b.Key})
			return nil
		}
	}
	var wall, logical, epoch int64
	var dev []byte
	var seq uint64
	err := tx.QueryRowContext(tx.ctx, "SELECT wall, logical, device, epoch, seq FROM st_fields WHERE key = ?", b.Key).
		Scan(&wall, &logical, &dev, &epoch, &seq)
	switch {
	case errors.Is(err, sql.ErrNoRows) && !fast:
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO st_fields (key, value, wall, logical, device, epoch, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, b.Key, b.Value, int64(at.Clock.Wall), int64(at.Clock.Logical), d, e, s); err != nil {
			return err
		}
		tx.touch(Change{Kind: oplog.KindSetField, Key: b.Key})
		return nil
	case err != nil:
		return err
	}
	if at.Compare(stampOfRow(wall, logical, dev, epoch, seq)) <= 0 {
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE st_fields SET value = ?, wall = ?, logical = ?, device = ?, epoch = ?,
		seq = ? WHERE key = ?`, b.Value, int64(at.Clock.Wall), int64(at.Clock.Logical), d, e, s, b.Key); err != nil {
		return err
	}
	tx.touch(Change{Kind: oplog.KindSetField, Key: b.Key})
	return nil
}

func (tx *Tx) applyDraft(at oplog.Stamp, b oplog.DraftWrite) error {
	for _, p := range b.Pred {
		d, e, s := idArgs(p.ID())
		if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_reg_superseded (register, device, epoch, seq)
			VALUES (?, ?, ?, ?)`, b.Register, d, e, s); err != nil {
			return err
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE st_reg_writes SET live = 0
			WHERE register = ? AND device = ? AND epoch = ? AND seq = ?`, b.Register, d, e, s); err != nil {
			return err
		}
	}
	d, e, s := idArgs(at.ID())
	var superseded int
	if err := tx.QueryRowContext(tx.ctx, `SELECT count(*) FROM st_reg_superseded
		WHERE register = ? AND device = ? AND epoch = ? AND seq = ?`, b.Register, d, e, s).Scan(&superseded); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_reg_writes
		(register, device, epoch, seq, wall, logical, value, deleted, live) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Register, d, e, s, int64(at.Clock.Wall), int64(at.Clock.Logical), b.Value, b.Deleted, superseded == 0); err != nil {
		return err
	}
	tx.touch(Change{Kind: oplog.KindDraftWrite, Key: b.Register})
	return nil
}

func (tx *Tx) applySetAdd(at oplog.Stamp, b oplog.SetAdd) error {
	d, e, s := idArgs(at.ID())
	// live unless a remove that observed this tag arrived first.
	if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_set_adds (name, member, device, epoch, seq, live)
		VALUES (?1, ?2, ?3, ?4, ?5, NOT EXISTS (SELECT 1 FROM st_set_removed
			WHERE name = ?1 AND member = ?2 AND device = ?3 AND epoch = ?4 AND seq = ?5))`, b.Set, b.Member, d, e, s); err != nil {
		return err
	}
	tx.touch(Change{Kind: oplog.KindSetAdd, Key: b.Set, Member: b.Member})
	return nil
}

func (tx *Tx) applySetRemove(b oplog.SetRemove) error {
	for _, o := range b.Observed {
		d, e, s := idArgs(o.ID())
		if _, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_set_removed (name, member, device, epoch, seq)
			VALUES (?, ?, ?, ?, ?)`, b.Set, b.Member, d, e, s); err != nil {
			return err
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE st_set_adds SET live = 0
			WHERE name = ? AND member = ? AND device = ? AND epoch = ? AND seq = ?`, b.Set, b.Member, d, e, s); err != nil {
			return err
		}
	}
	tx.touch(Change{Kind: oplog.KindSetAdd, Key: b.Set, Member: b.Member})
	return nil
}

func (tx *Tx) applyPublish(at oplog.Stamp, b oplog.Publish) error {
	id := at.ID()
	d, e, s := idArgs(id)
	body := []byte(b.Body)
	if body == nil {
		body = []byte{}
	}
	args := []any{b.GUID, d, e, s, b.Kind, b.Parent, b.CreatedAt, body, jsonStrings(b.Recipients)}
	// A guid is published once, almost always: insert, and only when
	// another op already holds the guid keep the lowest op ID.
	res, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_published (guid, device, epoch, seq, kind, parent,
		created_at, body, recipients) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		var dev []byte
		var epoch int64
		var seq uint64
		if err := tx.QueryRowContext(tx.ctx, "SELECT device, epoch, seq FROM st_published WHERE guid = ?", b.GUID).
			Scan(&dev, &epoch, &seq); err != nil {
			return err
		}
		cur := oplog.ID{Log: oplog.LogID{Device: dev, Epoch: uint64(epoch)}, Seq: seq}
		if cur.Compare(id) <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE st_published SET device = ?2, epoch = ?3, seq = ?4, kind = ?5,
			parent = ?6, created_at = ?7, body = ?8, recipients = ?9 WHERE guid = ?1`, args...); err != nil {
			return err
		}
	}
	tx.touch(Change{Kind: oplog.KindPublish, Key: b.GUID})
	return nil
}

func (tx *Tx) applyRetract(b oplog.Retract) error {
	if _, err := tx.ExecContext(tx.ctx, "INSERT OR IGNORE INTO st_retracted (guid) VALUES (?)", b.GUID); err != nil {
		return err
	}
	tx.touch(Change{Kind: oplog.KindPublish, Key: b.GUID})
	return nil
}

func (tx *Tx) applyRead(b oplog.ReadUpTo) error {
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO st_reads (stream, watermark) VALUES (?, ?)
		ON CONFLICT (stream) DO UPDATE SET watermark = max(watermark, excluded.watermark)`, b.Stream, b.Watermark); err != nil {
		return err
	}
	tx.touch(Change{Kind: oplog.KindReadUpTo, Key: b.Stream})
	return nil
}

func (tx *Tx) applyReceived(at oplog.Stamp, b oplog.Received) error {
	id := at.ID()
	d, e, s := idArgs(id)
	args := []any{b.GUID, d, e, s, b.EntityType, b.Author, b.PayloadHash, b.Payload}
	// Deduplicated by guid: insert, and only when another op already
	// holds the guid keep the lowest op ID.
	res, err := tx.ExecContext(tx.ctx, `INSERT OR IGNORE INTO st_received (guid, device, epoch, seq, entity_type, author,
		payload_hash, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		var dev []byte
		var epoch int64
		var seq uint64
		if err := tx.QueryRowContext(tx.ctx, "SELECT device, epoch, seq FROM st_received WHERE guid = ?", b.GUID).
			Scan(&dev, &epoch, &seq); err != nil {
			return err
		}
		cur := oplog.ID{Log: oplog.LogID{Device: dev, Epoch: uint64(epoch)}, Seq: seq}
		if cur.Compare(id) <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE st_received SET device = ?2, epoch = ?3, seq = ?4, entity_type = ?5,
			author = ?6, payload_hash = ?7, payload = ?8 WHERE guid = ?1`, args...); err != nil {
			return err
		}
	}
	tx.touch(Change{Kind: oplog.KindReceived, Key: b.GUID, Entity: b.EntityType})
	return nil
}

// flush runs the projections of everything touched since the last flush.
func (tx *Tx) flush() error {
	if len(tx.order) == 0 {
		return nil
	}
	for _, c := range tx.order {
		if c.Kind == oplog.KindSetField && strings.HasPrefix(c.Key, "identity/") || c.Kind == oplog.KindSetAdd && c.Key == FormerIDsSet {
			tx.me = nil // Me changes with this flush
		}
	}
	tx.cache = &flushCache{folds: map[string]*guidFold{}, commentPosts: map[string]string{}, me: tx.me}
	defer func() { tx.cache = nil }()
	for len(tx.order) > 0 {
		c := tx.order[0]
		tx.order = tx.order[1:]
		delete(tx.dirty, c)
		if err := tx.project(c); err != nil {
			return fmt.Errorf("project %s %q: %w", c.Kind, c.Key, err)
		}
		if err := tx.projectNotifications(c); err != nil {
			return fmt.Errorf("notifications for %s %q: %w", c.Kind, c.Key, err)
		}
	}
	return nil
}
