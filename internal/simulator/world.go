package simulator

import (
	"fmt"
	"time"
)

// The stores' codes: the first is Open Loyalty's default store.
var tenantCodes = []string{"DEFAULT", "PL_RETAIL", "DE_STORES", "UK_ONLINE", "EU_WEB"}

var tenantNames = []string{"Loyalty Club", "Sklepy Polska", "Läden Deutschland", "UK Online Shop", "EU Web Store"}

// seed makes the rows the database holds before the first action: stores with settings, a tier
// set, rewards, campaigns and webhook subscriptions, and members with their history.
// Nothing is written to a sink: the rows are there for Snapshot to read.
func (s *Simulator) seed() {
	now := s.now()
	for i := range s.o.Tenants {
		ten := s.seedTenant(i, now)
		for range s.o.Members {
			s.seedMember(ten, now)
		}
		for range 2 {
			s.transactionRegisteredAt(ten, s.backdated(now, 1, 20))
		}
	}
}

// backdated is a silent transaction some days before now.
func (s *Simulator) backdated(now time.Time, minDays, maxDays int) *txn {
	ago := time.Duration(s.g.between(minDays*24*60, maxDays*24*60)) * time.Minute
	return &txn{s: s, now: now.Add(-ago)}
}

func (s *Simulator) seedTenant(i int, now time.Time) *tenant {
	g := s.g
	tx := s.backdated(now, 500, 700)
	code, name := fmt.Sprintf("STORE_%d", i+1), fmt.Sprintf("Store %d", i+1)
	if i < len(tenantCodes) {
		code, name = tenantCodes[i], tenantNames[i]
	}
	ten := &tenant{tenantID: g.uuid(), code: code, name: name, createdAt: tx.now}
	tx.insert(ten)
	s.tenants = append(s.tenants, ten)

	ten.settings = &settings{tenantID: ten.tenantID, pointsDays: 10, couponsDays: 10, levels: 10, updatedAt: tx.now}
	if i > 0 {
		ten.settings.pointsDays, ten.settings.couponsDays, ten.settings.levels = 7, 14, 5
	}
	tx.insert(ten.settings)

	set := g.uuid()
	for rank, n := range []string{"Bronze", "Silver", "Gold", "Platinum"} {
		t := &tier{tierID: g.uuid(), tenantID: ten.tenantID, setID: set, name: n, rank: rank + 1}
		tx.insert(t)
		ten.tiers = append(ten.tiers, t)
	}

	for _, r := range []*reward{
		{name: "10 PLN voucher", typ: rewardStaticCoupon, cost: whole(100), couponValue: whole(10), couponValueType: "money"},
		{name: "15% off your next purchase", typ: rewardDynamicCoupon, cost: whole(250), couponValue: whole(15), couponValueType: "percentage"},
		{name: "Points to shopping voucher", typ: rewardConversionCoupon, cost: whole(500), couponValue: whole(50), couponValueType: "money"},
		{name: "Insulated water bottle", typ: rewardMaterial, cost: whole(300), price: 3999, tax: whole(23)},
	} {
		r.rewardID, r.tenantID = g.uuid(), ten.tenantID
		tx.insert(r)
		ten.rewards = append(ten.rewards, r)
	}

	for _, c := range []*campaign{
		{name: "Points for purchases", triggerType: triggerTransaction},
		{name: "Double points weekend", triggerType: triggerTransaction},
		{name: "App check-in bonus", triggerType: triggerCustomEvent, event: "app_check_in", points: whole(20)},
		{name: "Birthday bonus", triggerType: triggerInternalEvent, event: "birthday", points: whole(100)},
		{name: "Five purchases badge", triggerType: triggerAchievement, achievementID: g.uuid(), points: whole(150)},
		{name: "Return adjustment", triggerType: triggerReturnTransaction},
		{name: "Scan a promo code", triggerType: triggerUniqueCode, event: "promo_code", points: whole(50)},
	} {
		c.campaignID, c.tenantID = g.uuid(), ten.tenantID
		tx.insert(c)
		ten.campaigns = append(ten.campaigns, c)
	}
	ten.purchasePoints, ten.doublePoints = ten.campaigns[0], ten.campaigns[1]

	for range 3 {
		ten.channels = append(ten.channels, g.uuid())
	}

	for _, sub := range []*subscription{
		{eventName: "CustomerRegistered", url: "https://crm.example.com/hooks/open-loyalty", hmacSecret: g.hmacSecret()},
		{eventName: "AvailablePointsAmountChanged", url: "https://hooks.example.net/loyalty/points",
			headers: []header{{Name: "Authorization", Value: "Bearer " + g.chars(lowerAlnum, 32)}}},
		{eventName: "CustomerBoughtReward", url: "https://fulfilment.example.org/webhooks/rewards",
			headers: []header{{Name: "X-Store", Value: code}}, hmacSecret: g.hmacSecret()},
		{eventName: "CustomerLevelChanged", url: "https://old-crm.example.com/hooks", active: false},
	} {
		sub.subscriptionID, sub.tenantID = g.uuid(), ten.tenantID
		sub.active = sub.active || sub.eventName != "CustomerLevelChanged"
		if sub.headers == nil {
			sub.headers = []header{}
		}
		sub.createdAt, sub.updatedAt = tx.now, tx.now
		tx.insert(sub)
	}
	return ten
}

