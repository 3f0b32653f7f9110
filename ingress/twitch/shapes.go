package twitch

import (
	"embed"
	"maps"
	"regexp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

func init() {
	ingress.RegisterShapes("twitch", Shapes)
	ingress.RegisterOpenTypes("twitch", OpenTypes)
	ingress.RegisterCodeless("twitch", "") // rules say where a follow goes
}

// OpenTypes matches every EventSub subscription type (channel.chat.message,
// user.update): Twitch sends whichever a rules file subscribes to, and
// Shapes lists only the common ones.
var OpenTypes = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)

// Shapes are the events the twitch ingress produces: Event.Type is the
// EventSub subscription type and Event.Data its event object, with the
// fields and JSON kinds of Twitch's EventSub reference
// (https://dev.twitch.tv/docs/eventsub/eventsub-reference/). Where a type
// has had two versions the fields of both are listed. A subscription type
// missing here still works; its rules are just not checked.
//
// Each one's Example is the event a recording in testdata/ (a Twitch CLI
// notification, replayed by the tests) sees the adapter publish, or, for a
// type with no recording, samples/TYPE.json: an event object written after
// Twitch's reference, of the version herald subscribes to.
var Shapes = ingress.MustExamples([]herald.Shape{
	shape("channel.follow", "someone followed the channel", user, fields{"followed_at": tStr}),
	shape("channel.subscribe", "a first subscription (not a resub)", user, fields{"tier": tStr, "is_gift": tBool}),
	shape("channel.subscription.gift", "someone gifted subscriptions", user, fields{
		"total": tNum, "tier": tStr, "cumulative_total": tAny, "is_anonymous": tBool,
		"user_id": tAny, "user_login": tAny, "user_name": tAny}),
	shape("channel.subscription.message", "a resub shared in chat", user, fields{
		"tier": tStr, "message": tObj, "message.text": tStr, "message.emotes": tAny,
		"cumulative_months": tNum, "streak_months": tAny, "duration_months": tNum}),
	shape("channel.subscription.end", "a subscription ended", user, fields{"tier": tStr, "is_gift": tBool}),
	shape("channel.cheer", "someone cheered bits", user, fields{
		"is_anonymous": tBool, "message": tStr, "bits": tNum, "user_id": tAny, "user_login": tAny, "user_name": tAny}),
	shape("channel.raid", "another channel raided this one", noBroadcaster, fields{
		"from_broadcaster_user_id": tStr, "from_broadcaster_user_login": tStr, "from_broadcaster_user_name": tStr,
		"to_broadcaster_user_id": tStr, "to_broadcaster_user_login": tStr, "to_broadcaster_user_name": tStr,
		"viewers": tNum}),
	shape("channel.channel_points_custom_reward_redemption.add", "a channel-points reward was redeemed", user, fields{
		"id": tStr, "user_input": tStr, "status": tStr, "redeemed_at": tStr,
		"reward": tObj, "reward.id": tStr, "reward.title": tStr, "reward.cost": tNum, "reward.prompt": tStr}),
	shape("channel.hype_train.begin", "a hype train started", hype, fields{"expires_at": tStr}),
	shape("channel.hype_train.progress", "a hype train moved on", hype, fields{"expires_at": tStr}),
	shape("channel.hype_train.end", "a hype train ended", hype, fields{"ended_at": tStr, "cooldown_ends_at": tStr}),
	shape("stream.online", "the stream went live", nil, fields{"id": tStr, "type": tStr, "started_at": tStr}),
	shape("stream.offline", "the stream ended", nil, nil),
	shape("channel.ad_break.begin", "an ad break started", nil, fields{
		"duration_seconds": tNum, "started_at": tStr, "is_automatic": tBool,
		"requester_user_id": tStr, "requester_user_login": tStr, "requester_user_name": tStr}),
	shape("channel.poll.begin", "a poll started", poll, fields{"ends_at": tStr}),
	shape("channel.poll.progress", "votes came in on a poll", poll, fields{"ends_at": tStr}),
	shape("channel.poll.end", "a poll ended", poll, fields{"status": tStr, "ended_at": tStr}),
	shape("channel.prediction.begin", "a prediction started", prediction, fields{"locks_at": tStr}),
	shape("channel.prediction.progress", "points went on a prediction", prediction, fields{"locks_at": tStr}),
	shape("channel.prediction.lock", "a prediction was locked", prediction, fields{"locked_at": tStr}),
	shape("channel.prediction.end", "a prediction was resolved or cancelled", prediction, fields{
		"winning_outcome_id": tAny, "status": tStr, "ended_at": tStr}),
	shape("channel.shoutout.create", "this channel gave a shoutout", nil, fields{
		"to_broadcaster_user_id": tStr, "to_broadcaster_user_login": tStr, "to_broadcaster_user_name": tStr,
		"moderator_user_id": tStr, "moderator_user_login": tStr, "moderator_user_name": tStr,
		"viewer_count": tNum, "started_at": tStr, "cooldown_ends_at": tStr, "target_cooldown_ends_at": tStr}),
	shape("channel.shoutout.receive", "another channel gave this one a shoutout", nil, fields{
		"from_broadcaster_user_id": tStr, "from_broadcaster_user_login": tStr, "from_broadcaster_user_name": tStr,
		"viewer_count": tNum, "started_at": tStr}),
	shape("channel.charity_campaign.donate", "a viewer gave to the charity campaign", user, fields{
		"id": tStr, "campaign_id": tStr, "charity_name": tStr, "charity_description": tStr, "charity_logo": tStr, "charity_website": tStr,
		"amount": tObj, "amount.value": tNum, "amount.decimal_places": tNum, "amount.currency": tStr}),
	shape("channel.goal.begin", "a creator goal started", goal, nil),
	shape("channel.goal.progress", "a creator goal moved on", goal, nil),
	shape("channel.goal.end", "a creator goal ended", goal, fields{"is_achieved": tBool, "ended_at": tStr}),
	shape("channel.update", "the stream title or category changed", nil, fields{
		"title": tStr, "language": tStr, "category_id": tStr, "category_name": tStr, "content_classification_labels": tAny}),
	shape(TypeRevocation, "Twitch revoked a subscription (data is the subscription)", noBroadcaster, fields{
		"id": tStr, "status": tStr, "type": tStr, "version": tStr, "cost": tNum, "condition": tObj, "transport": tObj, "created_at": tStr}),
}, examples, "testdata/*/want.json", "samples/*.json")

