package kofi

import (
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
var Shapes = []herald.Shape{
	kofiShape("Donation", "a one-off donation"),
	kofiShape("Subscription", "a monthly membership payment"),
	kofiShape("Commission", "a commission was paid"),
	kofiShape("Shop Order", "a shop order; shop_items lists what was bought"),
}

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
