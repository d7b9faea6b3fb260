# Feedback acceptance. Twin of components/feedback (Rust): same claims, same
# reasons; tests/all/twins.rs runs both over one table of inputs.
# Claims schema: docs/claims.md ("feedback"). Data: {"operators": {op: tenant},
# "schema_versions": [..]}.
package verdict.feedback

default allow := false

allow if count(deny) == 0

deny contains "signature check did not pass" if not input.checks.signature == true

deny contains "replay check did not pass" if not input.checks.replay == true

deny contains "feedback tenant does not match the caller's tenant" if not tenant_is_callers

tenant_is_callers if {
	is_string(input.feedback.tenant_id)
	input.feedback.tenant_id == input.caller.tenant_id
}

execution_recorded if is_string(input.execution.tenant_id)

deny contains "no execution is recorded for execution_hash" if not execution_recorded

deny contains "execution belongs to another tenant" if {
	execution_recorded
	not input.execution.tenant_id == input.feedback.tenant_id
}

execution_operator := op if {
	op := input.execution.operator_id
	is_string(op)
} else := ""

operator_mapped if {
	t := data.operators[execution_operator]
	is_string(t)
	t == input.feedback.tenant_id
}

deny contains sprintf("operator %s is not mapped to the feedback's tenant", [execution_operator]) if {
	execution_recorded
	not operator_mapped
}

measurement_matches if {
	h := input.feedback.data.attestation_measurement_hash
	is_string(h)
	h == input.execution.attestation_measurement_hash
}

deny contains "attestation_measurement_hash differs from the one recorded for the execution" if {
	execution_recorded
	not measurement_matches
}

confidence_ok if {
	c := input.feedback.data.confidence
	is_number(c)
	c >= 0
	c <= 1
}

deny contains "confidence is not a number in [0, 1]" if not confidence_ok

ttl_ok if {
	t := input.feedback.data.ttl_seconds
	is_number(t)
	t >= 60
	t <= 86400
}

deny contains "ttl_seconds is not in [60, 86400]" if not ttl_ok

# data.schema_versions must be an array, as in the Rust twin: an object's
# values or a string do not count as a list of versions.
schema_known if {
	is_array(data.schema_versions)
	some v in data.schema_versions
	v == input.feedback.schema_version
}

deny contains "schema version is not known" if not schema_known
