package subscription

// Set is an immutable index of subscriptions by store code and event name.
type Set struct {
	byID     map[string]*Subscription
	exact    map[[2]string][]*Subscription // (store, event)
	anyEvent map[string][]*Subscription    // store → subscriptions to every event
	anyStore map[string][]*Subscription    // event → subscriptions for every store
	every    []*Subscription               // every store, every event
}

// newSet indexes subs; storeOf gives a subscription's store code ("" for every store) and
// false when it cannot be matched yet (a table subscription whose tenant is not known).
func newSet(subs []*Subscription, storeOf func(*Subscription) (string, bool)) *Set {
	s := &Set{
		byID:     map[string]*Subscription{},
		exact:    map[[2]string][]*Subscription{},
		anyEvent: map[string][]*Subscription{},
		anyStore: map[string][]*Subscription{},
	}
	for _, sub := range subs {
		store, ok := storeOf(sub)
		if !ok {
			continue
		}
		s.byID[sub.ID] = sub
		switch {
		case store == "" && len(sub.EventNames) == 0:
			s.every = append(s.every, sub)
		case store == "":
			for _, e := range sub.EventNames {
				s.anyStore[e] = append(s.anyStore[e], sub)
			}
		case len(sub.EventNames) == 0:
			s.anyEvent[store] = append(s.anyEvent[store], sub)
		default:
			for _, e := range sub.EventNames {
				k := [2]string{store, e}
				s.exact[k] = append(s.exact[k], sub)
			}
		}
	}
	return s
}

// Match returns the subscriptions an event of store and event name goes to. The result is
// shared: callers must not modify it.
func (s *Set) Match(store, event string) []*Subscription {
	var lists [4][]*Subscription
	n, total := 0, 0
	for _, l := range [][]*Subscription{s.exact[[2]string{store, event}], s.anyEvent[store], s.anyStore[event], s.every} {
		if len(l) > 0 {
			lists[n] = l
			n++
			total += len(l)
		}
	}
	if store == "" {
		// An event of an unknown store goes only to subscriptions for every store.
		n, total = 0, 0
		for _, l := range [][]*Subscription{s.anyStore[event], s.every} {
			if len(l) > 0 {
				lists[n] = l
				n++
				total += len(l)
			}
		}
	}
	switch n {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	out := make([]*Subscription, 0, total)
	for _, l := range lists[:n] {
		out = append(out, l...)
	}
	return out
}

// Get returns the subscription with id, or nil when there is none that receives anything.
func (s *Set) Get(id string) *Subscription { return s.byID[id] }

// Len is the number of subscriptions that can receive events.
func (s *Set) Len() int { return len(s.byID) }
