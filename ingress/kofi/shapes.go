package kofi

import (
	"embed"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

func init() {
	ingress.RegisterShapes("kofi", Shapes)
	ingress.RegisterCodeless("kofi", "") // rules say where a donation goes
}

// Shapes are Ko-fi's four event types, with the fields Ko-fi sends
// (https://ko-fi.com/manage/webhooks). amount is a string ("3.00"):
// compare it with float(data.amount). email and shipping only arrive
// with forward_personal_data: true.
//
// Each one's Example is the event its test case (testdata/) sees the
// adapter publish for Ko-fi's documented payload, with the default
// options: a public supporter, no email or shipping.
var Shapes = ingress.MustExamples([]herald.Shape{
	kofiShape("Donation", "a one-off donation"),
	kofiShape("Subscription", "a monthly membership payment"),
	kofiShape("Commission", "a commission was paid"),
	kofiShape("Shop Order", "a shop order; shop_items lists what was bought"),
}, recordings, "testdata/*/want.json")

// recordings are the test cases whose events are the examples, one per
// type (the private and forward_personal_data cases are not examples of
// what an overlay gets by default).
//
//go:embed testdata/donation/want.json testdata/subscription-first/want.json
//go:embed testdata/commission/want.json testdata/shop-order/want.json
var recordings embed.FS

func kofiShape(typ, doc string) herald.Shape {
	f := map[string]herald.Kind{
		"message_id": herald.KindString, "timestamp": herald.KindString, "type": herald.KindString,
		"is_public": herald.KindBool, "from_name": herald.KindString, "message": herald.KindAny,
		"amount": herald.KindString, "url": herald.KindString, "currency": herald.KindString,
		"is_subscription_payment": herald.KindBool, "is_first_subscription_payment": herald.KindBool,
		"kofi_transaction_id": herald.KindString, "shop_items": herald.KindAny, "tier_name": herald.KindAny,
		"shipping": herald.KindAny, "email": herald.KindString,
		"discord_username": herald.KindAny, "discord_userid": herald.KindAny,
	}
	return herald.Shape{Type: typ, Doc: doc, Fields: f}
}
