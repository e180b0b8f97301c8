package cache

import (
	"crypto/ecdsa"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// keyed is an entry with the key made for its next SVID.
type keyed struct {
	key   *ecdsa.PrivateKey
	entry *lanyardv1.Registration
}
