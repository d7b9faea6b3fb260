//! `verdict attest`: collect evidence and write an evidence document.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use verdict_host::evidence::memory::region::{FileRange, ProcessRegion, RegionId, RegionSource};
use verdict_host::evidence::memory::report::{self, ReportRequest};
use verdict_host::evidence::memory::snapshot::SnapshotDigest;
use verdict_host::evidence::{EvidenceDocument, EvidenceEntry, EvidenceNonce};
use verdict_host::timestamp::Timestamp;

use crate::{Outcome, files};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Hash a file's byte range or a process's memory region (SHA3-256) and
    /// sign a memory-region report with ML-DSA-65.
    Memory(MemoryArgs),
    /// Quote PCRs with a TPM 2.0 attestation key.
    Tpm(TpmArgs),
    /// Request an SEV-SNP attestation report from /dev/sev-guest.
    SevSnp(SevSnpArgs),
}

#[derive(clap::Args)]
pub struct MemoryArgs {
    /// The file to measure (e.g. model weights).
    #[arg(long, conflicts_with = "pid", required_unless_present = "pid")]
    file: Option<PathBuf>,
    /// With --file: the first byte of the range.
    #[arg(long, default_value_t = 0, requires = "file")]
    offset: u64,
    /// With --file: the range's length (default: to the end of the file).
    #[arg(long, requires = "file")]
    length: Option<u64>,
    /// A live process to measure instead (needs ptrace access to it).
    #[arg(long, requires = "address")]
    pid: Option<u32>,
    /// With --pid: the region's start address (hex, 0x...).
    #[arg(long, value_parser = parse_address, requires = "pid")]
    address: Option<u64>,
    /// With --pid: the region's length (default: to the end of its mapping).
    #[arg(long, requires = "pid")]
    size: Option<u64>,
    /// The region's id in the report.
    #[arg(long)]
    region_id: RegionId,
    /// What the region holds.
    #[arg(long, default_value = "")]
    description: String,
    /// The workload the region belongs to.
    #[arg(long)]
    workload: String,
    /// The ML-DSA-65 signing key (PKCS#8 PEM, from `verdict keygen --alg ml-dsa-65`).
    #[arg(long)]
    key: PathBuf,
    /// The verifier's challenge (hex).
    #[arg(long)]
    nonce: EvidenceNonce,
    /// The digest the attester expects (informational; verifiers pin their own).
    #[arg(long)]
    expect: Option<SnapshotDigest>,
    /// Report validity in seconds.
    #[arg(long, default_value_t = report::DEFAULT_TTL.as_secs())]
    ttl: u64,
    /// Where to write the evidence document (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Re-attest every this many seconds until stopped (continuous mode).
    #[arg(long)]
    interval: Option<u64>,
    /// In continuous mode, stop after this many reports.
    #[arg(long, requires = "interval")]
    count: Option<u64>,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(clap::Args)]
pub struct TpmArgs {
    /// The TCTI to reach the TPM, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`.
    #[arg(long)]
    tcti: String,
    /// The verifier's challenge (hex); becomes the quote's qualifyingData.
    #[arg(long)]
    nonce: EvidenceNonce,
    /// The PCRs to quote.
    #[arg(long, default_value = "sha256:0,1,2,3,7")]
    pcrs: String,
    /// The attestation key's algorithm: ecdsa-p256 or rsa-2048.
    #[arg(long, default_value = "ecdsa-p256")]
    ak: String,
    /// Keep the AK at this persistent handle (e.g. 0x81010002), creating it
    /// there on first use, so every quote carries the same AK; without it
    /// each quote uses a fresh transient AK.
    #[arg(long, value_parser = parse_handle)]
    ak_handle: Option<u32>,
    /// Where to write the evidence document.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct SevSnpArgs {
    /// The verifier's challenge (hex, up to 64 bytes); zero-padded into report_data.
    #[arg(long)]
    nonce: EvidenceNonce,
    /// Where to write the evidence document.
    #[arg(long)]
    out: PathBuf,
}

fn parse_handle(text: &str) -> Result<u32, String> {
    let hex = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{text}` is not 0x-prefixed hex"))?;
    u32::from_str_radix(hex, 16).map_err(|e| format!("`{text}`: {e}"))
}

fn parse_address(text: &str) -> Result<u64, String> {
    let hex = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{text}` is not 0x-prefixed hex"))?;
    u64::from_str_radix(hex, 16).map_err(|e| format!("`{text}`: {e}"))
}

pub fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Memory(args) => memory(args),
        Command::Tpm(args) => tpm(args),
        Command::SevSnp(args) => sev_snp(args),
    }
}