// examples are the recorded notifications and revocation, and the samples
// of the types with none.
//
//go:embed testdata/*.notification/want.json testdata/*.revocation/want.json samples/*.json
var examples embed.FS

// fields maps a data field to its kind.
type fields map[string]herald.Kind

const (
	tStr  = herald.KindString
	tNum  = herald.KindNumber
	tBool = herald.KindBool
	tObj  = herald.KindObject
	tAny  = herald.KindAny // a string, number or list that may be null
)

// Field sets shared by several types.
var (
	user = fields{"user_id": tStr, "user_login": tStr, "user_name": tStr}
	hype = fields{
		"id": tStr, "total": tNum, "progress": tNum, "goal": tNum, "level": tNum, "started_at": tStr, "type": tStr,
		"is_golden_kappa_train": tBool, "is_shared_train": tBool, "all_time_high_level": tNum, "all_time_high_total": tNum,
		"top_contributions": tAny, "last_contribution": tObj, "last_contribution.user_id": tStr,
		"last_contribution.user_login": tStr, "last_contribution.user_name": tStr,
		"last_contribution.type": tStr, "last_contribution.total": tNum, "shared_train_participants": tAny}
	poll = fields{"id": tStr, "title": tStr, "started_at": tStr, "choices": tAny, "choices.0.id": tStr, "choices.0.title": tStr,
		"choices.0.votes": tNum, "choices.0.channel_points_votes": tNum, "choices.0.bits_votes": tNum,
		"bits_voting": tObj, "channel_points_voting": tObj, "channel_points_voting.is_enabled": tBool,
		"channel_points_voting.amount_per_vote": tNum}
	prediction = fields{"id": tStr, "title": tStr, "started_at": tStr, "outcomes": tAny, "outcomes.0.id": tStr,
		"outcomes.0.title": tStr, "outcomes.0.color": tStr, "outcomes.0.users": tNum, "outcomes.0.channel_points": tNum,
		"outcomes.0.top_predictors": tAny}
	goal = fields{"id": tStr, "type": tStr, "description": tStr, "current_amount": tNum, "target_amount": tNum, "started_at": tStr}
	// noBroadcaster marks a type without the broadcaster_user_* trio.
	noBroadcaster = fields{}
)

// shape builds a Shape from field sets; every type but a revocation has
// the broadcaster's id, login and name.
func shape(typ, doc string, common fields, own fields) herald.Shape {
	f := map[string]herald.Kind{}
	if common == nil || len(common) > 0 {
		f["broadcaster_user_id"], f["broadcaster_user_login"], f["broadcaster_user_name"] = tStr, tStr, tStr
	}
	maps.Copy(f, common)
	maps.Copy(f, own)
	return herald.Shape{Type: typ, Doc: doc, Fields: f}
}
