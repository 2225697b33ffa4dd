package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"seedpod/pod/oplog"
)

// stateTables are the generic fold's tables, cleared by a refold.
var stateTables = []string{"st_fields", "st_reg_writes", "st_reg_superseded", "st_set_adds", "st_set_removed",
	"st_published", "st_retracted", "st_reads", "st_received", "st_unapplied"}

// RefoldOptions tune Refold.
type RefoldOptions struct {
	// Shuffle applies the ops in a random order from this seed (0: log
	// order). The result must not depend on it; tests use it to prove so.
	Shuffle uint64
	// Progress is called now and then with (done, total).
	Progress func(done, total int)
}

// Refold rebuilds every materialised table (the generic fold and the domain
// projections) from the stored ops, in one transaction: after a schema
// upgrade that taught this binary new kinds, or as a check. The ops
// themselves are not touched.
func (l *Log) Refold(ctx context.Context, opt RefoldOptions) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	sqlTx, err := l.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin refold: %w", err)
	}
	defer sqlTx.Rollback()
	tx := newTx(ctx, sqlTx)
	for _, t := range append(slices.Clone(stateTables), projectionTables...) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return fmt.Errorf("refold: clear %s: %w", t, err)
		}
	}
	// The FTS5 tables the projections write themselves (0009_speed.sql);
	// the others follow their tables' deletes by triggers.
	for _, t := range projectedFTSTables {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+t+" ("+t+") VALUES ('delete-all')"); err != nil {
			return fmt.Errorf("refold: clear %s: %w", t, err)
		}
	}
	type key struct {
		dev   []byte
		epoch int64
		seq   uint64
	}
	var keys []key
	rows, err := tx.QueryContext(ctx, "SELECT device, epoch, seq FROM ops ORDER BY device, epoch, seq")
	if err != nil {
		return fmt.Errorf("refold: list ops: %w", err)
	}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.dev, &k.epoch, &k.seq); err != nil {
			rows.Close()
			return fmt.Errorf("refold: list ops: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("refold: list ops: %w", err)
	}
	if opt.Shuffle != 0 {
		r := rand.New(rand.NewPCG(opt.Shuffle, opt.Shuffle^0x5eed))
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	stmt, err := tx.PrepareContext(ctx, "SELECT bytes FROM ops WHERE device = ? AND epoch = ? AND seq = ?")
	if err != nil {
		return fmt.Errorf("refold: %w", err)
	}
	defer stmt.Close()
	for i, k := range keys {
		var b []byte
		if err := stmt.QueryRowContext(ctx, k.dev, k.epoch, k.seq).Scan(&b); err != nil {
			return fmt.Errorf("refold: read op: %w", err)
		}
		op, err := oplog.Decode(b)
		if err != nil {
			return fmt.Errorf("refold: stored op %x:%d: %w", k.dev, k.seq, err)
		}
		if err := tx.apply(op); err != nil {
			return fmt.Errorf("refold: %w", err)
		}
		if i%512 == 511 {
			if err := tx.flush(); err != nil {
				return err
			}
			if opt.Progress != nil {
				opt.Progress(i+1, len(keys))
			}
		}
	}
	if err := tx.flush(); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit refold: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(len(keys), len(keys))
	}
	return nil
}

func scanID(dev []byte, epoch int64, seq uint64) oplog.ID {
	return oplog.ID{Log: oplog.LogID{Device: dev, Epoch: uint64(epoch)}, Seq: seq}
}