fn memory(args: MemoryArgs) -> Result<Outcome> {
    let key = files::signing_key(&args.key)?;
    let mut written = 0u64;
    loop {
        // Opened anew each round: in continuous mode a file replaced (or
        // rewritten) between rounds is measured as it is now.
        let source = open_source(&args)?;
        let report = report::create(
            &ReportRequest {
                sources: &[source.as_ref()],
                workload_id: &args.workload,
                platform: &report::platform(),
                nonce: &args.nonce,
                expected: args
                    .expect
                    .map(|d| BTreeMap::from([(args.region_id.to_string(), d)]))
                    .unwrap_or_default(),
                ttl: Duration::from_secs(args.ttl),
                now: Timestamp::now(),
                threads: args.threads,
            },
            &key,
        )?;
        let document = EvidenceDocument {
            nonce: Some(args.nonce.clone()),
            evidence: vec![EvidenceEntry::memory_report(&report)],
        };
        write_atomically(&args.out, &document)?;
        written += 1;
        eprintln!(
            "wrote report {} ({} = {}) to {}",
            report.id,
            args.region_id,
            report.regions[0].sha3_256,
            args.out.display()
        );
        match (args.interval, args.count) {
            (None, _) => return Ok(Outcome::Ok),
            (Some(_), Some(count)) if written >= count => return Ok(Outcome::Ok),
            (Some(seconds), _) => std::thread::sleep(Duration::from_secs(seconds.max(1))),
        }
    }
}

fn open_source(args: &MemoryArgs) -> Result<Box<dyn RegionSource>> {
    let id = args.region_id.clone();
    let description = args.description.clone();
    if let Some(path) = &args.file {
        let source = FileRange::open(path, args.offset, args.length, id, description)?;
        return Ok(Box::new(source));
    }
    match (args.pid, args.address) {
        (Some(pid), Some(address)) => Ok(Box::new(ProcessRegion::open(
            pid,
            address,
            args.size,
            id,
            description,
        )?)),
        _ => bail!("give --file, or --pid with --address"),
    }
}

/// A document of one entry, claiming `nonce`.
fn single(nonce: &EvidenceNonce, entry: EvidenceEntry) -> EvidenceDocument {
    EvidenceDocument {
        nonce: Some(nonce.clone()),
        evidence: vec![entry],
    }
}

/// Writes `document` to a temporary file beside `out`, then renames it, so a
/// reader (or a continuous-mode consumer) never sees half a document.
fn write_atomically(out: &Path, document: &EvidenceDocument) -> Result<()> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    serde_json::to_writer_pretty(&mut tmp, &document.to_value())?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(feature = "tpm-collect")]
fn tpm(args: TpmArgs) -> Result<Outcome> {
    use verdict_host::evidence::tpm::{AkAlgorithm, PcrSelectionSpec, QuoteRequest, quote};
    let pcrs: PcrSelectionSpec = args.pcrs.parse()?;
    let ak_algorithm: AkAlgorithm = args.ak.parse()?;
    let entry = quote(&QuoteRequest {
        tcti: &args.tcti,
        nonce: args.nonce.as_bytes(),
        pcrs: &pcrs,
        ak_algorithm,
        persistent_ak: args.ak_handle,
    })?;
    write_atomically(&args.out, &single(&args.nonce, EvidenceEntry::Tpm(entry)))?;
    eprintln!("wrote a TPM quote to {}", args.out.display());
    Ok(Outcome::Ok)
}

#[cfg(not(feature = "tpm-collect"))]
fn tpm(_args: TpmArgs) -> Result<Outcome> {
    bail!("this verdict was built without TPM support (cargo feature `tpm-collect`)")
}

fn sev_snp(args: SevSnpArgs) -> Result<Outcome> {
    let mut report_data = [0u8; 64];
    report_data[..args.nonce.as_bytes().len()].copy_from_slice(args.nonce.as_bytes());
    let entry = verdict_host::evidence::sev_snp::collect(report_data)?;
    // Refuse to write evidence that cannot verify (no VCEK offered by the
    // host, or a report that does not bind the nonce).
    verdict_host::evidence::sev_snp::verify(&entry, Some(args.nonce.as_bytes()))
        .context("the report from /dev/sev-guest does not verify")?;
    write_atomically(
        &args.out,
        &single(&args.nonce, EvidenceEntry::SevSnp(entry)),
    )?;
    eprintln!("wrote an SEV-SNP report to {}", args.out.display());
    Ok(Outcome::Ok)
}
