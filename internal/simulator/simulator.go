package simulator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// Sink receives each change the simulated database writes, in commit order.
type Sink func(ctx context.Context, ch *cdc.Change) error

// Options shape a simulated database.
type Options struct {
	// Seed fixes every random choice: the same seed and clock give the same changes.
	Seed int64
	// Tenants is the number of stores; the first has the store code "DEFAULT". 0 means 1.
	Tenants int
	// Members is the number of members each store has before the first action. 0 means 12.
	Members int
	// Clock gives commit times (source.ts_ms) and the "now" that dates and expiries are
	// drawn around. nil means time.Now.
	Clock func() time.Time
	// Weights sets how often Step picks each action, relative to the others; an action with
	// weight 0 is never picked. nil means DefaultWeights().
	Weights map[Action]int
}

// The database name and schema Debezium reports in source.db and source.schema.
const (
	DatabaseName = "loyalty"
	SchemaName   = "public"
)

// ErrNotPossible is returned by Do when the database holds nothing the action could act on,
// such as a status change without an open redemption.
var ErrNotPossible = errors.New("simulator: nothing to act on")

// Simulator is a simulated loyalty database. It is not safe for concurrent use.
type Simulator struct {
	o       Options
	g       gen
	clock   func() time.Time
	weights []int // by index into Actions

	started bool
	txID    int64
	lsn     int64
	rows    map[string][]entity // current rows per table, in insertion order

	tenants      []*tenant
	members      []*member
	codes        []*memberCode
	transactions []*transaction
	issued       []*issuedReward
	effects      []*effectResult
}

// New returns a simulated database. Its rows are made on the first Snapshot or Step.
func New(o Options) *Simulator {
	if o.Tenants <= 0 {
		o.Tenants = 1
	}
	if o.Members <= 0 {
		o.Members = 12
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	weights := o.Weights
	if weights == nil {
		weights = DefaultWeights()
	}
	s := &Simulator{o: o, g: newGen(o.Seed), clock: o.Clock, rows: map[string][]entity{}}
	for _, a := range Actions {
		s.weights = append(s.weights, max(weights[a], 0))
	}
	return s
}

// Snapshot writes every current row of every table as a snapshot read (op "r"), table by table
// in reference order, all with the snapshot transaction's txId and LSN, the way Debezium's
// initial snapshot reports them. The last row is marked source.snapshot "last".
func (s *Simulator) Snapshot(ctx context.Context, sink Sink) error {
	s.start()
	now := s.now()
	s.txID += int64(s.g.between(1, 4))
	var changes []*cdc.Change
	for _, def := range cdc.Reference {
		for _, e := range s.rows[def.Name] {
			changes = append(changes, &cdc.Change{Table: def.Name, Op: cdc.OpRead, Key: keyOf(e), After: e.row()})
		}
	}
	for i, ch := range changes {
		mark := "true"
		if i == len(changes)-1 {
			mark = "last"
		}
		ch.Source = s.source(ch.Table, now, mark, s.lsn)
		ch.TsMs = now.UnixMilli() + int64(i/50)
		if err := sink(ctx, ch); err != nil {
			return fmt.Errorf("snapshot %s: %w", ch.Table, err)
		}
	}
	return nil
}

// Step performs one business action, chosen at random by weight among those the database can
// do now, and writes its changes as one transaction.
func (s *Simulator) Step(ctx context.Context, sink Sink) error {
	s.start()
	weights := slices.Clone(s.weights)
	for {
		i := s.pickWeighted(weights)
		if i < 0 {
			return ErrNotPossible
		}
		tx := s.begin()
		if s.perform(tx, Actions[i]) {
			return tx.commit(ctx, sink)
		}
		weights[i] = 0
	}
}

// Do performs the given action and writes its changes as one transaction. It returns an error
// wrapping ErrNotPossible when the database holds nothing the action could act on.
func (s *Simulator) Do(ctx context.Context, a Action, sink Sink) error {
	s.start()
	if _, ok := actionFuncs[a]; !ok {
		return fmt.Errorf("simulator: unknown action %q", a)
	}
	tx := s.begin()
	if !s.perform(tx, a) {
		return fmt.Errorf("%s: %w", a, ErrNotPossible)
	}
	return tx.commit(ctx, sink)
}

func (s *Simulator) perform(tx *txn, a Action) bool { return actionFuncs[a](s, tx) }

func (s *Simulator) pickWeighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		return -1
	}
	n := s.g.intn(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return -1
}

// now is the clock's time at PostgreSQL's precision.
func (s *Simulator) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// start makes the initial rows once. They are read, not written: Snapshot reports them.
func (s *Simulator) start() {
	if s.started {
		return
	}
	s.started = true
	s.txID = int64(s.g.between(700, 900))
	s.lsn = int64(s.g.between(0x1600000, 0x1700000)) &^ 7
	s.seed()
}

func (s *Simulator) source(table string, now time.Time, snapshot string, lsn int64) cdc.Source {
	return cdc.Source{
		TsMs:     now.UnixMilli(),
		Snapshot: snapshot,
		DB:       DatabaseName,
		Schema:   SchemaName,
		Table:    table,
		TxID:     s.txID,
		LSN:      lsn,
	}
}

func keyOf(e entity) *cdc.Row {
	def, _ := cdc.ReferenceTable(e.table())
	return &cdc.Row{Columns: []cdc.Column{{Name: def.Key[0], Value: cdc.StringValue(e.id())}}}
}

// txn collects the row changes of one database transaction.
type txn struct {
	s       *Simulator
	now     time.Time
	changes []*cdc.Change
}

func (s *Simulator) begin() *txn { return &txn{s: s, now: s.now()} }

func (t *txn) insert(e entity) {
	t.s.rows[e.table()] = append(t.s.rows[e.table()], e)
	t.changes = append(t.changes, &cdc.Change{Table: e.table(), Op: cdc.OpCreate, Key: keyOf(e), After: e.row()})
}

// update applies change to e and records the full before and after images.
func (t *txn) update(e entity, change func()) {
	before := e.row()
	change()
	if u, ok := e.(touched); ok {
		u.touch(t.now)
	}
	t.changes = append(t.changes, &cdc.Change{Table: e.table(), Op: cdc.OpUpdate, Key: keyOf(e), Before: before, After: e.row()})
}

func (t *txn) delete(e entity) {
	t.s.rows[e.table()] = slices.DeleteFunc(t.s.rows[e.table()], func(x entity) bool { return x == e })
	t.changes = append(t.changes, &cdc.Change{Table: e.table(), Op: cdc.OpDelete, Key: keyOf(e), Before: e.row()})
}

// commit gives the changes one txId, increasing LSNs and the commit time, and hands them to the
// sink. The rows have changed whatever the sink answers, as a committed transaction has.
func (t *txn) commit(ctx context.Context, sink Sink) error {
	s := t.s
	s.txID += int64(s.g.between(1, 3))
	s.lsn += int64(s.g.between(2, 64)) * 8 // other transactions' WAL in between
	lag := int64(s.g.between(3, 40))       // Debezium reads the change a little after commit
	for _, ch := range t.changes {
		s.lsn += int64(s.g.between(7, 60)) * 8
		ch.Source = s.source(ch.Table, t.now, "false", s.lsn)
		ch.TsMs = t.now.UnixMilli() + lag
	}
	for _, ch := range t.changes {
		if err := sink(ctx, ch); err != nil {
			return fmt.Errorf("%s %s: %w", ch.Op, ch.Table, err)
		}
	}
	return nil
}
