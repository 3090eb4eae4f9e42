package rules

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// Event is one webhook event a change triggered, with the key of its webhook record.
type Event struct {
	// Key is the Kafka record key: the member id, or the source row's primary key when the
	// event concerns no member.
	Key string
	schemas.Event
}

// ops is a set of operations a rule watches.
type ops uint8

const (
	onInsert ops = 1 << iota
	onUpdate
)

func opOf(op cdc.Op) ops {
	switch op {
	case cdc.OpCreate:
		return onInsert
	case cdc.OpUpdate:
		return onUpdate
	}
	// Snapshot reads, deletes, truncates and messages fire nothing.
	return 0
}

// rule is one row-driven trigger.
type rule struct {
	trigger string
	table   string // logical table
	ops     ops
	// when is the condition on the before and after images (before is nil on insert).
	when func(before, after *cdc.Row) bool
	// needs are the lookup rows the event cannot be built right without; a change that fires
	// the rule before they arrive is deferred (see Lacking).
	needs []need
	// build makes the event's data, following schemas/triggers/<trigger>.avsc.
	build func(r *input) (map[string]any, error)
}

// table is every row-driven trigger of CONTRACT §2. Adding a trigger is one entry here, one
// record in schemas/triggers and one golden test. Triggers of one table fire in this order.
var table = []rule{
	// trigger, table, operations, condition on before/after, lookups required, data
	{CustomerRegistered, "member", onInsert, is("active", true),
		needs(storeRow), customerRegistered},
	{CustomerWasRegisteredWithoutActivation, "member_code", onInsert, equals("purpose", "registration"),
		needs(storeRow, customerRow), memberCode},
	{CustomerRequestedSendActivationCode, "member_code", onInsert, equals("purpose", "activation_resend"),
		needs(storeRow, customerRow), memberCode},
	{CustomerRequestedPasswordReset, "member_code", onInsert, equals("purpose", "password_reset"),
		needs(storeRow, customerRow), memberCode},
	{CustomerEmailWasChanged, "member_code", onInsert, equals("purpose", "email_change"),
		needs(storeRow, customerRow), memberCode},
	{CustomerPhoneNumberWasChanged, "member_code", onInsert, equals("purpose", "phone_change"),
		needs(storeRow, customerRow), memberCode},
	{CustomerUpdated, "member", onUpdate, differs(profileColumns...),
		needs(storeRow), memberCustomer},
	{CustomerLevelChanged, "member", onInsert | onUpdate, setAndDiffers("level_id"),
		needs(storeRow, tierRow, previousTierRow), customerLevelChanged},
	{CustomerDeactivated, "member", onUpdate, turns("active", true, false),
		needs(storeRow), memberCustomer},
	{TransactionRegistered, "transaction", onInsert, always,
		needs(storeRow), transactionRegistered},
	{TransactionAssignedToCustomer, "transaction", onUpdate, setAndDiffers("member_id"),
		needs(storeRow, customerRow), transactionAssigned},
	{AvailablePointsAmountChanged, "wallet", onInsert | onUpdate, amountChanged("active_units"),
		needs(storeRow, customerRow, lastTransferRow), availablePointsChanged},
	{RewardRedemptionStatusChanged, "issued_reward", onUpdate, differs("status"),
		needs(storeRow), redemptionStatusChanged},
	{CustomerBoughtReward, "issued_reward", onInsert, always,
		needs(storeRow, customerRow, rewardRow), customerBoughtReward},
	{CampaignEffectWasApplied, "campaign_effect_result", onInsert | onUpdate, becomes("status", "success"),
		needs(storeRow, customerRow, campaignRow), campaignEffectApplied},
}

// need is a lookup row an event cannot be built right without: the lookup table and the column
// of the change whose value keys the row (the before image's, for before). A column that is null
// needs nothing.
type need struct {
	lookup string
	column string
	before bool
}

