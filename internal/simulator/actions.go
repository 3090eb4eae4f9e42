package simulator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action is a business action of the loyalty programme, performed as one database transaction.
type Action string

// The actions the simulated database performs, named after what happens in the programme.
// Each comment lists the rows its transaction writes.
const (
	// MemberRegistered: member insert (active, lowest tier) and wallet insert.
	MemberRegistered Action = "member_registered"
	// MemberRegisteredWithoutActivation: member insert (inactive), wallet insert and a
	// member_code insert with purpose "registration".
	MemberRegisteredWithoutActivation Action = "member_registered_without_activation"
	// MemberActivated: member update active false → true; its activation codes are deleted.
	MemberActivated Action = "member_activated"
	// ActivationCodeResent: member_code insert with purpose "activation_resend".
	ActivationCodeResent Action = "activation_code_resent"
	// PasswordResetRequested: member_code insert with purpose "password_reset".
	PasswordResetRequested Action = "password_reset_requested"
	// EmailChangeRequested: member_code insert with purpose "email_change".
	EmailChangeRequested Action = "email_change_requested"
	// PhoneChangeRequested: member_code insert with purpose "phone_change".
	PhoneChangeRequested Action = "phone_change_requested"
	// ProfileUpdated: member update of one or two profile columns.
	ProfileUpdated Action = "profile_updated"
	// TierChanged: member update of level_id, up or down a tier, sometimes assigned manually.
	TierChanged Action = "tier_changed"
	// TierRecalculationScheduled: member update of next_recalculation_at and
	// projected_level_id only: a downgrade announced soon, or a downgrade called off.
	TierRecalculationScheduled Action = "tier_recalculation_scheduled"
	// MemberDeactivated: member update active true → false.
	MemberDeactivated Action = "member_deactivated"
	// PurchaseRegistered: transaction insert matched to a member, campaign_effect_result
	// inserts (points for the purchase, sometimes a skipped or failed weekend bonus), an adding
	// unit_transfer and the wallet update.
	PurchaseRegistered Action = "purchase_registered"
	// TransactionRegistered: transaction insert without a member (sale or return).
	TransactionRegistered Action = "transaction_registered"
	// TransactionAssigned: transaction update member_id null → member, sometimes with the
	// purchase's points in the same transaction.
	TransactionAssigned Action = "transaction_assigned"
	// PointsAdded: adding unit_transfer insert (sometimes pending, sometimes expiring soon)
	// and the wallet update.
	PointsAdded Action = "points_added"
	// PendingPointsUnlocked: unit_transfer update pending true → false and the wallet update.
	PendingPointsUnlocked Action = "pending_points_unlocked"
	// PointsSpent: spending unit_transfer insert, updates of the adding transfers it draws
	// from, and the wallet update.
	PointsSpent Action = "points_spent"
	// PointsTransferred: p2p_spending and p2p_adding unit_transfer inserts referring to each
	// other, and both wallets' updates.
	PointsTransferred Action = "points_transferred"
	// PointsExpired: expired unit_transfer insert, the expiring transfer's update and the
	// wallet update.
	PointsExpired Action = "points_expired"
	// PointsCancelled: unit_transfer update cancelled false → true and the wallet update.
	PointsCancelled Action = "points_cancelled"
	// RewardBought: issued_reward insert (with a coupon for coupon rewards), spending
	// unit_transfer insert and updates, and the wallet update.
	RewardBought Action = "reward_bought"
	// RedemptionStatusChanged: issued_reward update of status, comment and date.
	RedemptionStatusChanged Action = "redemption_status_changed"
	// CampaignEffectApplied: campaign_effect_result insert (success, failed or skipped) for
	// an event, achievement or code campaign, with the rows a successful effect writes: points
	// (unit_transfer and wallet), a custom attribute (member update) or a reward (issued_reward).
	CampaignEffectApplied Action = "campaign_effect_applied"
	// CampaignEffectRetried: campaign_effect_result update failed → success, with its points.
	CampaignEffectRetried Action = "campaign_effect_retried"
	// NotificationSettingsChanged: settings update of one expire_*_notification_days.
	NotificationSettingsChanged Action = "notification_settings_changed"
)

// Actions lists every action, in the order of the constants.
var Actions = []Action{
	MemberRegistered, MemberRegisteredWithoutActivation, MemberActivated, ActivationCodeResent,
	PasswordResetRequested, EmailChangeRequested, PhoneChangeRequested, ProfileUpdated,
	TierChanged, TierRecalculationScheduled, MemberDeactivated, PurchaseRegistered,
	TransactionRegistered, TransactionAssigned, PointsAdded, PendingPointsUnlocked, PointsSpent,
	PointsTransferred, PointsExpired, PointsCancelled, RewardBought, RedemptionStatusChanged,
	CampaignEffectApplied, CampaignEffectRetried, NotificationSettingsChanged,
}