// Snapshot reads the generic fold in oplog's canonical form, to compare
// with an oplog.State (tests, `seedpod refold --check`).
func (db *DB) Snapshot(ctx context.Context) (oplog.Snapshot, error) {
	tx, err := db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return oplog.Snapshot{}, err
	}
	defer tx.Rollback()
	var sn oplog.Snapshot
	q := func(query string, scan func(*sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
		return rows.Err()
	}
	byID := func(a, b oplog.ID) int { return a.Compare(b) }

	err = q("SELECT key, value, wall, logical, device, epoch, seq FROM st_fields", func(r *sql.Rows) error {
		var f oplog.SnapField
		var wall, logical, epoch int64
		var dev []byte
		var seq uint64
		if err := r.Scan(&f.Key, &f.Value, &wall, &logical, &dev, &epoch, &seq); err != nil {
			return err
		}
		f.At = stampOfRow(wall, logical, dev, epoch, seq)
		sn.Fields = append(sn.Fields, f)
		return nil
	})
	if err != nil {
		return sn, err
	}
	slices.SortFunc(sn.Fields, func(a, b oplog.SnapField) int { return cmpStr(a.Key, b.Key) })

	regs := map[string]*oplog.SnapRegister{}
	reg := func(name string) *oplog.SnapRegister {
		if regs[name] == nil {
			regs[name] = &oplog.SnapRegister{Name: name}
		}
		return regs[name]
	}
	err = q("SELECT register, device, epoch, seq, wall, logical, value, deleted FROM st_reg_writes", func(r *sql.Rows) error {
		var name, value string
		var dev []byte
		var epoch, wall, logical int64
		var seq uint64
		var deleted bool
		if err := r.Scan(&name, &dev, &epoch, &seq, &wall, &logical, &value, &deleted); err != nil {
			return err
		}
		g := reg(name)
		g.Writes = append(g.Writes, oplog.MVValue{At: stampOfRow(wall, logical, dev, epoch, seq), Value: value, Deleted: deleted})
		return nil
	})
	if err != nil {
		return sn, err
	}
	err = q("SELECT register, device, epoch, seq FROM st_reg_superseded", func(r *sql.Rows) error {
		var name string
		var dev []byte
		var epoch int64
		var seq uint64
		if err := r.Scan(&name, &dev, &epoch, &seq); err != nil {
			return err
		}
		g := reg(name)
		g.Superseded = append(g.Superseded, scanID(dev, epoch, seq))
		return nil
	})
	if err != nil {
		return sn, err
	}
	for _, name := range sortedKeys(regs) {
		g := regs[name]
		slices.SortFunc(g.Writes, func(a, b oplog.MVValue) int { return a.At.ID().Compare(b.At.ID()) })
		slices.SortFunc(g.Superseded, byID)
		sn.Registers = append(sn.Registers, *g)
	}

	type mkey struct{ set, member string }
	members := map[mkey]*oplog.SnapMember{}
	mem := func(set, member string) *oplog.SnapMember {
		k := mkey{set, member}
		if members[k] == nil {
			members[k] = &oplog.SnapMember{Member: member}
		}
		return members[k]
	}
	for _, t := range []string{"st_set_adds", "st_set_removed"} {
		adds := t == "st_set_adds"
		err = q("SELECT name, member, device, epoch, seq FROM "+t, func(r *sql.Rows) error {
			var name, member string
			var dev []byte
			var epoch int64
			var seq uint64
			if err := r.Scan(&name, &member, &dev, &epoch, &seq); err != nil {
				return err
			}
			m := mem(name, member)
			if adds {
				m.Adds = append(m.Adds, scanID(dev, epoch, seq))
			} else {
				m.Removed = append(m.Removed, scanID(dev, epoch, seq))
			}
			return nil
		})
		if err != nil {
			return sn, err
		}
	}
	sets := map[string]*oplog.SnapSet{}
	for k, m := range members {
		if sets[k.set] == nil {
			sets[k.set] = &oplog.SnapSet{Name: k.set}
		}
		slices.SortFunc(m.Adds, byID)
		slices.SortFunc(m.Removed, byID)
		sets[k.set].Members = append(sets[k.set].Members, *m)
	}
	for _, name := range sortedKeys(sets) {
		s := sets[name]
		slices.SortFunc(s.Members, func(a, b oplog.SnapMember) int { return cmpStr(a.Member, b.Member) })
		sn.Sets = append(sn.Sets, *s)
	}

	err = q("SELECT guid, device, epoch, seq, kind, parent, created_at, body, recipients FROM st_published ORDER BY guid", func(r *sql.Rows) error {
		var p oplog.SnapPublished
		var dev, body []byte
		var epoch int64
		var seq uint64
		var recips string
		if err := r.Scan(&p.Publish.GUID, &dev, &epoch, &seq, &p.Publish.Kind, &p.Publish.Parent, &p.Publish.CreatedAt, &body, &recips); err != nil {
			return err
		}
		p.ID = scanID(dev, epoch, seq)
		if len(body) > 0 {
			p.Publish.Body = body
		}
		if err := json.Unmarshal([]byte(recips), &p.Publish.Recipients); err != nil {
			return err
		}
		if len(p.Publish.Recipients) == 0 {
			p.Publish.Recipients = nil
		}
		sn.Published = append(sn.Published, p)
		return nil
	})
	if err != nil {
		return sn, err
	}
	err = q("SELECT guid FROM st_retracted ORDER BY guid", func(r *sql.Rows) error {
		var g string
		if err := r.Scan(&g); err != nil {
			return err
		}
		sn.Retracted = append(sn.Retracted, g)
		return nil
	})
	if err != nil {
		return sn, err
	}
	err = q("SELECT stream, watermark FROM st_reads ORDER BY stream", func(r *sql.Rows) error {
		var rd oplog.SnapRead
		if err := r.Scan(&rd.Stream, &rd.Watermark); err != nil {
			return err
		}
		sn.Reads = append(sn.Reads, rd)
		return nil
	})
	if err != nil {
		return sn, err
	}
	err = q("SELECT guid, device, epoch, seq, entity_type, author, payload_hash, payload FROM st_received ORDER BY guid", func(r *sql.Rows) error {
		var rc oplog.SnapReceived
		var dev []byte
		var epoch int64
		var seq uint64
		if err := r.Scan(&rc.Received.GUID, &dev, &epoch, &seq, &rc.Received.EntityType, &rc.Received.Author,
			&rc.Received.PayloadHash, &rc.Received.Payload); err != nil {
			return err
		}
		rc.ID = scanID(dev, epoch, seq)
		sn.Received = append(sn.Received, rc)
		return nil
	})
	if err != nil {
		return sn, err
	}
	err = q("SELECT device, epoch, seq, kind FROM st_unapplied", func(r *sql.Rows) error {
		var u oplog.SnapUnapplied
		var dev []byte
		var epoch int64
		var seq uint64
		var kind int64
		if err := r.Scan(&dev, &epoch, &seq, &kind); err != nil {
			return err
		}
		u.ID = scanID(dev, epoch, seq)
		u.Kind = oplog.Kind(kind)
		sn.Unapplied = append(sn.Unapplied, u)
		return nil
	})
	if err != nil {
		return sn, err
	}
	slices.SortFunc(sn.Unapplied, func(a, b oplog.SnapUnapplied) int { return a.ID.Compare(b.ID) })
	return sn, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ProjectionDigest is a hash of every row of the domain tables, in
// primary-key order (all columns, sorted by all columns): two databases with
// equal projections have equal digests. It reads the tables through one
// read transaction.
func (db *DB) ProjectionDigest(ctx context.Context) ([32]byte, map[string]int, error) {
	var out [32]byte
	counts := map[string]int{}
	tx, err := db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, nil, err
	}
	defer tx.Rollback()
	h := sha256.New()
	for _, t := range projectionTables {
		cols, err := tableColumns(ctx, tx, t)
		if err != nil {
			return out, nil, err
		}
		order := make([]string, len(cols))
		for i := range cols {
			order[i] = strconv.Itoa(i + 1)
		}
		rows, err := tx.QueryContext(ctx, "SELECT * FROM "+t+" ORDER BY "+strings.Join(order, ", "))
		if err != nil {
			return out, nil, fmt.Errorf("digest %s: %w", t, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		fmt.Fprintf(h, "table %s %d\n", t, len(cols))
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return out, nil, fmt.Errorf("digest %s: %w", t, err)
			}
			for _, v := range vals {
				fmt.Fprintf(h, "%T:%q|", v, fmt.Sprint(v))
			}
			h.Write([]byte{'\n'})
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, nil, fmt.Errorf("digest %s: %w", t, err)
		}
		counts[t] = n
	}
	h.Sum(out[:0])
	return out, counts, nil
}