// The lookup rows the rules require.
var (
	storeRow        = need{lookup: "tenant", column: "tenant_id"}               // the store code
	customerRow     = need{lookup: "member", column: "member_id"}               // the customer object
	tierRow         = need{lookup: "tier", column: "level_id"}                  // the level's name and rank
	previousTierRow = need{lookup: "tier", column: "level_id", before: true}    // the rank moved from
	lastTransferRow = need{lookup: "unit_transfer", column: "last_transfer_id"} // P2P type, actionCause
	rewardRow       = need{lookup: "reward", column: "reward_id"}               // the reward's name, type
	campaignRow     = need{lookup: "campaign", column: "campaign_id"}           // the campaign's name
)

func needs(n ...need) []need { return n }

// memberColumn holds the id of the member an event concerns, the key of its record; events of
// rows without one are keyed by the row's primary key.
const memberColumn = "member_id"

// profileColumns are the member columns whose change is a CustomerUpdated.
var profileColumns = []string{
	"first_name", "last_name", "gender", "email", "phone", "birth_date", "loyalty_card_number",
	"registered_at", "address", "company", "agreement1", "agreement2", "agreement3",
	"custom_attributes", "level_id",
}

// byTable indexes the rules by the table they watch, in table order.
var byTable = func() map[string][]*rule {
	m := map[string][]*rule{}
	for i := range table {
		m[table[i].table] = append(m[table[i].table], &table[i])
	}
	return m
}()

// Apply appends every event the change triggers to dst, in the order of the rule table. A
// lookup row that is missing gives nulls and a miss counted by the view, never an error; an
// error means the change cannot be turned into events (a malformed value), and dst comes back
// without any event of this change.
func Apply(ch *cdc.Change, view *lookup.View, dst []Event) ([]Event, error) {
	return ApplyTriggers(ch, view, AllTriggers, dst)
}

// ApplyTriggers is Apply for the triggers of the set only.
func ApplyTriggers(ch *cdc.Change, view *lookup.View, only Triggers, dst []Event) ([]Event, error) {
	op, before := images(ch)
	if op == 0 || only == 0 {
		return dst, nil
	}
	n := len(dst)
	var r *input // made once a rule fires: most changes fire nothing
	for i, ru := range byTable[ch.Table] {
		if only&(1<<i) == 0 || ru.ops&op == 0 || !ru.when(before, ch.After) {
			continue
		}
		if r == nil {
			r = &input{ch: ch, view: view}
		}
		data, err := ru.build(r)
		if err != nil {
			return dst[:n], fmt.Errorf("rule %s on %s %s@%d: %w", ru.trigger, ch.Table, ch.KeyText(), ch.Source.LSN, err)
		}
		dst = append(dst, r.event(ru, data))
	}
	return dst, nil
}

// images returns the operation a change is to the rules (0: none fires) and the before image
// the conditions compare with.
func images(ch *cdc.Change) (ops, *cdc.Row) {
	op := opOf(ch.Op)
	before := ch.Before
	if op == onUpdate && before == nil {
		// Without REPLICA IDENTITY FULL an update has no before image: no previous value is
		// known, so no column differs, and the update must not pass for an insert.
		before = &cdc.Row{}
	}
	return op, before
}

// event wraps the data of a rule that fired into the event.
func (r *input) event(ru *rule, data map[string]any) Event {
	ch := r.ch
	key := ch.KeyText()
	ev := Event{Key: key, Event: schemas.Event{
		MessageID: changeMessageID(ru.trigger, ch, key),
		EventName: ru.trigger,
		StoreCode: r.storeCode(),
		CreatedAt: createdAt(ch),
		Data:      data,
		Source: schemas.Source{
			Topic:     ch.Source.Topic,
			Partition: ch.Source.Partition,
			Offset:    ch.Source.Offset,
			Table:     ch.Table,
			Op:        opNames[ch.Op],
			LSN:       ch.Source.LSN,
			TxID:      ch.Source.TxID,
		},
	}}
	if m := r.get(memberColumn); m.Known() {
		ev.Key = m.Text()
	}
	return ev
}

// changeMessageID is the message id of a trigger's event of a change whose key text is key.
func changeMessageID(trigger string, ch *cdc.Change, key string) string {
	discriminator := ""
	if ch.Source.LSN == 0 {
		// Without an LSN, successive changes of a row would share ids; the commit time
		// tells them apart and is as stable on redelivery.
		discriminator = strconv.FormatInt(ch.Source.TsMs, 10)
	}
	return MessageID(trigger, ch.Table, key, ch.Source.LSN, ch.Op, discriminator)
}

