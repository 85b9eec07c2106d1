package suite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/duckdb/duckdb-go/v2"
)

// duck is an in-process, in-memory DuckDB database: the peer a team would
// reach for to run analytical SQL inside a Go service.
type duck struct {
	connector *duckdb.Connector
	db        *sql.DB
}

func openDuck() (*duck, error) {
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return &duck{connector: c, db: sql.OpenDB(c)}, nil
}

func (d *duck) Close() error {
	err := d.db.Close()
	if cerr := d.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d *duck) exec(ctx context.Context, q string) error {
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("duckdb: %w\n%s", err, q)
	}
	return nil
}

// int64 runs a query that returns one integer.
func (d *duck) int64(ctx context.Context, q string, args ...any) (int64, error) {
	var n sql.NullInt64
	if err := d.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("duckdb: %w\n%s", err, q)
	}
	return n.Int64, nil
}

// ids runs a query that returns one unsigned integer column, such as the
// member IDs of an audience.
func (d *duck) ids(ctx context.Context, q string, args ...any) ([]uint32, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w\n%s", err, q)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("duckdb: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// version returns DuckDB's version, for the report.
func (d *duck) version(ctx context.Context) string {
	var v string
	if err := d.db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// memory returns the memory DuckDB's buffer manager holds: the size of the
// loaded tables, which live outside the Go heap.
func (d *duck) memory() int64 {
	n, err := d.int64(context.Background(), "SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
	if err != nil {
		return 0
	}
	return n
}

// appendRows fills table with n rows through DuckDB's appender, the fast
// bulk path its documentation recommends; row fills vals, one value per
// column of the table, for row i.
func (d *duck) appendRows(ctx context.Context, table string, cols, n int, task *harness.Task, row func(i int, vals []driver.Value)) error {
	conn, err := d.connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("duckdb connect: %w", err)
	}
	defer conn.Close()
	ap, err := duckdb.NewAppenderFromConn(conn, "", table)
	if err != nil {
		return fmt.Errorf("duckdb appender on %s: %w", table, err)
	}
	vals := make([]driver.Value, cols)
	for i := range n {
		row(i, vals)
		if err := ap.AppendRow(vals...); err != nil {
			ap.Close()
			return fmt.Errorf("duckdb append to %s, row %d: %w", table, i, err)
		}
		if i%65536 == 65535 {
			task.Add(65536)
			if err := ctx.Err(); err != nil {
				ap.Close()
				return err
			}
		}
	}
	task.Add(int64(n % 65536))
	if err := ap.Close(); err != nil {
		return fmt.Errorf("duckdb appender on %s: %w", table, err)
	}
	return nil
}