// DefaultWeights is how often Step picks each action relative to the others: purchases and
// points dominate, account events are rarer, deactivations and settings changes rare.
func DefaultWeights() map[Action]int {
	return map[Action]int{
		MemberRegistered: 8, MemberRegisteredWithoutActivation: 3, MemberActivated: 2,
		ActivationCodeResent: 2, PasswordResetRequested: 2, EmailChangeRequested: 1,
		PhoneChangeRequested: 1, ProfileUpdated: 5, TierChanged: 3, TierRecalculationScheduled: 2,
		MemberDeactivated: 1, PurchaseRegistered: 20, TransactionRegistered: 5, TransactionAssigned: 4,
		PointsAdded: 6, PendingPointsUnlocked: 2, PointsSpent: 5, PointsTransferred: 3,
		PointsExpired: 2, PointsCancelled: 1, RewardBought: 6, RedemptionStatusChanged: 6,
		CampaignEffectApplied: 6, CampaignEffectRetried: 1, NotificationSettingsChanged: 1,
	}
}

// actionFuncs perform an action inside a transaction. They report false, having changed
// nothing, when the database holds nothing to act on.
var actionFuncs = map[Action]func(*Simulator, *txn) bool{
	MemberRegistered:                  (*Simulator).memberRegistered,
	MemberRegisteredWithoutActivation: (*Simulator).memberRegisteredWithoutActivation,
	MemberActivated:                   (*Simulator).memberActivated,
	ActivationCodeResent:              (*Simulator).activationCodeResent,
	PasswordResetRequested:            codeRequest(purposePasswordReset),
	EmailChangeRequested:              codeRequest(purposeEmailChange),
	PhoneChangeRequested:              codeRequest(purposePhoneChange),
	ProfileUpdated:                    (*Simulator).profileUpdated,
	TierChanged:                       (*Simulator).tierChanged,
	TierRecalculationScheduled:        (*Simulator).tierRecalculationScheduled,
	MemberDeactivated:                 (*Simulator).memberDeactivated,
	PurchaseRegistered:                (*Simulator).purchaseRegistered,
	TransactionRegistered:             (*Simulator).transactionRegistered,
	TransactionAssigned:               (*Simulator).transactionAssigned,
	PointsAdded:                       (*Simulator).pointsAdded,
	PendingPointsUnlocked:             (*Simulator).pendingPointsUnlocked,
	PointsSpent:                       (*Simulator).pointsSpent,
	PointsTransferred:                 (*Simulator).pointsTransferred,
	PointsExpired:                     (*Simulator).pointsExpired,
	PointsCancelled:                   (*Simulator).pointsCancelled,
	RewardBought:                      (*Simulator).rewardBought,
	RedemptionStatusChanged:           (*Simulator).redemptionStatusChanged,
	CampaignEffectApplied:             (*Simulator).campaignEffectApplied,
	CampaignEffectRetried:             (*Simulator).campaignEffectRetried,
	NotificationSettingsChanged:       (*Simulator).notificationSettingsChanged,
}

// Choosing what to act on.

