# Tenant isolation. Twin of components/isolation (Rust): same claims, same
# reasons; tests/all/twins.rs runs both over one table of inputs.
# Claims schema: docs/claims.md ("isolation"). Data: {"operators": {op: tenant}}.
package verdict.isolation

default allow := false

allow if count(deny) == 0

tenant := t if {
	t := input.record.tenant_id
	is_string(t)
	t != ""
}

binding := b if {
	b := input.record.session_binding_hash
	is_string(b)
	b != ""
}

deny contains "record lacks a tenant" if not tenant

deny contains "record lacks a session binding" if not binding

deny contains "session binding is already bound to another tenant" if {
	bound := input.bindings[binding]
	is_string(bound)
	bound != tenant
}

operator := op if {
	op := input.record.operator_id
	is_string(op)
} else := ""

operator_mapped if {
	t := data.operators[operator]
	is_string(t)
	t == tenant
}

deny contains sprintf("operator %s is not mapped to the record's tenant", [operator]) if not operator_mapped
