# Attestation appraisal: turns verified evidence claims into an AR4SI trust
# vector, failing closed. The host has already checked every signature,
# chain and nonce binding natively (docs/evidence.md); this policy decides
# whether what signed the evidence is something the operator trusts, and
# whether what was measured matches the operator's reference values.
#
# Nothing is affirmed unless the operator said so in data: evidence types
# that are not required are still appraised when presented, but a
# configuration that requires nothing, an AK nobody listed, or a memory
# report signed by a key nobody trusts is a deny.
#
# Input: {"evidence": <verdict/evidence-claims/v1>, "session": {...}}
# (docs/attestation.md). Data (docs/attestation.md, "Appraisal data";
# examples/attestation/data.json):
#   {"required": ["tpm" | "sev-snp" | "memory-report", ...],
#    "tpm": {"trusted_aks": ["sha256:<hex>"],
#            "pcrs": {"sha256": {"<index>": "<hex>"}}},
#    "sev_snp": {"measurements": ["<hex>"], "allow_debug": false,
#                "allowed_vmpls": [0],
#                "min_tcb": {"bootloader": n, "tee": n, "snp": n, "microcode": n}},
#    "memory": {"allow_drift": false}}
#
# Trust vector (AR4SI): 2 affirming; 3 affirming but unreferenced (hardware
# genuine and anchored, no reference values configured for it); 32 warning
# (drift the operator allowed); 0 no claim; 96/97 contraindicated.
package verdict.attestation

import rego.v1

# The evidence types this policy appraises; any other is refused.
known_types := {"tpm", "sev-snp", "memory-report"}

hardware_types := {"tpm", "sev-snp"}

evidence := object.get(input, ["evidence", "evidence"], [])

presented := {e.type | some e in evidence}

tpms := [e | some e in evidence; e.type == "tpm"]

snps := [e | some e in evidence; e.type == "sev-snp"]

memories := [e | some e in evidence; e.type == "memory-report"]

required := {t | some t in object.get(data, "required", [])}

missing_required := {t | some t in required; not t in presented}

# --- Presence and configuration.
problems contains "no evidence was presented" if count(evidence) == 0

problems contains "the evidence is not bound to a challenge" if not is_string(object.get(input, ["evidence", "nonce"], null))

problems contains "the appraisal data requires no evidence type (data.required), so nothing can be affirmed" if count(required) == 0

problems contains sprintf("required evidence type %s was not presented", [t]) if some t in missing_required

problems contains sprintf("evidence type %s is not appraised by this policy", [t]) if {
	some t in presented
	not t in known_types
}

problems contains p if some p in identity_problems

problems contains p if some p in hardware_problems

problems contains p if some p in executable_problems

# --- TPM: the AK must be one the operator trusts; every reference PCR must
# be reported and equal.
trusted_aks := {ak | some ak in object.get(data, ["tpm", "trusted_aks"], [])}

untrusted_aks := {tpm.ak_fingerprint | some tpm in tpms; not tpm.ak_fingerprint in trusted_aks}

identity_problems contains sprintf("TPM AK %s is not trusted (data.tpm.trusted_aks)", [ak]) if some ak in untrusted_aks

# A clock that may have gone backwards (safe = NO) means the TPM lost
# state it had reported; its quotes cannot be ordered, so they are refused
# (as Keylime does).
hardware_problems contains sprintf("TPM clock of AK %s is not safe (it may have gone backwards)", [tpm.ak_fingerprint]) if {
	some tpm in tpms
	not object.get(tpm, ["clock", "safe"], false) == true
}

pcr_refs := object.get(data, ["tpm", "pcrs"], {})

hardware_problems contains sprintf("PCR %s:%s is %s, expected %s", [bank, index, got, want]) if {
	some tpm in tpms
	some bank, refs in pcr_refs
	some index, want in refs
	got := object.get(tpm.pcrs, [bank, index], "missing")
	got != want
}

