package claim

import "time"

// ExpiryBits is how many low bits of a claim's expiry in milliseconds hold its owner.
const ExpiryBits = expiryBits

// OwnerOf returns the value and the expiry bits the coordinates claim with.
func OwnerOf(topic string, partition int32, offset int64) (value, expiry int64) {
	o := ownerOf(topic, partition, offset)
	return o.value, o.expiry
}

// Deadline is the expiry, in Unix milliseconds, of a claim the coordinates make at now.
func Deadline(topic string, partition int32, offset int64, now time.Time, ttl time.Duration) int64 {
	return ownerOf(topic, partition, offset).deadline(now, ttl)
}

// Holds reports whether a claim with this value and this PEXPIRETIME is the coordinates'.
func Holds(topic string, partition int32, offset int64, value string, expireAt int64) bool {
	return ownerOf(topic, partition, offset).holds(value, expireAt)
}

// SetBetweenReads makes r run f between a batch's claims and the read of the candidates'
// expiries.
func SetBetweenReads(r *Redis, f func()) { r.betweenReads = f }
