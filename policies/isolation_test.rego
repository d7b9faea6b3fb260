# Tests of isolation.rego: `verdict test policies/` runs them in the sandbox;
# tests/all/rego_test.rs runs them in the suite.
package verdict.isolation_test

import data.verdict.isolation

operators := {"op-a1": "tenant-a", "op-b1": "tenant-b"}

accepted := {
	"record": {"tenant_id": "tenant-a", "operator_id": "op-a1", "session_binding_hash": "b1"},
	"bindings": {"b1": "tenant-a"},
}

test_accepts_a_record_of_a_mapped_operator if {
	isolation.allow with input as accepted with data.operators as operators
}

test_accepts_a_binding_seen_for_the_first_time if {
	isolation.allow with input as json.remove(accepted, ["bindings"]) with data.operators as operators
}

denies(claims, reason) if {
	reason in isolation.deny with input as claims with data.operators as operators
	not isolation.allow with input as claims with data.operators as operators
}

test_denies_a_record_without_a_tenant if {
	denies(json.remove(accepted, ["record/tenant_id"]), "record lacks a tenant")
	denies(json.patch(accepted, [{"op": "replace", "path": "/record/tenant_id", "value": ""}]), "record lacks a tenant")
}

test_denies_a_record_without_a_session_binding if {
	denies(json.remove(accepted, ["record/session_binding_hash"]), "record lacks a session binding")
}

test_denies_a_binding_held_by_another_tenant if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/bindings/b1", "value": "tenant-b"}]), "session binding is already bound to another tenant")
}

test_denies_an_operator_of_another_tenant if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/record/operator_id", "value": "op-b1"}]), "operator op-b1 is not mapped to the record's tenant")
}

test_denies_a_record_without_an_operator if {
	denies(json.remove(accepted, ["record/operator_id"]), "operator  is not mapped to the record's tenant")
}