// seedMember registers a member some time ago and gives them a history: purchases with
// points, perhaps a reward, a tier. Some of it is due soon: points and coupons that expire and
// tiers that drop within the notification window, so the expiry timers have work.
func (s *Simulator) seedMember(ten *tenant, now time.Time) {
	g := s.g
	tx := s.backdated(now, 30, 700)
	m := s.registerMember(tx, ten, g.chance(0.88))
	if !m.active {
		s.issueCode(tx, m, purposeRegistration)
		return
	}
	level := ten.tiers[weightedRank(g)]
	m.level, m.future = level, level
	m.nextRecalculationAt = now.AddDate(0, 0, g.between(30, 330))
	if rank := rankIndex(ten, level); rank > 0 && g.chance(0.3) {
		m.future = ten.tiers[rank-1]
		m.nextRecalculationAt = s.dueSoon(now, ten.settings.levels)
	}
	for range g.between(1, 3) {
		ptx := s.backdated(now, 1, 29)
		t := s.newTransaction(ptx, ten, "sell", customerOf(m))
		t.member = m
		ptx.insert(t)
		expires := ptx.now.AddDate(1, 0, 0)
		if g.chance(0.3) {
			expires = s.dueSoon(now, ten.settings.pointsDays)
		}
		s.awardPurchase(ptx, t, expires)
	}
	if r := pickOne(g, ten.rewards, func(r *reward) bool { return r.cost <= m.wallet.active }); r != nil && g.chance(0.5) {
		rtx := s.backdated(now, 0, 1)
		activeTo := rtx.now.AddDate(0, 2, 0)
		if g.chance(0.5) {
			activeTo = s.dueSoon(now, ten.settings.couponsDays)
		}
		s.issueReward(rtx, m, r, r.cost, &actionCause{CustomerID: ptr(m.memberID)}, activeTo)
		s.debit(rtx, m.wallet, move{typ: transferSpending, amount: r.cost, comment: "Reward: " + r.name})
	}
}

// weightedRank draws a tier index: most members are in the lowest tier, few in the highest.
func weightedRank(g gen) int {
	switch r := g.r.Float64(); {
	case r < 0.5:
		return 0
	case r < 0.75:
		return 1
	case r < 0.9:
		return 2
	}
	return 3
}

// transactionRegisteredAt writes a guest sale in a backdated transaction.
func (s *Simulator) transactionRegisteredAt(ten *tenant, tx *txn) {
	p := s.g.person()
	tx.insert(s.newTransaction(tx, ten, "sell", customerData{Name: p.first + " " + p.last, Email: ptr(p.email), Address: p.addr}))
}