// DumpProjection is every row of one domain table as strings, sorted: for
// tests that want to show a difference, not just detect it.
func (db *DB) DumpProjection(ctx context.Context, table string) ([]string, error) {
	if !slices.Contains(projectionTables, table) {
		return nil, fmt.Errorf("dump: %q is not a projection table", table)
	}
	rows, err := db.R.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out, rows.Err()
}

// ProjectionTables are the domain tables a refold rebuilds.
func ProjectionTables() []string { return slices.Clone(projectionTables) }

func tableColumns(ctx context.Context, q querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	return rows.Columns()
}

// FoldOps folds every stored op into an in-memory oplog.State: the
// specification the SQLite fold is checked against.
func (db *DB) FoldOps(ctx context.Context) (*oplog.State, int, error) {
	rows, err := db.R.QueryContext(ctx, "SELECT bytes FROM ops")
	if err != nil {
		return nil, 0, fmt.Errorf("read ops: %w", err)
	}
	defer rows.Close()
	st := oplog.NewState()
	n := 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, n, err
		}
		op, err := oplog.Decode(b)
		if err != nil {
			return nil, n, fmt.Errorf("stored op %d: %w", n, err)
		}
		if err := st.Apply(op); err != nil {
			return nil, n, err
		}
		n++
	}
	return st, n, rows.Err()
}
