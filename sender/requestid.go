package sender

import (
	crand "crypto/rand"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"
)

// requestIDs is the source of requestId: a ChaCha8 stream seeded from crypto/rand, so ids are
// random (UUID version 4) and unpredictable without a system call per attempt.
var requestIDs = struct {
	sync.Mutex
	r *rand.ChaCha8
}{r: rand.NewChaCha8(seed())}

func seed() (s [32]byte) {
	crand.Read(s[:]) // never fails on supported platforms
	return s
}

// newRequestID returns a new random UUID.
func newRequestID() string {
	var u uuid.UUID
	requestIDs.Lock()
	_, _ = requestIDs.r.Read(u[:])
	requestIDs.Unlock()
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}
