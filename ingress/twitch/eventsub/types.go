package eventsub

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/heraldhq/herald/internal/spell"
)

// Known is a subscription type herald can fill in by itself: its version,
// the condition keys that take the logged-in user's id, and the scopes
// Twitch requires (any one of them will do; the first is the one a login
// asks for).
type Known struct {
	Version string
	// UserKeys are the condition keys set to the token's user id.
	UserKeys []string
	Scopes   []string
}

// knownTypes is the built-in table; other types need an explicit version
// and condition in the rules file.
var knownTypes = map[string]Known{
	"channel.follow":               {Version: "2", UserKeys: []string{"broadcaster_user_id", "moderator_user_id"}, Scopes: []string{"moderator:read:followers"}},
	"channel.subscribe":            {Version: "1", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:subscriptions"}},
	"channel.subscription.gift":    {Version: "1", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:subscriptions"}},
	"channel.subscription.message": {Version: "1", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:subscriptions"}},
	"channel.subscription.end":     {Version: "1", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:subscriptions"}},
	"channel.cheer":                {Version: "1", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"bits:read"}},
	"channel.raid":                 {Version: "1", UserKeys: []string{"to_broadcaster_user_id"}},
	"channel.channel_points_custom_reward_redemption.add": {Version: "1", UserKeys: []string{"broadcaster_user_id"},
		Scopes: []string{"channel:read:redemptions", "channel:manage:redemptions"}},
	"channel.update":              {Version: "2", UserKeys: []string{"broadcaster_user_id"}},
	"stream.online":               {Version: "1", UserKeys: []string{"broadcaster_user_id"}},
	"stream.offline":              {Version: "1", UserKeys: []string{"broadcaster_user_id"}},
	"channel.hype_train.begin":    {Version: "2", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:hype_train"}},
	"channel.hype_train.end":      {Version: "2", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:hype_train"}},
	"channel.hype_train.progress": {Version: "2", UserKeys: []string{"broadcaster_user_id"}, Scopes: []string{"channel:read:hype_train"}},
}

// Lookup returns the built-in entry for typ.
func Lookup(typ string) (Known, bool) {
	k, ok := knownTypes[typ]
	return k, ok
}

// KnownTypes lists the built-in types, sorted.
func KnownTypes() []string { return slices.Sorted(maps.Keys(knownTypes)) }

// Declared is one subscription as the rules file declares it: a type,
// and optionally its version, condition and scope.
type Declared struct {
	Type      string            `yaml:"type"`
	Version   string            `yaml:"version"`
	Condition map[string]string `yaml:"condition"`
	// Scope is the scope an unknown type needs, if any ("" for none).
	Scope string `yaml:"scope"`
}

// Check reports what is missing for herald to subscribe to d: an
// unknown type needs an explicit version and condition.
func (d Declared) Check() error {
	if d.Type == "" {
		return fmt.Errorf("subscription without a type")
	}
	if _, ok := knownTypes[d.Type]; ok {
		return nil
	}
	if d.Version == "" || len(d.Condition) == 0 {
		if near := spell.Typo(d.Type, KnownTypes()); near != "" {
			return fmt.Errorf("subscription type %q is not built in; did you mean %q? (a type herald does not know needs its version and condition)", d.Type, near)
		}
		return fmt.Errorf("subscription type %q is not built in: give its version and condition (built in: %s)", d.Type, strings.Join(KnownTypes(), ", "))
	}
	return nil
}

// Scopes are the scopes d needs, any one of which will do (nil for none).
func (d Declared) Scopes() []string {
	if d.Scope != "" {
		return []string{d.Scope}
	}
	return knownTypes[d.Type].Scopes
}

// Request is what Helix needs to create one subscription (without its
// transport).
type Request struct {
	Type      string            `json:"type"`
	Version   string            `json:"version"`
	Condition map[string]string `json:"condition"`
}

// Resolve fills d's version and condition for the user userID.
func (d Declared) Resolve(userID string) Request {
	k := knownTypes[d.Type]
	r := Request{Type: d.Type, Version: d.Version, Condition: map[string]string{}}
	if r.Version == "" {
		r.Version = k.Version
	}
	for _, key := range k.UserKeys {
		r.Condition[key] = userID
	}
	maps.Copy(r.Condition, d.Condition)
	return r
}

// MissingScope is a declared subscription the token cannot create.
type MissingScope struct {
	Type string
	// AnyOf are the scopes that would do.
	AnyOf []string
}

func (m MissingScope) String() string {
	if len(m.AnyOf) == 1 {
		return fmt.Sprintf("%s needs scope %s", m.Type, m.AnyOf[0])
	}
	return fmt.Sprintf("%s needs one of the scopes %v", m.Type, m.AnyOf)
}

// Missing lists the declared subscriptions whose scope the token lacks.
func Missing(decl []Declared, have []string) []MissingScope {
	var out []MissingScope
	for _, d := range decl {
		need := d.Scopes()
		if len(need) == 0 || slices.ContainsFunc(need, func(s string) bool { return slices.Contains(have, s) }) {
			continue
		}
		out = append(out, MissingScope{Type: d.Type, AnyOf: need})
	}
	return out
}

// LoginScopes are the scopes to ask for at login so every declared
// subscription can be created: the first acceptable scope of each.
func LoginScopes(decl []Declared) []string {
	set := map[string]bool{}
	for _, d := range decl {
		if s := d.Scopes(); len(s) > 0 {
			set[s[0]] = true
		}
	}
	out := slices.Collect(maps.Keys(set))
	sort.Strings(out)
	return out
}