// pickOne returns a random element satisfying ok, or nil.
func pickOne[T any](g gen, xs []*T, ok func(*T) bool) *T {
	n := 0
	for _, x := range xs {
		if ok(x) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := g.intn(n)
	for _, x := range xs {
		if ok(x) {
			if k == 0 {
				return x
			}
			k--
		}
	}
	return nil
}

func (m *member) enrolled() bool { return m.active && !m.awaitingActivation }

func (s *Simulator) activeMember(ok func(*member) bool) *member {
	return pickOne(s.g, s.members, func(m *member) bool { return m.enrolled() && (ok == nil || ok(m)) })
}

func (s *Simulator) tenant() *tenant { return pick(s.g, s.tenants) }

// credits lists every transfer that added units to the database's wallets.
func (s *Simulator) credits(ok func(*transfer) bool) []*transfer {
	var out []*transfer
	for _, m := range s.members {
		for _, t := range m.wallet.transfers {
			if ok(t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// Dates.

// dueSoon is an expiry whose reminder, sent days before it, falls due within minutes of now,
// or sometimes is already due: the demo sees the expiry timers fire.
func (s *Simulator) dueSoon(now time.Time, days int) time.Time {
	lead := time.Duration(days) * 24 * time.Hour
	if s.g.chance(0.3) {
		return now.Add(lead - time.Duration(s.g.between(1, 48))*time.Hour)
	}
	return now.Add(lead + time.Duration(s.g.between(1, 15))*time.Minute)
}

// pointsExpiry is when newly earned points expire: a year on, sometimes soon.
func (s *Simulator) pointsExpiry(ten *tenant, now time.Time) time.Time {
	if s.g.chance(0.2) {
		return s.dueSoon(now, ten.settings.pointsDays)
	}
	return now.AddDate(1, 0, 0)
}

// Members and codes.

func (s *Simulator) registerMember(tx *txn, ten *tenant, active bool) *member {
	g := s.g
	m := &member{
		memberID:            g.uuid(),
		tenant:              ten,
		active:              active,
		person:              g.person(),
		registeredAt:        tx.now,
		agreements:          [3]bool{true, g.chance(0.6), g.chance(0.8)},
		referralToken:       g.chars(lowerAlnum, 10),
		level:               ten.tiers[0],
		future:              ten.tiers[0],
		nextRecalculationAt: tx.now.AddDate(1, 0, 0),
		createdAt:           tx.now,
		updatedAt:           tx.now,
		awaitingActivation:  !active,
	}
	if g.chance(0.7) {
		m.birthDate = time.Date(tx.now.Year()-g.between(18, 75), time.Month(g.between(1, 12)), g.between(1, 28), 0, 0, 0, 0, time.UTC)
	}
	if g.chance(0.6) {
		m.cardNumber = "29" + g.chars(digits, 11)
	}
	if g.chance(0.1) {
		m.company = g.company(m.last)
	}
	if g.chance(0.3) {
		m.customAttributes = []keyValue{attribute(g)}
	}
	tx.insert(m)
	m.wallet = &wallet{walletID: g.uuid(), member: m, typeCode: defaultWalletType, updatedAt: tx.now}
	tx.insert(m.wallet)
	s.members = append(s.members, m)
	return m
}

func attribute(g gen) keyValue {
	kv := pick(g, customAttributeChoices)
	return keyValue{Key: kv[0], Value: kv[1]}
}

var codeTTL = map[string]time.Duration{
	purposeRegistration:     72 * time.Hour,
	purposeActivationResend: 72 * time.Hour,
	purposePasswordReset:    time.Hour,
	purposeEmailChange:      24 * time.Hour,
	purposePhoneChange:      24 * time.Hour,
}

func (s *Simulator) issueCode(tx *txn, m *member, purpose string) {
	c := &memberCode{
		codeID:     s.g.uuid(),
		member:     m,
		purpose:    purpose,
		code:       s.g.chars(hexDigits, 32),
		codeNumber: s.g.chars(digits, 6),
		createdAt:  tx.now,
		expiresAt:  tx.now.Add(codeTTL[purpose]),
	}
	tx.insert(c)
	s.codes = append(s.codes, c)
}

func (s *Simulator) memberRegistered(tx *txn) bool {
	s.registerMember(tx, s.tenant(), true)
	return true
}

func (s *Simulator) memberRegisteredWithoutActivation(tx *txn) bool {
	m := s.registerMember(tx, s.tenant(), false)
	s.issueCode(tx, m, purposeRegistration)
	return true
}

func (s *Simulator) memberActivated(tx *txn) bool {
	m := pickOne(s.g, s.members, func(m *member) bool { return m.awaitingActivation })
	if m == nil {
		return false
	}
	tx.update(m, func() { m.active, m.awaitingActivation = true, false })
	// An activation consumes the member's outstanding activation codes.
	s.codes = slices.DeleteFunc(s.codes, func(c *memberCode) bool {
		used := c.member == m && (c.purpose == purposeRegistration || c.purpose == purposeActivationResend)
		if used {
			tx.delete(c)
		}
		return used
	})
	return true
}

func (s *Simulator) activationCodeResent(tx *txn) bool {
	m := pickOne(s.g, s.members, func(m *member) bool { return m.awaitingActivation })
	if m == nil {
		return false
	}
	s.issueCode(tx, m, purposeActivationResend)
	return true
}

func codeRequest(purpose string) func(*Simulator, *txn) bool {
	return func(s *Simulator, tx *txn) bool {
		m := s.activeMember(nil)
		if m == nil {
			return false
		}
		s.issueCode(tx, m, purpose)
		return true
	}
}

// profileEdits change one profile column each.
var profileEdits = []func(g gen, m *member){
	func(g gen, m *member) { m.last = feminine(pick(g, lastNames)) },
	func(g gen, m *member) { m.phone = g.phone(m.addr.Country) },
	func(g gen, m *member) { m.addr = g.address() },
	func(g gen, m *member) { m.email = g.email(m.first, m.last) },
	func(g gen, m *member) { m.agreements[1] = !m.agreements[1] },
	func(g gen, m *member) { m.agreements[2] = !m.agreements[2] },
	func(g gen, m *member) { m.customAttributes = append(slices.Clone(m.customAttributes), attribute(g)) },
	func(g gen, m *member) { m.cardNumber = "29" + g.chars(digits, 11) },
	func(g gen, m *member) {
		if m.company == nil {
			m.company = g.company(m.last)
		} else {
			m.company = nil
		}
	},
	func(g gen, m *member) {
		m.birthDate = time.Date(1950+g.intn(55), time.Month(g.between(1, 12)), g.between(1, 28), 0, 0, 0, 0, time.UTC)
	},
}

func (s *Simulator) profileUpdated(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	tx.update(m, func() {
		for range s.g.between(1, 2) {
			pick(s.g, profileEdits)(s.g, m)
		}
	})
	return true
}

func rankIndex(ten *tenant, t *tier) int { return slices.Index(ten.tiers, t) }

func (s *Simulator) tierChanged(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	i := rankIndex(m.tenant, m.level)
	switch {
	case i == len(m.tenant.tiers)-1:
		i--
	case i == 0 || s.g.chance(0.6):
		i++
	default:
		i--
	}
	next := m.tenant.tiers[i]
	manual := s.g.chance(0.25)
	tx.update(m, func() {
		m.level, m.future = next, next
		m.manualLevel = nil
		if manual {
			m.manualLevel = next
		}
		m.nextRecalculationAt = tx.now.AddDate(1, 0, 0)
	})
	return true
}

// tierRecalculationScheduled announces a downgrade at the next recalculation, soon, or calls
// one off. Only recalculation columns change, so it is no profile update.
func (s *Simulator) tierRecalculationScheduled(tx *txn) bool {
	downgrading := func(m *member) bool { return rankIndex(m.tenant, m.future) < rankIndex(m.tenant, m.level) }
	schedule := s.activeMember(func(m *member) bool { return rankIndex(m.tenant, m.level) > 0 && !downgrading(m) })
	if schedule != nil && (s.g.chance(0.7) || s.activeMember(downgrading) == nil) {
		m := schedule
		tx.update(m, func() {
			m.future = m.tenant.tiers[rankIndex(m.tenant, m.level)-1]
			m.nextRecalculationAt = s.dueSoon(tx.now, m.tenant.settings.levels)
		})
		return true
	}
	m := s.activeMember(downgrading)
	if m == nil {
		return false
	}
	tx.update(m, func() {
		m.future = m.level
		m.nextRecalculationAt = tx.now.AddDate(1, 0, 0)
	})
	return true
}

func (s *Simulator) memberDeactivated(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	tx.update(m, func() { m.active = false })
	return true
}

// Transactions.

func (s *Simulator) newTransaction(tx *txn, ten *tenant, docType string, customer customerData) *transaction {
	ten.docSeq++
	prefix := "FV"
	if docType == "return" {
		prefix = "KOR"
	}
	t := &transaction{
		transactionID:  s.g.uuid(),
		tenant:         ten,
		documentNumber: fmt.Sprintf("%s/%d/%06d", prefix, tx.now.Year(), ten.docSeq),
		documentType:   docType,
		purchasedAt:    tx.now.Add(-time.Duration(s.g.between(0, 1200)) * time.Second),
		channelID:      pick(s.g, ten.channels),
		customer:       customer,
		createdAt:      tx.now,
		updatedAt:      tx.now,
	}
	for range s.g.between(1, 4) {
		p := pick(s.g, products)
		qty := 1
		if s.g.chance(0.3) {
			qty = s.g.between(2, 3)
		}
		labels := []keyValue{}
		for _, l := range p.labels {
			labels = append(labels, keyValue{Key: l[0], Value: l[1]})
		}
		value := p.price * units(qty)
		t.items = append(t.items, item{
			SKU: sku{Code: p.sku}, Name: p.name, Quantity: qty, GrossValue: numberText(value.String()),
			Category: p.category, Maker: p.maker, Labels: labels,
		})
		t.grossValue += value
	}
	s.transactions = append(s.transactions, t)
	return t
}

func customerOf(m *member) customerData {
	c := customerData{
		Email:   ptr(m.email),
		Name:    m.first + " " + m.last,
		Phone:   ptr(m.phone),
		Address: m.addr,
	}
	if m.cardNumber != "" {
		c.LoyaltyCardNumber = ptr(m.cardNumber)
	}
	if m.company != nil {
		c.NIP = ptr(m.company.NIP)
	}
	return c
}

func (s *Simulator) purchaseRegistered(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	t := s.newTransaction(tx, m.tenant, "sell", customerOf(m))
	t.member = m
	tx.insert(t)
	s.awardPurchase(tx, t, s.pointsExpiry(m.tenant, tx.now))
	return true
}

// transactionRegistered writes a sale or return that no member is matched to yet: a guest, or
// a member who did not show the card.
func (s *Simulator) transactionRegistered(tx *txn) bool {
	ten := s.tenant()
	var customer customerData
	if m := pickOne(s.g, s.members, func(m *member) bool { return m.tenant == ten && m.enrolled() }); m != nil && s.g.chance(0.5) {
		customer = customerOf(m)
		customer.LoyaltyCardNumber = nil
	} else {
		p := s.g.person()
		customer = customerData{Name: p.first + " " + p.last, Address: p.addr}
		if s.g.chance(0.7) {
			customer.Email = ptr(p.email)
		}
		if s.g.chance(0.4) {
			customer.Phone = ptr(p.phone)
		}
	}
	docType := "sell"
	if s.g.chance(0.1) {
		docType = "return"
	}
	tx.insert(s.newTransaction(tx, ten, docType, customer))
	return true
}

func (s *Simulator) transactionAssigned(tx *txn) bool {
	t := pickOne(s.g, s.transactions, func(t *transaction) bool { return t.member == nil && t.documentType == "sell" })
	if t == nil {
		return false
	}
	m := pickOne(s.g, s.members, func(m *member) bool {
		return m.tenant == t.tenant && m.enrolled() && t.customer.Email != nil && m.email == *t.customer.Email
	})
	if m == nil {
		m = pickOne(s.g, s.members, func(m *member) bool { return m.tenant == t.tenant && m.enrolled() })
	}
	if m == nil {
		return false
	}
	tx.update(t, func() { t.member = m })
	if s.g.chance(0.5) {
		s.awardPurchase(tx, t, s.pointsExpiry(t.tenant, tx.now))
	}
	return true
}

// awardPurchase runs the tenant's purchase campaigns for a matched transaction: points for the
// purchase, and now and then the weekend bonus skipping or failing.
func (s *Simulator) awardPurchase(tx *txn, t *transaction, expiresAt time.Time) {
	m, ten := t.member, t.tenant
	points := t.grossValue / 100 * 100 // a point per whole unit of money
	execution := s.g.uuid()
	trigger := func() map[string]any {
		return map[string]any{
			"type": triggerTransaction, "triggerId": t.transactionID, "createdAt": isoTime(tx.now),
			"purchasedAt": isoTime(t.purchasedAt), "documentNumber": t.documentNumber,
		}
	}
	s.applyEffect(tx, &effectResult{
		executionID: execution, campaign: ten.purchasePoints, member: m, status: effectSuccess,
		typ: effectGivePoints, points: ptr(points), trigger: trigger(),
	})
	s.credit(tx, m.wallet, move{
		typ: transferAdding, amount: points, expiresAt: expiresAt, comment: ten.purchasePoints.name,
		cause: &actionCause{
			CampaignID: ptr(ten.purchasePoints.campaignID), CustomerID: ptr(m.memberID),
			TransactionID: ptr(t.transactionID), PerformedAt: ptr(isoTime(t.purchasedAt)),
		},
	})
	switch r := s.g.r.Float64(); {
	case r < 0.2:
		s.applyEffect(tx, &effectResult{
			executionID: execution, campaign: ten.doublePoints, member: m, status: effectSkipped,
			typ: effectGivePoints, trigger: trigger(),
		})
	case r < 0.27:
		s.applyEffect(tx, &effectResult{
			executionID: execution, campaign: ten.doublePoints, member: m, status: effectFailed,
			typ: effectGivePoints, points: ptr(points), trigger: trigger(),
		})
	}
}

func (s *Simulator) applyEffect(tx *txn, e *effectResult) {
	e.effectResultID = s.g.uuid()
	e.createdAt = tx.now
	if e.typ == effectGivePoints {
		e.walletTypeCode = defaultWalletType
	}
	tx.insert(e)
	s.effects = append(s.effects, e)
}

// Units.

// move describes a transfer to write.
type move struct {
	id, typ, comment, related string
	amount                    units
	pending                   bool
	lockedUntil, expiresAt    time.Time
	cause                     *actionCause
}

func (s *Simulator) newTransfer(tx *txn, w *wallet, mv move) *transfer {
	id := mv.id
	if id == "" {
		id = s.g.uuid()
	}
	return &transfer{
		transferID: id, wallet: w, typ: mv.typ, units: mv.amount, pending: mv.pending,
		lockedUntil: mv.lockedUntil, expiresAt: mv.expiresAt, related: mv.related,
		comment: mv.comment, cause: mv.cause, createdAt: tx.now, updatedAt: tx.now,
	}
}

// credit adds units to a wallet: an adding or p2p_adding transfer and the wallet's update.
func (s *Simulator) credit(tx *txn, w *wallet, mv move) *transfer {
	t := s.newTransfer(tx, w, mv)
	t.remaining = ptr(mv.amount)
	tx.insert(t)
	w.transfers = append(w.transfers, t)
	tx.update(w, func() {
		if t.pending {
			w.pending += t.units
		} else {
			w.active += t.units
			w.earned += t.units
		}
		w.lastTransfer = t
	})
	return t
}

// debit takes units from a wallet: a spending or p2p_spending transfer, the adding transfers
// it draws from (soonest expiry first) and the wallet's update. The wallet must hold the units.
func (s *Simulator) debit(tx *txn, w *wallet, mv move) *transfer {
	t := s.newTransfer(tx, w, mv)
	tx.insert(t)
	open := slices.DeleteFunc(slices.Clone(w.transfers), func(c *transfer) bool { return !c.open() })
	slices.SortStableFunc(open, func(a, b *transfer) int {
		switch {
		case a.expiresAt.IsZero() || b.expiresAt.IsZero(): // units that never expire go last
			return boolInt(a.expiresAt.IsZero()) - boolInt(b.expiresAt.IsZero())
		}
		return a.expiresAt.Compare(b.expiresAt)
	})
	left := mv.amount
	for _, c := range open {
		if left == 0 {
			break
		}
		take := min(left, *c.remaining)
		tx.update(c, func() { c.remaining = ptr(*c.remaining - take) })
		left -= take
	}
	if left != 0 {
		panic(fmt.Sprintf("simulator: wallet %s debited %s beyond its open transfers", w.walletID, mv.amount))
	}
	tx.update(w, func() {
		w.active -= mv.amount
		w.spent += mv.amount
		w.lastTransfer = t
	})
	return t
}

func (s *Simulator) pointsAdded(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	amount := whole(s.g.between(1, 50) * 10)
	if s.g.chance(0.2) {
		amount += 50
	}
	mv := move{typ: transferAdding, amount: amount, comment: pick(s.g, pointsComments), expiresAt: s.pointsExpiry(m.tenant, tx.now)}
	if s.g.chance(0.15) {
		mv.pending, mv.lockedUntil = true, tx.now.AddDate(0, 0, 14)
	}
	s.credit(tx, m.wallet, mv)
	return true
}

func (s *Simulator) pendingPointsUnlocked(tx *txn) bool {
	t := pickOne(s.g, s.credits(func(t *transfer) bool { return t.pending && !t.cancelled }), func(*transfer) bool { return true })
	if t == nil {
		return false
	}
	w := t.wallet
	tx.update(t, func() { t.pending = false })
	tx.update(w, func() {
		w.pending -= t.units
		w.active += t.units
		w.earned += t.units
		w.lastTransfer = t
	})
	return true
}

// spendable draws an amount of whole units between lo and hi that the wallet holds.
func (s *Simulator) spendable(w *wallet, lo, hi int) units {
	return whole(s.g.between(lo, min(hi, int(w.active/100))))
}

func (s *Simulator) pointsSpent(tx *txn) bool {
	m := s.activeMember(func(m *member) bool { return m.wallet.active >= whole(10) })
	if m == nil {
		return false
	}
	s.debit(tx, m.wallet, move{typ: transferSpending, amount: s.spendable(m.wallet, 10, 300), comment: pick(s.g, spendComments)})
	return true
}

func (s *Simulator) pointsTransferred(tx *txn) bool {
	from := s.activeMember(func(m *member) bool { return m.wallet.active >= whole(20) })
	if from == nil {
		return false
	}
	to := s.activeMember(func(m *member) bool { return m.tenant == from.tenant && m != from })
	if to == nil {
		return false
	}
	amount := s.spendable(from.wallet, 10, 200)
	sent, received := s.g.uuid(), s.g.uuid()
	s.debit(tx, from.wallet, move{id: sent, typ: transferP2PSpending, amount: amount, related: received,
		comment: "Transfer to " + to.first + " " + to.last})
	s.credit(tx, to.wallet, move{id: received, typ: transferP2PAdding, amount: amount, related: sent,
		comment: "Transfer from " + from.first + " " + from.last, expiresAt: s.pointsExpiry(to.tenant, tx.now)})
	return true
}

// pointsExpired expires a transfer's remaining units: one whose date has passed if there is
// one, else one an administrator expires by hand.
func (s *Simulator) pointsExpired(tx *txn) bool {
	expirable := s.credits(func(t *transfer) bool { return t.open() && !t.expiresAt.IsZero() })
	t := pickOne(s.g, expirable, func(t *transfer) bool { return !t.expiresAt.After(tx.now) })
	if t == nil {
		t = pickOne(s.g, expirable, func(*transfer) bool { return true })
	}
	if t == nil {
		return false
	}
	w, amount := t.wallet, *t.remaining
	e := s.newTransfer(tx, w, move{typ: transferExpired, amount: amount, related: t.transferID, comment: "Units expired"})
	tx.insert(e)
	tx.update(t, func() { t.remaining = ptr(units(0)) })
	tx.update(w, func() {
		w.active -= amount
		w.expired += amount
		w.lastTransfer = e
	})
	return true
}

// pointsCancelled cancels an adding transfer none of whose units were used.
func (s *Simulator) pointsCancelled(tx *txn) bool {
	t := pickOne(s.g, s.credits(func(t *transfer) bool {
		return t.typ == transferAdding && !t.cancelled && *t.remaining == t.units
	}), func(*transfer) bool { return true })
	if t == nil {
		return false
	}
	w := t.wallet
	wasPending := t.pending
	tx.update(t, func() { t.cancelled, t.remaining = true, ptr(units(0)) })
	tx.update(w, func() {
		if wasPending {
			w.pending -= t.units
		} else {
			w.active -= t.units
			w.earned -= t.units
		}
		w.lastTransfer = t
	})
	return true
}

// Rewards.

func (s *Simulator) issueReward(tx *txn, m *member, r *reward, cost units, cause *actionCause, couponActiveTo time.Time) *issuedReward {
	i := &issuedReward{
		issuedRewardID:  s.g.uuid(),
		reward:          r,
		member:          m,
		status:          statusIssued,
		statusChangedAt: tx.now,
		cost:            cost,
		token:           s.g.chars(upperCode, 10),
		redemptionDate:  tx.now,
		cause:           cause,
		createdAt:       tx.now,
		updatedAt:       tx.now,
	}
	if r.coupon() {
		i.couponCode = s.g.couponCode()
		i.couponValue = ptr(r.couponValue)
		i.couponValueType = r.couponValueType
		i.couponActiveFrom = tx.now
		i.couponActiveTo = couponActiveTo
	} else {
		// tax is a percentage in hundredths too: 23% is 2300.
		taxValue := (r.price*r.tax + (10000+r.tax)/2) / (10000 + r.tax)
		i.price, i.tax, i.taxValue = ptr(r.price), ptr(r.tax), ptr(taxValue)
	}
	tx.insert(i)
	s.issued = append(s.issued, i)
	return i
}

// couponExpiry is when a new coupon stops being valid: in three months, sometimes soon.
func (s *Simulator) couponExpiry(ten *tenant, now time.Time) time.Time {
	if s.g.chance(0.25) {
		return s.dueSoon(now, ten.settings.couponsDays)
	}
	return now.AddDate(0, 3, 0)
}

func (s *Simulator) rewardBought(tx *txn) bool {
	m := s.activeMember(func(m *member) bool { return m.wallet.active >= cheapest(m.tenant.rewards) })
	if m == nil {
		return false
	}
	r := pickOne(s.g, m.tenant.rewards, func(r *reward) bool { return r.cost <= m.wallet.active })
	s.issueReward(tx, m, r, r.cost, &actionCause{CustomerID: ptr(m.memberID)}, s.couponExpiry(m.tenant, tx.now))
	s.debit(tx, m.wallet, move{typ: transferSpending, amount: r.cost, comment: "Reward: " + r.name})
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cheapest(rewards []*reward) units {
	c := rewards[0].cost
	for _, r := range rewards[1:] {
		c = min(c, r.cost)
	}
	return c
}

// fulfilment is the path a material reward takes to its member.
var fulfilment = map[string]string{
	statusIssued: statusPending, statusPending: statusApproved, statusApproved: statusPacking,
	statusPacking: statusAwaitingShipping, statusAwaitingShipping: statusShipped, statusShipped: statusCompleted,
}

var statusComments = map[string]string{
	statusPending:          "Waiting for stock confirmation",
	statusApproved:         "Approved by the store",
	statusPacking:          "Packing at the warehouse",
	statusAwaitingShipping: "Handed over for shipping",
	statusShipped:          "Parcel on its way with the courier",
	statusCompleted:        "Delivered",
	statusReturned:         "Parcel returned by the member",
	statusCanceled:         "Cancelled at the member's request",
	statusRejected:         "Out of stock",
}

func (s *Simulator) redemptionStatusChanged(tx *txn) bool {
	i := pickOne(s.g, s.issued, func(i *issuedReward) bool { return !i.final() })
	if i == nil {
		return false
	}
	next, usedAt := s.nextStatus(i, tx.now)
	comment := statusComments[next]
	if !usedAt.IsZero() {
		comment = "Coupon redeemed at checkout"
	}
	tx.update(i, func() {
		i.status, i.comment, i.statusChangedAt = next, comment, tx.now
		if !usedAt.IsZero() {
			i.couponUsedAt = usedAt
		}
	})
	return true
}

func (s *Simulator) nextStatus(i *issuedReward, now time.Time) (string, time.Time) {
	r := s.g.r.Float64()
	if i.reward.coupon() {
		if r < 0.8 {
			return statusCompleted, now
		}
		return statusCanceled, time.Time{}
	}
	switch {
	case i.status == statusIssued && r < 0.05:
		return statusCanceled, time.Time{}
	case i.status == statusPending && r < 0.1:
		return statusRejected, time.Time{}
	case i.status == statusShipped && r < 0.1:
		return statusReturned, time.Time{}
	}
	return fulfilment[i.status], time.Time{}
}

// Campaigns.

// eventCampaigns are the campaigns a member's own activity triggers.
func eventCampaign(c *campaign) bool {
	switch c.triggerType {
	case triggerCustomEvent, triggerInternalEvent, triggerAchievement, triggerUniqueCode:
		return true
	}
	return false
}

func (s *Simulator) campaignEffectApplied(tx *txn) bool {
	m := s.activeMember(nil)
	if m == nil {
		return false
	}
	c := pickOne(s.g, m.tenant.campaigns, eventCampaign)
	e := &effectResult{executionID: s.g.uuid(), campaign: c, member: m, status: effectSuccess, typ: effectGivePoints}
	trigger, cause := s.eventTrigger(tx, c, m)
	e.trigger = trigger
	if c.triggerType == triggerUniqueCode {
		e.redemptionCode = "PROMO-" + s.g.chars(upperCode, 8)
	}
	switch r := s.g.r.Float64(); {
	case r < 0.65:
		e.points = ptr(c.points)
		s.applyEffect(tx, e)
		s.credit(tx, m.wallet, move{typ: transferAdding, amount: c.points, comment: c.name, cause: cause, expiresAt: s.pointsExpiry(m.tenant, tx.now)})
	case r < 0.75:
		e.typ = effectAssignAttribute
		s.applyEffect(tx, e)
		tx.update(m, func() {
			m.customAttributes = append(slices.Clone(m.customAttributes), keyValue{Key: "campaign_" + strings.ReplaceAll(strings.ToLower(c.name), " ", "_"), Value: "true"})
		})
	case r < 0.85:
		rw := pickOne(s.g, m.tenant.rewards, (*reward).coupon)
		e.typ, e.reward, e.couponValue = effectGiveReward, rw, ptr(rw.couponValue)
		s.applyEffect(tx, e)
		cause.CustomerID = ptr(m.memberID)
		s.issueReward(tx, m, rw, 0, cause, s.couponExpiry(m.tenant, tx.now))
	case r < 0.93:
		e.status, e.points = effectFailed, ptr(c.points)
		s.applyEffect(tx, e)
	default:
		e.status = effectSkipped
		s.applyEffect(tx, e)
	}
	return true
}

// eventTrigger is the trigger document of a member event campaign and the cause its units carry.
func (s *Simulator) eventTrigger(tx *txn, c *campaign, m *member) (map[string]any, *actionCause) {
	id := s.g.uuid()
	cause := &actionCause{CampaignID: ptr(c.campaignID), CustomerID: ptr(m.memberID), PerformedAt: ptr(isoTime(tx.now))}
	switch c.triggerType {
	case triggerCustomEvent:
		cause.CustomEventID = ptr(id)
		return map[string]any{"type": c.triggerType, "triggerId": id, "createdAt": isoTime(tx.now), "eventDate": isoTime(tx.now), "eventId": c.event}, cause
	case triggerInternalEvent:
		cause.InternalEventName = ptr(c.event)
		return map[string]any{"type": c.triggerType, "triggerId": id, "payload": map[string]any{"eventName": c.event, "customerId": m.memberID}}, cause
	case triggerAchievement:
		return map[string]any{"type": c.triggerType, "triggerId": id, "relatedAchievement": c.achievementID}, cause
	}
	cause.CustomEventID = ptr(id)
	return map[string]any{"type": c.triggerType, "triggerId": id}, cause
}

func (s *Simulator) campaignEffectRetried(tx *txn) bool {
	e := pickOne(s.g, s.effects, func(e *effectResult) bool {
		return e.status == effectFailed && e.typ == effectGivePoints && e.member.enrolled()
	})
	if e == nil {
		return false
	}
	tx.update(e, func() { e.status = effectSuccess })
	m := e.member
	s.credit(tx, m.wallet, move{
		typ: transferAdding, amount: *e.points, comment: e.campaign.name, expiresAt: s.pointsExpiry(m.tenant, tx.now),
		cause: &actionCause{CampaignID: ptr(e.campaign.campaignID), CustomerID: ptr(m.memberID), PerformedAt: ptr(isoTime(tx.now))},
	})
	return true
}

var notificationDays = []int{3, 5, 7, 10, 14, 30}

func (s *Simulator) notificationSettingsChanged(tx *txn) bool {
	st := s.tenant().settings
	field := pick(s.g, []*int{&st.pointsDays, &st.couponsDays, &st.levels})
	days := pick(s.g, notificationDays)
	for days == *field {
		days = pick(s.g, notificationDays)
	}
	tx.update(st, func() { *field = days })
	return true
}
