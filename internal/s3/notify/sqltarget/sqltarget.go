// Package sqltarget is the notification target that keeps events in a
// PostgreSQL or MySQL/MariaDB table, in MinIO's two formats: "namespace"
// (one row per object, upserted on each change and deleted with the
// object) and "access" (every event appended as a row).
package sqltarget

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"cairn/internal/s3/notify"
)

// Config is a SQL target's settings.
type Config struct {
	ID string
	// Engine is "postgres" or "mysql".
	Engine string
	// DSN is the connection string: libpq's keyword or URL form for
	// PostgreSQL, go-sql-driver's user:pass@tcp(host:port)/db for MySQL.
	DSN    string
	Table  string
	Format string // "namespace" (default) or "access"
	// MaxOpen bounds the connections (default 2).
	MaxOpen int
}

// dialect holds one engine's statements; %s is the table.
type dialect struct {
	driver                string
	createNS, createLog   string
	upsert, remove, write string
}

var dialects = map[string]dialect{
	"postgres": {
		driver:    "pgx",
		createNS:  `CREATE TABLE IF NOT EXISTS %s (key VARCHAR PRIMARY KEY, value JSONB)`,
		createLog: `CREATE TABLE IF NOT EXISTS %s (event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)`,
		upsert:    `INSERT INTO %s (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
		remove:    `DELETE FROM %s WHERE key = $1`,
		write:     `INSERT INTO %s (event_time, event_data) VALUES ($1, $2)`,
	},
	"mysql": {
		driver: "mysql",
		createNS: `CREATE TABLE IF NOT EXISTS %s (key_name VARCHAR(3072) NOT NULL, ` +
			`key_hash CHAR(64) GENERATED ALWAYS AS (SHA2(key_name, 256)) STORED, value JSON, UNIQUE KEY (key_hash))`,
		createLog: `CREATE TABLE IF NOT EXISTS %s (event_time DATETIME(6) NOT NULL, event_data JSON)`,
		upsert:    `INSERT INTO %s (key_name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)`,
		remove:    `DELETE FROM %s WHERE key_hash = SHA2(?, 256)`,
		write:     `INSERT INTO %s (event_time, event_data) VALUES (?, ?)`,
	},
}

// tableName is what a table may be called (it is put into statements).
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Target delivers to a SQL table.
type Target struct {
	cfg     Config
	arn     string
	d       dialect
	db      *sql.DB
	created bool
}

// New returns the target cfg describes (it connects on first use).
func New(cfg Config) (*Target, error) {
	d, ok := dialects[cfg.Engine]
	if !ok {
		return nil, fmt.Errorf("%s %s: unknown engine", cfg.Engine, cfg.ID)
	}
	if !tableName.MatchString(cfg.Table) {
		return nil, fmt.Errorf("%s %s: table %q: letters, digits and _ only", cfg.Engine, cfg.ID, cfg.Table)
	}
	switch cfg.Format {
	case "":
		cfg.Format = "namespace"
	case "namespace", "access":
	default:
		return nil, fmt.Errorf("%s %s: format %q: namespace or access", cfg.Engine, cfg.ID, cfg.Format)
	}
	if cfg.DSN == "" {
		return nil, fmt.Errorf("%s %s: a connection string is required", cfg.Engine, cfg.ID)
	}
	db, err := sql.Open(d.driver, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", cfg.Engine, cfg.ID, err)
	}
	db.SetMaxOpenConns(max(cfg.MaxOpen, 2))
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Target{cfg: cfg, arn: notify.ARN{ID: cfg.ID, Type: cfg.Engine}.String(), d: d, db: db}, nil
}

// ARN implements notify.Target.
func (t *Target) ARN() string { return t.arn }

// Send implements notify.Target. The table is created on first use.
func (t *Target) Send(ctx context.Context, m *notify.Message) error {
	if !t.created {
		q := t.d.createNS
		if t.cfg.Format == "access" {
			q = t.d.createLog
		}
		if _, err := t.db.ExecContext(ctx, fmt.Sprintf(q, t.cfg.Table)); err != nil {
			return fmt.Errorf("%s: creating table %s: %w", t.arn, t.cfg.Table, err)
		}
		t.created = true
	}
	doc := m.Doc
	var err error
	switch {
	case t.cfg.Format == "access":
		_, err = t.db.ExecContext(ctx, fmt.Sprintf(t.d.write, t.cfg.Table), m.Time.UTC(), string(doc))
	case m.Removal():
		_, err = t.db.ExecContext(ctx, fmt.Sprintf(t.d.remove, t.cfg.Table), m.Path)
	default:
		_, err = t.db.ExecContext(ctx, fmt.Sprintf(t.d.upsert, t.cfg.Table), m.Path, string(doc))
	}
	return err
}

// Close implements notify.Target.
func (t *Target) Close() error { return t.db.Close() }
