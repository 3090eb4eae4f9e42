package rules

// The trigger names: Open Loyalty's webhook event names, each the eventName of the events it
// gives and the name of its data record in schemas/triggers.
const (
	CustomerRegistered                     = "CustomerRegistered"
	CustomerWasRegisteredWithoutActivation = "CustomerWasRegisteredWithoutActivation"
	CustomerRequestedSendActivationCode    = "CustomerRequestedSendActivationCode"
	CustomerRequestedPasswordReset         = "CustomerRequestedPasswordReset"
	CustomerEmailWasChanged                = "CustomerEmailWasChanged"
	CustomerPhoneNumberWasChanged          = "CustomerPhoneNumberWasChanged"
	CustomerUpdated                        = "CustomerUpdated"
	CustomerLevelChanged                   = "CustomerLevelChanged"
	CustomerDeactivated                    = "CustomerDeactivated"
	TransactionRegistered                  = "TransactionRegistered"
	TransactionAssignedToCustomer          = "TransactionAssignedToCustomer"
	AvailablePointsAmountChanged           = "AvailablePointsAmountChanged"
	RewardRedemptionStatusChanged          = "RewardRedemptionStatusChanged"
	CustomerBoughtReward                   = "CustomerBoughtReward"
	CampaignEffectWasApplied               = "CampaignEffectWasApplied"
	PointsWillExpire                       = "PointsWillExpire"
	CouponWillExpire                       = "CouponWillExpire"
	LevelWillExpire                        = "LevelWillExpire"
)
