package simulator

import (
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// entity is a row of one reference table. row renders its current column values; the
// simulator renders it before and after each change, so updates always carry the full before
// image (REPLICA IDENTITY FULL).
type entity interface {
	table() string
	id() string
	row() *cdc.Row
}

// touched entities keep an updated_at column that every update sets.
type touched interface{ touch(time.Time) }

type tenant struct {
	tenantID, code, name string
	createdAt            time.Time

	settings  *settings
	tiers     []*tier // by rank, lowest first
	rewards   []*reward
	campaigns []*campaign
	channels  []string // POS, web shop and app channel ids
	docSeq    int

	purchasePoints *campaign // awards points for every purchase
	doublePoints   *campaign // doubles them at weekends, so it mostly skips
}

func (t *tenant) table() string { return "tenant" }
func (t *tenant) id() string    { return t.tenantID }
func (t *tenant) row() *cdc.Row {
	r := rowOf("tenant")
	set(r, "tenant_id", text(t.tenantID))
	set(r, "code", text(t.code))
	set(r, "name", text(t.name))
	set(r, "created_at", instant(t.createdAt))
	return r
}

type settings struct {
	tenantID                        string
	pointsDays, couponsDays, levels int
	updatedAt                       time.Time
}

func (s *settings) table() string       { return "settings" }
func (s *settings) id() string          { return s.tenantID }
func (s *settings) touch(now time.Time) { s.updatedAt = now }
func (s *settings) row() *cdc.Row {
	r := rowOf("settings")
	set(r, "tenant_id", text(s.tenantID))
	set(r, "expire_points_notification_days", cdc.IntValue(int64(s.pointsDays)))
	set(r, "expire_coupons_notification_days", cdc.IntValue(int64(s.couponsDays)))
	set(r, "expire_levels_notification_days", cdc.IntValue(int64(s.levels)))
	set(r, "updated_at", instant(s.updatedAt))
	return r
}

type tier struct {
	tierID, tenantID, setID, name string
	rank                          int
}

func (t *tier) table() string { return "tier" }
func (t *tier) id() string    { return t.tierID }
func (t *tier) row() *cdc.Row {
	r := rowOf("tier")
	set(r, "tier_id", text(t.tierID))
	set(r, "tenant_id", text(t.tenantID))
	set(r, "tier_set_id", text(t.setID))
	set(r, "name", text(t.name))
	set(r, "rank", cdc.IntValue(int64(t.rank)))
	return r
}

type member struct {
	memberID string
	tenant   *tenant
	active   bool
	person
	birthDate                  time.Time
	cardNumber                 string
	registeredAt               time.Time
	company                    *company
	agreements                 [3]bool
	customAttributes           []keyValue
	referralToken              string
	level, manualLevel, future *tier
	nextRecalculationAt        time.Time
	createdAt, updatedAt       time.Time

	wallet             *wallet
	awaitingActivation bool // registered without activation and not activated since
}

func (m *member) table() string       { return "member" }
func (m *member) id() string          { return m.memberID }
func (m *member) touch(now time.Time) { m.updatedAt = now }
func (m *member) row() *cdc.Row {
	r := rowOf("member")
	set(r, "member_id", text(m.memberID))
	set(r, "tenant_id", text(m.tenant.tenantID))
	set(r, "active", cdc.BoolValue(m.active))
	set(r, "first_name", text(m.first))
	set(r, "last_name", text(m.last))
	set(r, "gender", text(m.gender))
	set(r, "email", text(m.email))
	set(r, "phone", text(m.phone))
	set(r, "birth_date", day(m.birthDate))
	set(r, "loyalty_card_number", text(m.cardNumber))
	set(r, "registered_at", instant(m.registeredAt))
	if m.addr != nil {
		set(r, "address", jsonb(m.addr))
	}
	if m.company != nil {
		set(r, "company", jsonb(m.company))
	}
	set(r, "agreement1", cdc.BoolValue(m.agreements[0]))
	set(r, "agreement2", cdc.BoolValue(m.agreements[1]))
	set(r, "agreement3", cdc.BoolValue(m.agreements[2]))
	if m.customAttributes != nil {
		set(r, "custom_attributes", jsonb(m.customAttributes))
	}
	set(r, "referral_token", text(m.referralToken))
	set(r, "level_id", text(tierID(m.level)))
	set(r, "manually_assigned_level_id", text(tierID(m.manualLevel)))
	set(r, "next_recalculation_at", instant(m.nextRecalculationAt))
	set(r, "projected_level_id", text(tierID(m.future)))
	set(r, "created_at", instant(m.createdAt))
	set(r, "updated_at", instant(m.updatedAt))
	return r
}

func tierID(t *tier) string {
	if t == nil {
		return ""
	}
	return t.tierID
}

// Purposes of member codes.
const (
	purposeRegistration     = "registration"
	purposeActivationResend = "activation_resend"
	purposePasswordReset    = "password_reset"
	purposeEmailChange      = "email_change"
	purposePhoneChange      = "phone_change"
)

type memberCode struct {
	codeID                    string
	member                    *member
	purpose, code, codeNumber string
	createdAt, expiresAt      time.Time
}

func (c *memberCode) table() string { return "member_code" }
func (c *memberCode) id() string    { return c.codeID }
func (c *memberCode) row() *cdc.Row {
	r := rowOf("member_code")
	set(r, "code_id", text(c.codeID))
	set(r, "tenant_id", text(c.member.tenant.tenantID))
	set(r, "member_id", text(c.member.memberID))
	set(r, "purpose", text(c.purpose))
	set(r, "code", text(c.code))
	set(r, "code_number", text(c.codeNumber))
	set(r, "created_at", instant(c.createdAt))
	set(r, "expires_at", instant(c.expiresAt))
	return r
}

// customerData is the customer document a POS or web shop attaches to a transaction.
type customerData struct {
	Email             *string  `json:"email"`
	Name              string   `json:"name"`
	NIP               *string  `json:"nip"`
	Phone             *string  `json:"phone"`
	LoyaltyCardNumber *string  `json:"loyaltyCardNumber"`
	Address           *address `json:"address"`
}

type sku struct {
	Code string `json:"code"`
}

// item is one line of a transaction's items document.
type item struct {
	SKU        sku        `json:"sku"`
	Name       string     `json:"name"`
	Quantity   int        `json:"quantity"`
	GrossValue numberText `json:"grossValue"`
	Category   string     `json:"category"`
	Maker      string     `json:"maker"`
	Labels     []keyValue `json:"labels"`
}

// numberText is an exact decimal written as a JSON number.
type numberText string

func (n numberText) MarshalJSON() ([]byte, error) { return []byte(n), nil }

type transaction struct {
	transactionID        string
	tenant               *tenant
	member               *member // nil until matched
	documentNumber       string
	documentType         string
	purchasedAt          time.Time
	grossValue           units
	channelID            string
	customer             customerData
	items                []item
	createdAt, updatedAt time.Time
}

func (t *transaction) table() string       { return "transaction" }
func (t *transaction) id() string          { return t.transactionID }
func (t *transaction) touch(now time.Time) { t.updatedAt = now }
func (t *transaction) row() *cdc.Row {
	r := rowOf("transaction")
	set(r, "transaction_id", text(t.transactionID))
	set(r, "tenant_id", text(t.tenant.tenantID))
	if t.member != nil {
		set(r, "member_id", text(t.member.memberID))
	}
	set(r, "document_number", text(t.documentNumber))
	set(r, "document_type", text(t.documentType))
	set(r, "purchased_at", instant(t.purchasedAt))
	set(r, "gross_value", decimal(t.grossValue))
	set(r, "channel_id", text(t.channelID))
	set(r, "customer_data", jsonb(t.customer))
	set(r, "items", jsonb(t.items))
	set(r, "created_at", instant(t.createdAt))
	set(r, "updated_at", instant(t.updatedAt))
	return r
}

const defaultWalletType = "default"

type wallet struct {
	walletID                                         string
	member                                           *member
	typeCode                                         string
	active, pending, blocked, expired, spent, earned units
	lastTransfer                                     *transfer
	updatedAt                                        time.Time
	transfers                                        []*transfer // adding transfers, oldest first
}

func (w *wallet) table() string       { return "wallet" }
func (w *wallet) id() string          { return w.walletID }
func (w *wallet) touch(now time.Time) { w.updatedAt = now }
func (w *wallet) row() *cdc.Row {
	r := rowOf("wallet")
	set(r, "wallet_id", text(w.walletID))
	set(r, "tenant_id", text(w.member.tenant.tenantID))
	set(r, "member_id", text(w.member.memberID))
	set(r, "wallet_type_code", text(w.typeCode))
	set(r, "active_units", decimal(w.active))
	set(r, "pending_units", decimal(w.pending))
	set(r, "blocked_units", decimal(w.blocked))
	set(r, "expired_units", decimal(w.expired))
	set(r, "spent_units", decimal(w.spent))
	set(r, "earned_units", decimal(w.earned))
	if w.lastTransfer != nil {
		set(r, "last_transfer_id", text(w.lastTransfer.transferID))
	}
	set(r, "updated_at", instant(w.updatedAt))
	return r
}

// Transfer types.
const (
	transferAdding      = "adding"
	transferSpending    = "spending"
	transferP2PAdding   = "p2p_adding"
	transferP2PSpending = "p2p_spending"
	transferExpired     = "expired"
)

// actionCause says why units moved or a reward was issued.
type actionCause struct {
	CampaignID        *string `json:"campaignId"`
	CustomerID        *string `json:"customerId"`
	TransactionID     *string `json:"transactionId"`
	CustomEventID     *string `json:"customEventId"`
	InternalEventName *string `json:"internalEventName"`
	PerformedAt       *string `json:"performedAt"`
}

type transfer struct {
	transferID           string
	wallet               *wallet
	typ                  string
	units                units
	remaining            *units // adding transfers: units not yet spent or expired
	pending              bool
	lockedUntil          time.Time
	expiresAt            time.Time
	cancelled            bool
	related              string
	comment              string
	cause                *actionCause
	createdAt, updatedAt time.Time
}

func (t *transfer) table() string       { return "unit_transfer" }
func (t *transfer) id() string          { return t.transferID }
func (t *transfer) touch(now time.Time) { t.updatedAt = now }
func (t *transfer) row() *cdc.Row {
	r := rowOf("unit_transfer")
	set(r, "transfer_id", text(t.transferID))
	set(r, "tenant_id", text(t.wallet.member.tenant.tenantID))
	set(r, "wallet_id", text(t.wallet.walletID))
	set(r, "member_id", text(t.wallet.member.memberID))
	set(r, "type", text(t.typ))
	set(r, "units", decimal(t.units))
	set(r, "remaining_units", optDecimal(t.remaining))
	set(r, "pending", cdc.BoolValue(t.pending))
	set(r, "locked_until", instant(t.lockedUntil))
	set(r, "expires_at", instant(t.expiresAt))
	set(r, "cancelled", cdc.BoolValue(t.cancelled))
	set(r, "related_transfer_id", text(t.related))
	set(r, "comment", text(t.comment))
	if t.cause != nil {
		set(r, "action_cause", jsonb(t.cause))
	}
	set(r, "created_at", instant(t.createdAt))
	set(r, "updated_at", instant(t.updatedAt))
	return r
}

// open reports whether the transfer still holds units that can be spent or expire.
func (t *transfer) open() bool {
	return !t.pending && !t.cancelled && t.remaining != nil && *t.remaining > 0
}

// Reward types.
const (
	rewardStaticCoupon     = "static_coupon"
	rewardDynamicCoupon    = "dynamic_coupon"
	rewardConversionCoupon = "conversion_coupon"
	rewardMaterial         = "material"
)

type reward struct {
	rewardID, tenantID, name, typ string
	cost                          units
	couponValue                   units
	couponValueType               string
	price, tax                    units // material rewards; tax in percent
}

func (r *reward) table() string { return "reward" }
func (r *reward) id() string    { return r.rewardID }
func (r *reward) row() *cdc.Row {
	row := rowOf("reward")
	set(row, "reward_id", text(r.rewardID))
	set(row, "tenant_id", text(r.tenantID))
	set(row, "name", text(r.name))
	set(row, "type", text(r.typ))
	return row
}

func (r *reward) coupon() bool { return r.typ != rewardMaterial }

// Redemption statuses.
const (
	statusIssued           = "issued"
	statusPending          = "pending"
	statusApproved         = "approved"
	statusPacking          = "packing"
	statusAwaitingShipping = "awaiting_shipping"
	statusShipped          = "shipped"
	statusReturned         = "returned"
	statusCompleted        = "completed"
	statusCanceled         = "canceled"
	statusRejected         = "rejected"
)

type issuedReward struct {
	issuedRewardID       string
	reward               *reward
	member               *member
	status, comment      string
	statusChangedAt      time.Time
	cost                 units
	token                string
	redemptionDate       time.Time
	price, tax, taxValue *units
	couponCode           string
	couponValue          *units
	couponValueType      string
	couponActiveFrom     time.Time
	couponActiveTo       time.Time
	couponUsedAt         time.Time
	cause                *actionCause
	createdAt, updatedAt time.Time
}

func (i *issuedReward) table() string       { return "issued_reward" }
func (i *issuedReward) id() string          { return i.issuedRewardID }
func (i *issuedReward) touch(now time.Time) { i.updatedAt = now }
func (i *issuedReward) row() *cdc.Row {
	r := rowOf("issued_reward")
	set(r, "issued_reward_id", text(i.issuedRewardID))
	set(r, "tenant_id", text(i.member.tenant.tenantID))
	set(r, "reward_id", text(i.reward.rewardID))
	set(r, "member_id", text(i.member.memberID))
	set(r, "name", text(i.reward.name))
	set(r, "reward_type", text(i.reward.typ))
	set(r, "status", text(i.status))
	set(r, "status_comment", text(i.comment))
	set(r, "status_changed_at", instant(i.statusChangedAt))
	set(r, "cost_in_points", decimal(i.cost))
	set(r, "token", text(i.token))
	set(r, "redemption_date", instant(i.redemptionDate))
	set(r, "price", optDecimal(i.price))
	set(r, "tax", optDecimal(i.tax))
	set(r, "tax_price_value", optDecimal(i.taxValue))
	set(r, "coupon_code", text(i.couponCode))
	set(r, "coupon_value", optDecimal(i.couponValue))
	set(r, "coupon_value_type", text(i.couponValueType))
	set(r, "coupon_active_from", instant(i.couponActiveFrom))
	set(r, "coupon_active_to", instant(i.couponActiveTo))
	set(r, "coupon_used_at", instant(i.couponUsedAt))
	if i.cause != nil {
		set(r, "action_cause", jsonb(i.cause))
	}
	set(r, "created_at", instant(i.createdAt))
	set(r, "updated_at", instant(i.updatedAt))
	return r
}

// final reports whether the redemption has reached a status it never leaves.
func (i *issuedReward) final() bool {
	switch i.status {
	case statusCompleted, statusCanceled, statusRejected, statusReturned:
		return true
	}
	return false
}

// Campaign trigger types.
const (
	triggerTransaction       = "transaction"
	triggerCustomEvent       = "custom_event"
	triggerInternalEvent     = "internal_event"
	triggerAchievement       = "achievement"
	triggerReturnTransaction = "return_transaction"
	triggerUniqueCode        = "custom_event_unique_code"
)

type campaign struct {
	campaignID, tenantID, name, triggerType string
	event                                   string // custom event id or internal event name
	achievementID                           string
	points                                  units // what a give_points effect awards
}

func (c *campaign) table() string { return "campaign" }
func (c *campaign) id() string    { return c.campaignID }
func (c *campaign) row() *cdc.Row {
	r := rowOf("campaign")
	set(r, "campaign_id", text(c.campaignID))
	set(r, "tenant_id", text(c.tenantID))
	set(r, "name", text(c.name))
	set(r, "trigger_type", text(c.triggerType))
	return r
}

// Effect statuses and types.
const (
	effectSuccess = "success"
	effectSkipped = "skipped"
	effectFailed  = "failed"

	effectGivePoints      = "give_points"
	effectGiveReward      = "give_reward"
	effectAssignAttribute = "assign_member_custom_attribute"
)

type effectResult struct {
	effectResultID, executionID string
	campaign                    *campaign
	member                      *member
	status, typ                 string
	points, couponValue         *units
	reward                      *reward
	walletTypeCode              string
	redemptionCode              string
	trigger                     map[string]any
	createdAt                   time.Time
}

func (e *effectResult) table() string { return "campaign_effect_result" }
func (e *effectResult) id() string    { return e.effectResultID }
func (e *effectResult) row() *cdc.Row {
	r := rowOf("campaign_effect_result")
	set(r, "effect_result_id", text(e.effectResultID))
	set(r, "tenant_id", text(e.member.tenant.tenantID))
	set(r, "campaign_execution_id", text(e.executionID))
	set(r, "campaign_id", text(e.campaign.campaignID))
	set(r, "member_id", text(e.member.memberID))
	set(r, "status", text(e.status))
	set(r, "type", text(e.typ))
	set(r, "points", optDecimal(e.points))
	set(r, "coupon_value", optDecimal(e.couponValue))
	if e.reward != nil {
		set(r, "reward_id", text(e.reward.rewardID))
	}
	set(r, "wallet_type_code", text(e.walletTypeCode))
	set(r, "redemption_code", text(e.redemptionCode))
	if e.trigger != nil {
		set(r, "trigger", jsonb(e.trigger))
	}
	set(r, "created_at", instant(e.createdAt))
	return r
}

// header is one custom HTTP header of a webhook subscription.
type header struct {
	Name  string `json:"headerName"`
	Value string `json:"headerValue"`
}

type subscription struct {
	subscriptionID, tenantID, eventName, url string
	headers                                  []header
	hmacSecret                               string
	active                                   bool
	createdAt, updatedAt                     time.Time
}

func (s *subscription) table() string       { return "webhook_subscription" }
func (s *subscription) id() string          { return s.subscriptionID }
func (s *subscription) touch(now time.Time) { s.updatedAt = now }
func (s *subscription) row() *cdc.Row {
	r := rowOf("webhook_subscription")
	set(r, "subscription_id", text(s.subscriptionID))
	set(r, "tenant_id", text(s.tenantID))
	set(r, "event_name", text(s.eventName))
	set(r, "url", text(s.url))
	set(r, "destination_type", text("rest"))
	set(r, "headers", jsonb(s.headers))
	set(r, "hmac_enabled", cdc.BoolValue(s.hmacSecret != ""))
	set(r, "hmac_secret", text(s.hmacSecret))
	set(r, "active", cdc.BoolValue(s.active))
	set(r, "created_at", instant(s.createdAt))
	set(r, "updated_at", instant(s.updatedAt))
	return r
}
