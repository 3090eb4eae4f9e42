package subscription

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// The logical tables a View reads.
const (
	SubscriptionTable = "webhook_subscription"
	TenantTable       = "tenant"
)

// View is the current set of subscriptions: the file's, fixed, and the table's, kept up to date
// by Apply. Match and Get are safe to call while Apply runs; they see the set as of the last
// Apply.
type View struct {
	file []*Subscription

	mu      sync.Mutex
	table   map[string]*Subscription // active, usable table subscriptions by id
	tenants map[string]string        // tenant id → store code

	current atomic.Pointer[Set]
}

// NewView starts a view with the file's subscriptions and none from the table.
func NewView(file []*Subscription) *View {
	v := &View{file: file, table: map[string]*Subscription{}, tenants: map[string]string{}}
	v.rebuild()
	return v
}

// Set returns the subscriptions as they are now.
func (v *View) Set() *Set { return v.current.Load() }

// Match returns the subscriptions an event of store and event name goes to now.
func (v *View) Match(store, event string) []*Subscription { return v.Set().Match(store, event) }

// Get returns the subscription with id if it receives events now, else nil.
func (v *View) Get(id string) *Subscription { return v.Set().Get(id) }

// Apply folds changes of the subscription and tenant tables into the view, in order, and
// publishes the result once. It returns a problem for each subscription row it had to leave
// out; those rows receive nothing until a later change makes them usable.
func (v *View) Apply(changes []*cdc.Change) []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	var problems []error
	for _, ch := range changes {
		if err := v.apply(ch); err != nil {
			problems = append(problems, err)
		}
	}
	v.rebuild()
	return problems
}

func (v *View) apply(ch *cdc.Change) error {
	row := ch.Row()
	if row == nil {
		return nil // truncate or message: nothing of a single row
	}
	switch ch.Table {
	case TenantTable:
		id := keyOf(ch, "tenant_id")
		if ch.Op == cdc.OpDelete {
			delete(v.tenants, id)
			return nil
		}
		if code := row.Get("code"); code.Known() {
			v.tenants[id] = code.Text()
		}
	case SubscriptionTable:
		id := keyOf(ch, "subscription_id")
		delete(v.table, id)
		if ch.Op == cdc.OpDelete {
			return nil
		}
		s, err := fromRow(id, row)
		if err != nil {
			return fmt.Errorf("webhook_subscription %s left out: %w", id, err)
		}
		if s != nil {
			v.table[id] = s
		}
	}
	return nil
}

// keyOf is the primary key of a change: its key, or the key column of its row.
func keyOf(ch *cdc.Change, column string) string {
	if k := ch.KeyText(); k != "" {
		return k
	}
	return ch.Row().Get(column).Text()
}

// rebuild publishes the file's and the table's subscriptions as a new Set; v.mu is held.
func (v *View) rebuild() {
	subs := make([]*Subscription, 0, len(v.file)+len(v.table))
	subs = append(subs, v.file...)
	for _, id := range slices.Sorted(maps.Keys(v.table)) {
		subs = append(subs, v.table[id])
	}
	v.current.Store(newSet(subs, func(s *Subscription) (string, bool) {
		if s.Origin == FromFile {
			return s.StoreCode, true
		}
		code, ok := v.tenants[s.TenantID]
		return code, ok && code != ""
	}))
}
