# Attestation appraisal: turns verified evidence claims into an AR4SI trust
# vector. The host has already checked every signature, chain and nonce
# binding natively (docs/evidence.md); this policy judges *what* was measured.
#
# Input: {"evidence": <verdict/evidence-claims/v1>, "session": {...}}
# (docs/attestation.md). Data (examples/attestation/data.json):
#   {"tpm": {"pcrs": {"sha256": {"<index>": "<hex>"}}},   reference PCR values
#    "sev_snp": {"measurements": ["<hex>"], "allow_debug": false,
#                "min_tcb": {"bootloader": n, "tee": n, "snp": n, "microcode": n}},
#    "memory": {"allow_drift": false}}
# Any part of data may be absent: then that kind of evidence is accepted on
# its cryptographic verification alone, and the hardware claim says so
# (3, "affirming but unreferenced", instead of 2).
package verdict.attestation

import rego.v1

evidence := object.get(input, ["evidence", "evidence"], [])

tpms := [e | some e in evidence; e.type == "tpm"]

snps := [e | some e in evidence; e.type == "sev-snp"]

memories := [e | some e in evidence; e.type == "memory-report"]

problems contains "no evidence was presented" if count(evidence) == 0

problems contains "the evidence is not bound to a challenge" if not is_string(object.get(input, ["evidence", "nonce"], null))

# --- TPM: every reference PCR must be reported and equal.
pcr_refs := object.get(data, ["tpm", "pcrs"], {})

problems contains sprintf("PCR %s:%s is %s, expected %s", [bank, index, got, want]) if {
	some tpm in tpms
	some bank, refs in pcr_refs
	some index, want in refs
	got := object.get(tpm.pcrs, [bank, index], "missing")
	got != want
}

# --- SEV-SNP: measurement, debug, TCB floor.
snp_measurements := object.get(data, ["sev_snp", "measurements"], [])

problems contains sprintf("SEV-SNP measurement %s is not a reference value", [snp.measurement]) if {
	some snp in snps
	count(snp_measurements) > 0
	not snp.measurement in snp_measurements
}

problems contains "SEV-SNP guest policy allows debugging" if {
	some snp in snps
	snp.policy.debug == true
	not object.get(data, ["sev_snp", "allow_debug"], false)
}

problems contains sprintf("SEV-SNP reported TCB %s is %d, below %d", [part, got, floor]) if {
	some snp in snps
	some part, floor in object.get(data, ["sev_snp", "min_tcb"], {})
	got := object.get(snp.reported_tcb, part, -1)
	got < floor
}

# --- Memory reports: drift is refused unless data allows it.
problems contains sprintf("memory region %s drifted from its pinned digest", [region.id]) if {
	some report in memories
	some region in report.regions
	region.status == "drift"
	not object.get(data, ["memory", "allow_drift"], false)
}

# --- Trust vector (AR4SI): 2 affirming, 3 affirming but unreferenced,
# 0 no claim, 96/97 contraindicated.
hardware := 0 if {
	count(tpms) + count(snps) == 0
} else := 97 if {
	some p in problems
	startswith(p, "SEV-SNP")
} else := 97 if {
	some p in problems
	startswith(p, "PCR")
} else := 2 if {
	tpm_referenced
	snp_referenced
} else := 3

# Each kind of hardware evidence presented was held to reference values.
tpm_referenced if count(tpms) == 0

tpm_referenced if count(pcr_refs) > 0

snp_referenced if count(snps) == 0

snp_referenced if count(snp_measurements) > 0

executables := 0 if {
	count(memories) == 0
} else := 96 if {
	some p in problems
	startswith(p, "memory region")
} else := 2 if {
	some report in memories
	every region in report.regions {
		region.status == "match"
	}
} else := 3

instance_identity := 2 if {
	count(evidence) > 0
} else := 0

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
		"evidence_types": concat(",", sort({e.type | some e in evidence})),
	},
}
