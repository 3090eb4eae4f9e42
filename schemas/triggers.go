package schemas

// Triggers lists the 18 Open Loyalty webhook triggers in the order of the branches of
// WebhookEvent.data. Each has its data record in triggers/<Trigger>.avsc, named
// io.loyaltyhooks.data.<Trigger>.
var Triggers = []string{
	"CustomerRegistered",
	"CustomerWasRegisteredWithoutActivation",
	"CustomerRequestedSendActivationCode",
	"CustomerRequestedPasswordReset",
	"CustomerEmailWasChanged",
	"CustomerPhoneNumberWasChanged",
	"CustomerUpdated",
	"CustomerLevelChanged",
	"CustomerDeactivated",
	"TransactionRegistered",
	"TransactionAssignedToCustomer",
	"AvailablePointsAmountChanged",
	"RewardRedemptionStatusChanged",
	"CustomerBoughtReward",
	"CampaignEffectWasApplied",
	"PointsWillExpire",
	"CouponWillExpire",
	"LevelWillExpire",
}

// dataNamespace is the namespace of the trigger records, so a data branch is named
// dataNamespace + "." + eventName.
const dataNamespace = "io.loyaltyhooks.data"
