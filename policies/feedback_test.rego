# Tests of feedback.rego: `verdict test policies/` runs them in the sandbox;
# tests/all/rego_test.rs runs them in the suite.
package verdict.feedback_test

import data.verdict.feedback

operators := {"op-a1": "tenant-a", "op-b1": "tenant-b"}

accepted := {
	"checks": {"signature": true, "replay": true},
	"caller": {"tenant_id": "tenant-a"},
	"execution": {"tenant_id": "tenant-a", "operator_id": "op-a1", "attestation_measurement_hash": "m1"},
	"feedback": {
		"tenant_id": "tenant-a",
		"schema_version": "1.0",
		"data": {"attestation_measurement_hash": "m1", "confidence": 0.9, "ttl_seconds": 3600},
	},
}

test_accepts_consistent_feedback if {
	feedback.allow with input as accepted
		with data.operators as operators
		with data.schema_versions as ["1.0"]
	count(feedback.deny) == 0 with input as accepted
		with data.operators as operators
		with data.schema_versions as ["1.0"]
}

denies(claims, reason) if {
	reason in feedback.deny with input as claims
		with data.operators as operators
		with data.schema_versions as ["1.0"]
	not feedback.allow with input as claims
		with data.operators as operators
		with data.schema_versions as ["1.0"]
}

test_denies_a_failed_signature_check if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/checks/signature", "value": false}]), "signature check did not pass")
}

test_denies_a_missing_replay_check if {
	denies(json.remove(accepted, ["checks/replay"]), "replay check did not pass")
}

test_denies_feedback_for_another_tenant if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/caller/tenant_id", "value": "tenant-b"}]), "feedback tenant does not match the caller's tenant")
}

test_denies_feedback_without_a_recorded_execution if {
	denies(json.remove(accepted, ["execution"]), "no execution is recorded for execution_hash")
}

test_denies_an_execution_of_another_tenant if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/execution/tenant_id", "value": "tenant-b"}]), "execution belongs to another tenant")
}

test_denies_an_unmapped_operator if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/execution/operator_id", "value": "op-b1"}]), "operator op-b1 is not mapped to the feedback's tenant")
}

test_denies_a_different_measurement if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/data/attestation_measurement_hash", "value": "m2"}]), "attestation_measurement_hash differs from the one recorded for the execution")
}

test_denies_confidence_out_of_range if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/data/confidence", "value": 1.5}]), "confidence is not a number in [0, 1]")
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/data/confidence", "value": "0.5"}]), "confidence is not a number in [0, 1]")
}

test_denies_ttl_out_of_range if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/data/ttl_seconds", "value": 59}]), "ttl_seconds is not in [60, 86400]")
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/data/ttl_seconds", "value": 86401}]), "ttl_seconds is not in [60, 86400]")
}

test_denies_an_unknown_schema_version if {
	denies(json.patch(accepted, [{"op": "replace", "path": "/feedback/schema_version", "value": "2.0"}]), "schema version is not known")
}

test_schema_versions_must_be_an_array if {
	"schema version is not known" in feedback.deny with input as accepted
		with data.operators as operators
		with data.schema_versions as {"v": "1.0"}
}
