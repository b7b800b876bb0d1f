package tech

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
)

// nonceTTL is how long a REGISTER challenge stays valid.
const nonceTTL = 5 * time.Minute

var (
	errNoCredentials = errors.New("no credentials")
	errStaleNonce    = errors.New("stale or foreign nonce")
	errBadPassword   = errors.New("digest response mismatch")
	errUserMismatch  = errors.New("credentials name another user")
)

// onRegister authenticates a phone with digest and stores its contact.
func (t *Tech) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	to := req.To()
	if to == nil {
		t.respond(tx, req, 400, "Bad Request")
		return
	}
	user := to.Address.User
	log := t.log.With(zap.String("endpoint", user), zap.String("source", req.Source()))
	acc, ok := t.dir.account(user)
	if !ok {
		log.Info("register for unknown account")
		t.respond(tx, req, 404, "Not Found")
		return
	}
	if err := t.checkDigest(req, user, acc.Secret()); err != nil {
		switch {
		case errors.Is(err, errNoCredentials), errors.Is(err, errStaleNonce):
			t.respond(tx, req, 401, "Unauthorized", t.challenge(errors.Is(err, errStaleNonce)))
		default:
			log.Warn("register rejected", zap.Error(err))
			t.respond(tx, req, 403, "Forbidden")
		}
		return
	}

	contacts := req.GetHeaders("Contact")
	if len(contacts) == 0 {
		// A query: report the current binding.
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if b, ok := t.dir.contact(user); ok {
			left := int(time.Until(b.Expires).Seconds())
			res.AppendHeader(sip.NewHeader("Contact", "<"+b.Contact.String()+">;expires="+strconv.Itoa(max(left, 0))))
		}
		t.respondRes(tx, res)
		return
	}
	expires := 3600
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			expires = n
		}
	}
	cont := req.Contact()
	if cont == nil {
		if strings.TrimSpace(contacts[0].Value()) == "*" && expires == 0 {
			t.dir.unregister(user)
			log.Info("unregistered (all contacts)")
			t.respond(tx, req, 200, "OK")
			return
		}
		t.respond(tx, req, 400, "Bad Request")
		return
	}
	if v, ok := cont.Params.Get("expires"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			expires = n
		}
	}
	if expires == 0 {
		t.dir.unregister(user)
		log.Info("unregistered")
		t.respond(tx, req, 200, "OK")
		return
	}
	if expires < t.cfg.MinExpires {
		t.respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(t.cfg.MinExpires)))
		return
	}
	expires = min(expires, t.cfg.MaxExpires)
	transport := strings.ToLower(req.Transport())
	t.dir.register(user, binding{
		Contact:   *cont.Address.Clone(),
		Source:    req.Source(),
		Transport: transport,
		Expires:   t.dir.now().Add(time.Duration(expires) * time.Second),
	})
	log.Info("registered", zap.String("contact", cont.Address.String()), zap.Int("expires", expires), zap.String("transport", transport))
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Contact", "<"+cont.Address.String()+">;expires="+strconv.Itoa(expires)))
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	t.respondRes(tx, res)
}

func (t *Tech) respondRes(tx sip.ServerTransaction, res *sip.Response) {
	res.AppendHeader(sip.NewHeader("Server", t.cfg.UserAgent))
	if err := tx.Respond(res); err != nil {
		t.log.Debug("sip respond failed", zap.Int("status", res.StatusCode), zap.Error(err))
	}
}

// challenge builds a WWW-Authenticate header with a fresh self-verifying nonce.
func (t *Tech) challenge(stale bool) sip.Header {
	ch := digest.Challenge{Realm: t.cfg.Realm, Nonce: t.newNonce(), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return sip.NewHeader("WWW-Authenticate", ch.String())
}

// newNonce is "<unix seconds hex>.<hmac>", so no nonce table is kept.
func (t *Tech) newNonce() string {
	ts := strconv.FormatInt(t.dir.now().Unix(), 16)
	return ts + "." + t.nonceMAC(ts)
}

func (t *Tech) nonceMAC(ts string) string {
	m := hmac.New(sha256.New, t.nonceKey[:])
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (t *Tech) nonceValid(n string) bool {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(t.nonceMAC(ts))) {
		return false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false
	}
	age := t.dir.now().Sub(time.Unix(sec, 0))
	return age >= -time.Minute && age <= nonceTTL
}

// checkDigest verifies the Authorization header of req for user/password.
func (t *Tech) checkDigest(req *sip.Request, user, password string) error {
	h := req.GetHeader("Authorization")
	if h == nil {
		return errNoCredentials
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return fmt.Errorf("%w: %v", errNoCredentials, err)
	}
	if cred.Username != user {
		return fmt.Errorf("%w: %q for %q", errUserMismatch, cred.Username, user)
	}
	if cred.Realm != t.cfg.Realm || !t.nonceValid(cred.Nonce) {
		return errStaleNonce
	}
	ch := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		ch.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(ch, digest.Options{
		Method: string(req.Method), URI: cred.URI, Username: user, Password: password,
		Count: cred.Nc, Cnonce: cred.Cnonce,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", errBadPassword, err)
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return errBadPassword
	}
	return nil
}