# --- SEV-SNP: measurement, debug, VMPL, TCB floor. The report chains to
# AMD's root (checked by the host); these judge what it reports.
snp_measurements := object.get(data, ["sev_snp", "measurements"], [])

allowed_vmpls := object.get(data, ["sev_snp", "allowed_vmpls"], [0])

hardware_problems contains sprintf("SEV-SNP measurement %s is not a reference value", [snp.measurement]) if {
	some snp in snps
	count(snp_measurements) > 0
	not snp.measurement in snp_measurements
}

hardware_problems contains "SEV-SNP guest policy allows debugging" if {
	some snp in snps
	snp.policy.debug == true
	not object.get(data, ["sev_snp", "allow_debug"], false) == true
}

hardware_problems contains sprintf("SEV-SNP report is from VMPL %d, not one of the allowed %v", [snp.vmpl, allowed_vmpls]) if {
	some snp in snps
	not snp.vmpl in allowed_vmpls
}

hardware_problems contains sprintf("SEV-SNP reported TCB %s is %d, below %d", [part, got, floor]) if {
	some snp in snps
	some part, floor in object.get(data, ["sev_snp", "min_tcb"], {})
	got := object.get(snp.reported_tcb, part, -1)
	got < floor
}

# --- Memory reports: signed by a trusted attester (the host sets
# signer.pinned only for a configured key); every region matches its pin;
# no pinned region is missing. Drift is refused unless data allows it.
allow_drift := object.get(data, ["memory", "allow_drift"], false) == true

identity_problems contains sprintf("memory report %s is signed by key %s, which is not a trusted attester", [report.report_id, report.signer.kid]) if {
	some report in memories
	not report.signer.pinned == true
}

executable_problems contains sprintf("memory region %s drifted from its pinned digest", [region.id]) if {
	some report in memories
	some region in report.regions
	region.status == "drift"
	not allow_drift
}

executable_problems contains sprintf("memory region %s has no pinned digest", [region.id]) if {
	some report in memories
	some region in report.regions
	region.status == "unpinned"
}

executable_problems contains sprintf("pinned memory region %s is missing from report %s", [id, report.report_id]) if {
	some report in memories
	some id in object.get(report, "missing_regions", [])
}

executable_problems contains sprintf("memory region %s has unknown status %v", [region.id, region.status]) if {
	some report in memories
	some region in report.regions
	not region.status in {"match", "drift", "unpinned"}
}

# --- Trust vector.
instance_identity := 0 if {
	count(evidence) == 0
} else := 97 if {
	count(identity_problems) > 0
} else := 2

hardware := 97 if {
	count(hardware_problems) > 0
} else := 97 if {
	# A quote signed by a key nobody vouches for says nothing about hardware.
	count(untrusted_aks) > 0
} else := 97 if {
	some t in missing_required
	t in hardware_types
} else := 0 if {
	count(tpms) + count(snps) == 0
} else := 2 if {
	tpm_referenced
	snp_referenced
} else := 3

# Each kind of hardware evidence presented was held to reference values.
tpm_referenced if count(tpms) == 0

tpm_referenced if count(pcr_refs) > 0

snp_referenced if count(snps) == 0

snp_referenced if count(snp_measurements) > 0

executables := 96 if {
	count(executable_problems) > 0
} else := 96 if {
	"memory-report" in missing_required
} else := 96 if {
	some p in identity_problems
	startswith(p, "memory report")
} else := 0 if {
	count(memories) == 0
} else := 32 if {
	some report in memories
	some region in report.regions
	region.status == "drift"
} else := 2

decision := {
	"allow": count(problems) == 0,
	"reasons": problems,
	"trust_vector": {
		"instance_identity": instance_identity,
		"hardware": hardware,
		"executables": executables,
	},
	"annotations": {
		"tenant_id": object.get(input, ["session", "tenant_id"], ""),
		"evidence_types": concat(",", sort(presented)),
	},
}
