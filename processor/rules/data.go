package rules

import (
	"math"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

// input is a change as the data builders read it: its current values and its lookups.
type input struct {
	ch   *cdc.Change
	view *lookup.View

	store      string
	storeKnown bool
}

// get returns a column as it is after the change. An update's after image may carry a TOASTed
// column it did not change as unavailable; then the before image has its value.
func (r *input) get(col string) cdc.Value {
	v := r.ch.After.Get(col)
	if v.Kind == cdc.Unavailable {
		return r.ch.Before.Get(col)
	}
	return v
}

// lookup returns the latest row of a lookup table keyed by the column's value; nil when the
// column is null or the row is not known (a miss the view counts).
func (r *input) lookup(table string, key cdc.Value) *cdc.Row {
	if !key.Known() {
		return nil
	}
	return r.view.Row(table, key.Text())
}

// storeCode is the code of the row's tenant, "" when not known; looked up once per change.
func (r *input) storeCode() string {
	if !r.storeKnown {
		r.store = r.lookup("tenant", r.get("tenant_id")).Get("code").Text()
		r.storeKnown = true
	}
	return r.store
}

// The fallible conversions of the builders go through a fields collector that keeps the first
// error, so each builder reads as the list of its fields.
type fields struct {
	r   *input
	err error
}

func (f *fields) decimal(col string) any {
	v, err := decimal(col, f.r.get(col))
	return f.keep(v, err)
}

func (f *fields) instant(col string) any {
	v, err := instant(col, f.r.get(col))
	return f.keep(v, err)
}

func (f *fields) instantBefore(col string) any {
	v, err := instant(col, f.r.ch.Before.Get(col))
	return f.keep(v, err)
}

func (f *fields) date(col string) any {
	v, err := date(col, f.r.get(col))
	return f.keep(v, err)
}

func (f *fields) json(col string, kind jsonKind, shape *jsonShape) any {
	v, err := jsonColumn(col, f.r.get(col), kind, shape)
	return f.keep(v, err)
}

func (f *fields) keep(v any, err error) any {
	if err != nil {
		if f.err == nil {
			f.err = err
		}
		return nil
	}
	return v
}

func (r *input) text(col string) any { return text(r.get(col)) }

// customer is the customer object of the member the column names, from the member lookup;
// nil when the column is null. A member not known gives the id with null contact fields.
func (r *input) customer(col string) any {
	id := r.get(col)
	return r.customerOf(id, text(id))
}

// customerOf is customer for a member id already read, given with its field value too so that
// an event using it twice converts it once.
func (r *input) customerOf(id cdc.Value, idField any) any {
	if !id.Known() {
		return nil
	}
	return customerObject(idField, r.lookup("member", id).Get)
}

// customerObject builds the customer object of a member from its id field and its columns.
func customerObject(idField any, member func(col string) cdc.Value) map[string]any {
	return map[string]any{
		"customerId":        idField,
		"email":             text(member("email")),
		"phone":             text(member("phone")),
		"loyaltyCardNumber": text(member("loyalty_card_number")),
	}
}

// ownCustomer is the customer object of a member change: its own row is the latest one.
func (r *input) ownCustomer() map[string]any { return customerObject(r.text("member_id"), r.get) }

func customerRegistered(r *input) (map[string]any, error) {
	f := fields{r: r}
	data := map[string]any{
		"customerId": r.text("member_id"),
		"customerData": map[string]any{
			"firstName":         r.text("first_name"),
			"lastName":          r.text("last_name"),
			"email":             r.text("email"),
			"phone":             r.text("phone"),
			"gender":            r.text("gender"),
			"birthDate":         f.date("birth_date"),
			"registeredAt":      f.instant("registered_at"),
			"address":           f.json("address", jsonRecord, addressShape),
			"company":           f.json("company", jsonRecord, companyShape),
			"loyaltyCardNumber": r.text("loyalty_card_number"),
			"customAttributes":  f.json("custom_attributes", jsonRecords, attributeShape),
			"agreement1":        boolean(r.get("agreement1")),
			"agreement2":        boolean(r.get("agreement2")),
			"agreement3":        boolean(r.get("agreement3")),
			"referralToken":     r.text("referral_token"),
		},
	}
	return data, f.err
}

func memberCode(r *input) (map[string]any, error) {
	return map[string]any{
		"customer":   r.customer("member_id"),
		"code":       r.text("code"),
		"codeNumber": r.text("code_number"),
	}, nil
}

func memberCustomer(r *input) (map[string]any, error) {
	return map[string]any{"customer": r.ownCustomer()}, nil
}

func customerLevelChanged(r *input) (map[string]any, error) {
	level := r.get("level_id")
	tier := r.lookup("tier", level)
	up, down := false, false
	if prev := r.ch.Before.Get("level_id"); prev.Known() {
		now, was := tier.Get("rank"), r.lookup("tier", prev).Get("rank")
		if now.Kind == cdc.Int && was.Kind == cdc.Int {
			up, down = now.Int > was.Int, now.Int < was.Int
		}
	}
	return map[string]any{
		"customer": r.ownCustomer(),
		"level": map[string]any{
			"levelId":       text(level),
			"name":          text(tier.Get("name")),
			"levelMoveUp":   up,
			"levelMoveDown": down,
		},
	}, nil
}

func transactionRegistered(r *input) (map[string]any, error) {
	f := fields{r: r}
	data := map[string]any{
		"transactionId":  r.text("transaction_id"),
		"documentNumber": r.text("document_number"),
		"documentType":   r.text("document_type"),
		"purchasedAt":    f.instant("purchased_at"),
		"customerData":   f.json("customer_data", jsonRecord, transactionCustomerShape),
		"items":          f.json("items", jsonRecords, itemShape),
		"channelId":      r.text("channel_id"),
	}
	return data, f.err
}

func transactionAssigned(r *input) (map[string]any, error) {
	f := fields{r: r}
	data := map[string]any{
		"transactionId": r.text("transaction_id"),
		"grossValue":    f.decimal("gross_value"),
		"customer":      r.customer("member_id"),
	}
	return data, f.err
}

// availablePointsChanged reports a wallet's new balance. The change's direction comes from the
// balances; it is a P2P one when the wallet's last transfer is a P2P transfer that way.
func availablePointsChanged(r *input) (map[string]any, error) {
	f := fields{r: r}
	amount := f.decimal("active_units")
	change, negative, err := balanceChange(r.get("active_units"), r.ch.Before.Get("active_units"))
	if f.err != nil {
		return nil, f.err
	}
	if err != nil {
		return nil, columnError("active_units", err)
	}
	transferID := r.get("last_transfer_id")
	transfer := r.lookup("unit_transfer", transferID)
	cause, err := jsonColumn("unit_transfer.action_cause", transfer.Get("action_cause"), jsonRecord, actionCauseShape)
	if err != nil {
		return nil, err
	}
	walletID := r.text("wallet_id")
	return map[string]any{
		"customer":  r.customer("member_id"),
		"accountId": walletID,
		"wallet": map[string]any{
			"walletId":   walletID,
			"walletType": map[string]any{"code": r.text("wallet_type_code")},
		},
		"amount":           amount,
		"amountChange":     change,
		"amountChangeType": changeType(negative, transfer.Get("type")),
		"transferId":       text(transferID),
		"actionCause":      cause,
	}, nil
}

// changeType is the amountChangeType of a balance change, given the type of the wallet's last
// transfer. The symbols are constants, so the field costs no allocation.
func changeType(negative bool, transfer cdc.Value) any {
	p2p := transfer.Kind == cdc.String
	switch {
	case negative && p2p && transfer.Str == "p2p_spending":
		return "p2p_subtract"
	case negative:
		return "subtract"
	case p2p && transfer.Str == "p2p_adding":
		return "p2p_add"
	}
	return "add"
}

// balanceChange is after − before of a balance, exactly, as the decimal value of its magnitude
// and whether it is negative; NULL (and no before image) is zero.
func balanceChange(after, before cdc.Value) (magnitude any, negative bool, err error) {
	a, b := amountText(after), amountText(before)
	if fa, ok := parseFixed(a); ok {
		if fb, ok := parseFixed(b); ok {
			if d, ok := fa.sub(fb); ok && d.m != math.MinInt64 {
				if d.m < 0 {
					d.m = -d.m
					return d.decimal(), true, nil
				}
				return d.decimal(), false, nil
			}
		}
	}
	x, err := parseDecimal(a)
	if err != nil {
		return nil, false, err
	}
	y, err := parseDecimal(b)
	if err != nil {
		return nil, false, err
	}
	x.Sub(x, y)
	negative = x.Sign() < 0
	return x.Abs(x), negative, nil
}

// issuedCoupon is the coupon of an issued reward, nil when it has no coupon code.
func (f *fields) issuedCoupon(withValueType bool) any {
	code := f.r.get("coupon_code")
	if !code.Known() {
		return nil
	}
	c := map[string]any{
		"code":       text(code),
		"value":      f.decimal("coupon_value"),
		"activeFrom": f.instant("coupon_active_from"),
		"activeTo":   f.instant("coupon_active_to"),
		"usedAt":     f.instant("coupon_used_at"),
	}
	if withValueType {
		c["valueType"] = f.r.text("coupon_value_type")
	}
	return c
}

func redemptionStatusChanged(r *input) (map[string]any, error) {
	f := fields{r: r}
	before := r.ch.Before
	status := r.text("status")
	data := map[string]any{
		"issuedReward": map[string]any{
			"issuedRewardId": r.text("issued_reward_id"),
			"rewardId":       r.text("reward_id"),
			"name":           r.text("name"),
			"customerId":     r.text("member_id"),
			"status":         status,
			"costInPoints":   f.decimal("cost_in_points"),
			"token":          r.text("token"),
			"redemptionDate": f.instant("redemption_date"),
			"rewardType":     r.text("reward_type"),
			"price":          f.decimal("price"),
			"tax":            f.decimal("tax"),
			"taxPriceValue":  f.decimal("tax_price_value"),
			"issuedCoupon":   f.issuedCoupon(true),
		},
		"oldStatus":  text(before.Get("status")),
		"newStatus":  status,
		"oldComment": text(before.Get("status_comment")),
		"newComment": r.text("status_comment"),
		"oldDate":    f.instantBefore("status_changed_at"),
		"newDate":    f.instant("status_changed_at"),
	}
	return data, f.err
}

// customerBoughtReward names the reward from the reward row, falling back to the issued
// reward's own copy of name and type when the reward row is not known.
func customerBoughtReward(r *input) (map[string]any, error) {
	f := fields{r: r}
	reward := r.lookup("reward", r.get("reward_id"))
	name, typ := reward.Get("name"), reward.Get("type")
	if reward == nil {
		name, typ = r.get("name"), r.get("reward_type")
	}
	data := map[string]any{
		"customer": r.customer("member_id"),
		"reward": map[string]any{
			"rewardId":   r.text("reward_id"),
			"rewardName": text(name),
			"rewardType": text(typ),
		},
		"rewardRedemption": map[string]any{"redeemedRewardId": r.text("issued_reward_id")},
		"coupon":           f.issuedCoupon(false),
		"costInPoints":     f.decimal("cost_in_points"),
		"actionCause":      f.json("action_cause", jsonRecord, actionCauseShape),
	}
	return data, f.err
}

func campaignEffectApplied(r *input) (map[string]any, error) {
	f := fields{r: r}
	campaignID := r.get("campaign_id")
	campaign := r.lookup("campaign", campaignID)
	member := r.get("member_id")
	memberID := text(member)
	data := map[string]any{
		"member": r.customerOf(member, memberID),
		"campaign": map[string]any{
			"campaignId":  text(campaignID),
			"name":        text(campaign.Get("name")),
			"triggerType": text(campaign.Get("trigger_type")),
			"trigger":     f.json("trigger", jsonRecord, campaignTriggerShape),
		},
		"effectsGiven": []any{map[string]any{
			"status":         r.text("status"),
			"target":         memberID,
			"walletTypeCode": r.text("wallet_type_code"),
			"type":           r.text("type"),
			"points":         f.decimal("points"),
			"couponValue":    f.decimal("coupon_value"),
			"rewardId":       r.text("reward_id"),
		}},
		"redemptionCode": r.text("redemption_code"),
	}
	return data, f.err
}