// opNames avoids allocating the one-letter op text per event.
var opNames = map[cdc.Op]string{cdc.OpCreate: "c", cdc.OpUpdate: "u"}

// createdAt is when the database committed the change, so a replay yields the same event.
func createdAt(ch *cdc.Change) time.Time {
	ms := ch.Source.TsMs
	if ms == 0 {
		ms = ch.TsMs
	}
	return time.UnixMilli(ms).UTC()
}

// messageNamespace is the UUID namespace of message ids derived from source changes.
var messageNamespace = uuid.MustParse("fafe7303-c9fe-4c4b-bfcd-63207c8d8fda")

// MessageID is the deterministic id of the event a trigger makes of a source change: a name-based
// (SHA-1, version 5) UUID over the trigger, logical table, primary-key text, source LSN, op and
// a discriminator that tells apart several events of one trigger from one change ("" when
// there is one). A change delivered twice gets the same id; equal to
// uuid.NewSHA1(namespace, fields joined by 0x1f), without its allocations.
func MessageID(trigger, table, key string, lsn int64, op cdc.Op, discriminator string) string {
	var buf [256]byte
	b := append(buf[:0], messageNamespace[:]...)
	b = append(b, trigger...)
	b = append(b, 0x1f)
	b = append(b, table...)
	b = append(b, 0x1f)
	b = append(b, key...)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, lsn, 10)
	b = append(b, 0x1f, byte(op), 0x1f)
	b = append(b, discriminator...)
	sum := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// foreignKey is a column of a table whose value keys a row of a lookup table.
type foreignKey struct {
	column string
	lookup string
	before bool // the before image's value (the previous tier of a member)
}

// foreignKeys are the lookup rows each table's changes may need: by the rules here, and by the
// expiry timers (settings for N days, tiers for projected levels). Tables not listed need none.
var foreignKeys = map[string][]foreignKey{
	"member": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "level_id", lookup: "tier"}, {column: "level_id", lookup: "tier", before: true},
		{column: "projected_level_id", lookup: "tier"}, {column: "projected_level_id", lookup: "tier", before: true},
		{column: "manually_assigned_level_id", lookup: "tier"},
	},
	"member_code": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"},
	},
	"transaction": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"},
	},
	"wallet": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"}, {column: "last_transfer_id", lookup: "unit_transfer"},
	},
	"unit_transfer": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"}, {column: "wallet_id", lookup: "wallet"},
	},
	"issued_reward": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"}, {column: "reward_id", lookup: "reward"},
	},
	"campaign_effect_result": {
		{column: "tenant_id", lookup: "tenant"}, {column: "tenant_id", lookup: "settings"},
		{column: "member_id", lookup: "member"}, {column: "campaign_id", lookup: "campaign"},
	},
}

// References appends the lookup rows a change may need to dst, each once, so the caller can
// fetch those of a whole batch in one round trip before applying the rules. Snapshot reads
// count (they schedule timers); deletes, truncates and messages need nothing.
func References(ch *cdc.Change, dst []lookup.Ref) []lookup.Ref {
	if ch.Op != cdc.OpCreate && ch.Op != cdc.OpUpdate && ch.Op != cdc.OpRead {
		return dst
	}
	n := len(dst)
	r := input{ch: ch}
	for _, fk := range foreignKeys[ch.Table] {
		v := r.get(fk.column)
		if fk.before {
			v = ch.Before.Get(fk.column)
		}
		if !v.Known() {
			continue
		}
		ref := lookup.Ref{Table: fk.lookup, Key: v.Text()}
		if !hasRef(dst[n:], ref) {
			dst = append(dst, ref)
		}
	}
	return dst
}

func hasRef(refs []lookup.Ref, ref lookup.Ref) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}

// RowTriggers returns the names of the row-driven triggers, in the order of the rule table.
func RowTriggers() []string {
	out := make([]string, 0, len(table))
	for _, r := range table {
		if len(out) == 0 || out[len(out)-1] != r.trigger {
			out = append(out, r.trigger)
		}
	}
	return out
}
