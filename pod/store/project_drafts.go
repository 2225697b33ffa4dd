package store

import "fmt"

// Drafts projection: the drafts table holds, for each draft register
// draft/<id>, its live non-deleted versions (the multi-value register of
// the fold). More than one row for an id means concurrent edits that no
// write has merged yet. created_at is the earliest write of the register,
// superseded or not, so it is the same on every device and after a refold.

func (tx *Tx) projectDraft(id string) error {
	reg := DraftRegister(id)
	if _, err := tx.ExecContext(tx.ctx, "DELETE FROM drafts WHERE id = ?", id); err != nil {
		return fmt.Errorf("clear draft %s: %w", id, err)
	}
	var created int64
	if err := tx.QueryRowContext(tx.ctx, "SELECT coalesce(min(wall), 0) FROM st_reg_writes WHERE register = ?", reg).
		Scan(&created); err != nil {
		return fmt.Errorf("read draft %s: %w", id, err)
	}
	rows, err := tx.QueryContext(tx.ctx, `SELECT device, epoch, seq, wall, value FROM st_reg_writes
		WHERE register = ? AND live = 1 AND deleted = 0`, reg)
	if err != nil {
		return fmt.Errorf("read draft %s: %w", id, err)
	}
	type version struct {
		version, body string
		at            int64
	}
	var vs []version
	for rows.Next() {
		var dev []byte
		var epoch int64
		var seq uint64
		var v version
		if err := rows.Scan(&dev, &epoch, &seq, &v.at, &v.body); err != nil {
			rows.Close()
			return fmt.Errorf("read draft %s: %w", id, err)
		}
		v.version = VersionString(scanID(dev, epoch, seq))
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read draft %s: %w", id, err)
	}
	for _, v := range vs {
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO drafts (id, version, body, updated_at, created_at)
			VALUES (?, ?, ?, ?, ?)`, id, v.version, v.body, v.at, created); err != nil {
			return fmt.Errorf("store draft %s: %w", id, err)
		}
	}
	return nil
}
