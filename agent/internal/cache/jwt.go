package cache

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	lanyardv1 "github.com/lanyard-dev/lanyard/clients/go/lanyardpb/v1"
)

// jwtCache keeps JWT-SVIDs per identity, certificate and audience until half their life.
type jwtCache struct {
	mu     sync.Mutex
	tokens map[jwtKey]jwtToken
}

type jwtKey struct{ id, serial, audience string }

type jwtToken struct {
	token   string
	jti     string
	renewAt time.Time
	expires time.Time
}

func newJWTCache() *jwtCache { return &jwtCache{tokens: map[jwtKey]jwtToken{}} }

// JWTSVID is a Lanyard token for svid's identity and audience, bound to svid's certificate,
// carrying the scopes the grants policy gives it there.
func (m *Manager) JWTSVID(ctx context.Context, svid *SVID, audience string) (string, error) {
	key := jwtKey{svid.ID.String(), svid.Serial, audience}
	now := time.Now()
	m.jwts.mu.Lock()
	if t, ok := m.jwts.tokens[key]; ok && now.Before(t.renewAt) {
		m.jwts.mu.Unlock()
		// A cached token whose jti was revoked since is not handed out again: a new one is minted.
		if _, revoked := m.Revoked(t.jti, key.id, ""); !revoked {
			return t.token, nil
		}
	} else {
		m.jwts.mu.Unlock()
	}
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := lanyardv1.NewAgentServiceClient(m.Conn()).NewJwtSvid(callCtx, &lanyardv1.NewJwtSvidRequest{
		SpiffeId: svid.ID.String(), Audience: audience, Certificate: svid.Chain[0].Raw})
	if err != nil {
		return "", err
	}
	expires := time.Unix(resp.GetExpiresAt(), 0)
	m.jwts.mu.Lock()
	defer m.jwts.mu.Unlock()
	for k, t := range m.jwts.tokens {
		if now.After(t.expires) {
			delete(m.jwts.tokens, k)
		}
	}
	m.jwts.tokens[key] = jwtToken{token: resp.GetToken(), jti: jtiOf(resp.GetToken()), renewAt: now.Add(expires.Sub(now) / 2), expires: expires}
	return resp.GetToken(), nil
}

// jtiOf is the jti claim of a token the server just issued (read, not verified: it only names the
// cached token in revocation look-ups).
func jtiOf(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.JTI
}
