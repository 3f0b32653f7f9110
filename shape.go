package herald

// Shape is what an ingress type promises about the events of one type it
// produces: the data fields and their JSON kinds. `herald check` and every
// reload compare rules with it, so a misspelt field or text glued to a
// number is found when the file loads instead of on the first real event.
type Shape struct {
	// Type is the Event.Type this shape describes ("channel.raid"); ""
	// means every type the ingress produces (trigger URLs name their own).
	Type string
	// Fields maps each data field to its kind; nested fields are dotted
	// ("reward.title"), list items use 0 ("choices.0.title").
	Fields map[string]Kind
	// Rest is the kind of any field not listed ("" when there are none:
	// the shape is closed); trigger URLs carry whatever parameters the
	// caller sends, all strings.
	Rest Kind
	// Doc says in a few words what the event is, for READMEs and
	// `herald route --sample`.
	Doc string
	// Example is the data of one real event of this type, exactly as the
	// ingress publishes it with its default options (a recording where
	// the ingress has one): what `herald route --sample` prints, so it
	// holds nothing the ingress would drop. Read-only; nil for none.
	Example map[string]any
}

// Kind is a JSON value kind.
type Kind string

// The JSON kinds a field may have.
const (
	KindString Kind = "string"
	KindNumber Kind = "number"
	KindBool   Kind = "boolean"
	KindObject Kind = "object"
	KindArray  Kind = "array"
	KindAny    Kind = "any" // null or any of the above
)
