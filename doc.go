// Package herald holds the domain types that every other package of the
// server shares: the normalised [Event] an ingress produces, the [Delivery]
// the router hands to egress, and the [Publisher] contract between them.
//
// It is the leaf of the import graph: it imports only the standard library,
// and everything else imports it. Keep it to types and tiny helpers; logic
// belongs in router, rules, ingress or egress.
package herald
